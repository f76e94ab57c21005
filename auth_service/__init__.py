"""The auth service: accounts (users and captains), tokens, profiles, activity, media."""


def create_app(*args, **kwargs):
    """The app factory (auth_service.app.create_app), found by `flask --app auth_service`.
    Imported on call: `python -m auth_service` must monkey-patch gevent before Flask and
    pymongo are imported."""
    from auth_service.app import create_app as factory

    return factory(*args, **kwargs)
