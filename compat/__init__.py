"""The tutorial frontends' contracts: the Uber clone (`compat.uber`) and QuickChat
(`compat.quickchat`). The only code that knows them; the app factories load it when
COMPAT_ROUTES is on, and it plugs into the core through the hooks named here."""
from shared.accounts.vehicles import add_alias


def init_auth(app):
    """The auth service's compatible routes."""
    from compat.quickchat.auth_routes import quickchat_auth

    add_alias("moto", "motorcycle")  # the Uber clone's name for a motorcycle
    app.extensions["api"].register_blueprint(quickchat_auth)


def init_realtime(app):
    """The realtime service's compatible routes."""
    from compat.quickchat.chat_routes import quickchat_chat
    from compat.uber.map_routes import uber_maps
    from compat.uber.ride_routes import uber_routes

    add_alias("moto", "motorcycle")
    for blueprint in (quickchat_chat, uber_routes, uber_maps):
        app.extensions["api"].register_blueprint(blueprint)
