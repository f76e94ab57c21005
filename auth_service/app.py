"""The auth service's app factory: the accounts and media domains over HTTP."""
from importlib import import_module

from shared.accounts import (
    accounts,
    activity,
    blacklist,
    known_addresses,
    refresh_tokens,
)
from shared.accounts.cli import seed_demo_command
from shared.accounts.routes import captains, users
from shared.accounts.session_routes import session_routes
from shared.accounts.tokens import init_tokens
from shared.cli import register_cli
from shared.config import Config
from shared.http import make_app
from shared.media.routes import media_routes
from shared.ratelimit import init_ratelimit

MODELS = (accounts, activity, blacklist, known_addresses, refresh_tokens)


def create_app(config=Config):
    app = make_app("auth_service", config, MODELS)
    init_tokens(app)
    init_ratelimit(app)
    api = app.extensions["api"]
    for blueprint in (users, captains, session_routes, media_routes):
        api.register_blueprint(blueprint)
    if app.config["COMPAT_ROUTES"]:
        import_module("compat").init_auth(app)
    register_cli(app, seed_demo_command)
    return app
