"""The auth service's app factory."""
from auth_service import accounts, auth, compat_chat, media
from shared.cli import register_cli
from shared.config import Config
from shared.http import make_app
from shared.ratelimit import init_ratelimit
from shared.tokens import init_tokens


def create_app(config=Config):
    app = make_app("auth_service", config)
    init_tokens(app)
    init_ratelimit(app)
    api = app.extensions["api"]
    for blueprint in (accounts.users, accounts.captains, auth.bp, media.bp):
        api.register_blueprint(blueprint)
    if app.config["COMPAT_ROUTES"]:
        api.register_blueprint(compat_chat.bp)
    register_cli(app)
    return app
