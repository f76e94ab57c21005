"""The realtime service: authenticated Socket.IO connections, presence, chat and rides."""


def create_app(*args, **kwargs):
    """The app factory (realtime_service.app.create_app), found by `flask --app
    realtime_service`. Imported on call: `python -m realtime_service` must monkey-patch
    gevent before Flask and pymongo are imported."""
    from realtime_service.app import create_app as factory

    return factory(*args, **kwargs)
