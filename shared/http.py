"""What every HTTP app of the project has in common, applied by each app factory:
config, JSON-only bodies (415), error handlers, Mongo, and the health routes."""
import logging

from flask import Blueprint, Flask, request

from shared.cors import enable_cors
from shared.db import mongo
from shared.errors import DB_DOWN_ERRORS, ApiError, error_response, register_error_handlers

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz():
    """Liveness: the process is up and serving."""
    return {"status": "ok"}


@health.get("/readyz")
def readyz():
    """Readiness: the database answers a ping (503 otherwise)."""
    try:
        mongo.ping()
    except DB_DOWN_ERRORS:
        return error_response(503)
    return {"status": "ready"}


def require_json():
    """415 for a request body that is not JSON."""
    if request.method not in BODY_METHODS or request.routing_exception is not None:
        return
    has_body = request.content_length or request.headers.get("Transfer-Encoding")
    if has_body and not request.is_json:
        raise ApiError(415)


def make_app(name, config):
    """A Flask app configured from `config` with the shared JSON and error rules."""
    config.check()
    app = Flask(name)
    app.config.from_object(config)
    app.json.sort_keys = False
    logging.basicConfig(level=app.config["LOG_LEVEL"])
    register_error_handlers(app)
    app.before_request(require_json)
    enable_cors(app)
    mongo.init_app(app)
    app.register_blueprint(health)
    return app
