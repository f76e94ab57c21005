"""The auth service's app factory."""
from shared.config import Config
from shared.http import make_app
from shared.ratelimit import init_ratelimit
from shared.tokens import init_tokens


def create_app(config=Config):
    app = make_app("auth_service", config)
    init_tokens(app)
    init_ratelimit(app)

    from auth_service import auth, captains, media, users

    app.register_blueprint(users.bp)
    app.register_blueprint(captains.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(media.bp)
    return app
