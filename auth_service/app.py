from shared.config import Config
from shared.http import make_app
from shared.tokens import init_tokens


def create_app(config=Config):
    app = make_app("auth_service", config)
    init_tokens(app)
    return app
