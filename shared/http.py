"""What every HTTP app of the project has in common, applied by each app factory:
config, JSON logs with request ids, JSON-only bodies (415), no cookie-authenticated
state change from another site (shared.csrf), error handlers, Mongo,
the health routes and the API docs (/openapi.json, /docs)."""
from flask import Flask, request
from marshmallow import fields
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.apidocs import bp as apidocs
from shared.cors import enable_cors
from shared.csrf import BODY_METHODS, refuse_cross_site
from shared.errors import DB_DOWN_ERRORS, ApiError, error_response, register_error_handlers
from shared.extensions import mongo
from shared.jsonio import OrjsonProvider
from shared.logging import configure_logging, log_request
from shared.schemas import Schema
from shared.web import Blueprint, init_api, without_database

health = Blueprint("health", __name__, description="Liveness and readiness probes")


class Health(Schema):
    status = fields.String()


@health.get("/healthz")
@health.response(200, Health)
@without_database
def healthz():
    """Liveness: the process is up and serving."""
    return {"status": "ok"}


@health.get("/readyz")
@health.response(200, Health)
def readyz():
    """Readiness: the database answers a ping and has its indexes (503 otherwise)."""
    try:
        mongo.ready()
    except DB_DOWN_ERRORS:
        return error_response(503)
    return {"status": "ready"}


def require_json():
    """415 for a request body that is not JSON, an empty one included when it states
    another content type (an empty form post is no JSON either); a request without
    a body and without a content type (a frontend's bodiless POST or PUT) passes."""
    if request.method not in BODY_METHODS or request.routing_exception is not None:
        return
    has_body = request.content_length or request.headers.get("Transfer-Encoding")
    if (has_body or request.mimetype) and not request.is_json:
        raise ApiError(415)


class LoggedFlask(Flask):
    """A Flask app whose outermost WSGI layers are `log_request` (request id, access log)
    and, behind `proxy_hops` proxies, ProxyFix (the client address of rate limits and
    logs from X-Forwarded-For), so that Socket.IO requests, which Flask-SocketIO's
    middleware answers before Flask's own hooks run, are logged and addressed alike.
    JSON goes through orjson."""

    json_provider_class = OrjsonProvider
    proxy_hops = 0

    def __call__(self, environ, start_response):
        app = self.wsgi_app
        if self.proxy_hops:
            app = ProxyFix(app, x_for=self.proxy_hops, x_proto=self.proxy_hops)
        return log_request(app, environ, start_response)


def make_app(name, config, models=()):
    """A Flask app configured from `config` with the shared JSON and error rules, on the
    database collections of the model modules `models`."""
    config.check()
    app = LoggedFlask(name)
    app.config.from_object(config)
    configure_logging(app.config["LOG_LEVEL"])
    # Behind the gateway: the client address (rate limits, logs) is in X-Forwarded-For.
    app.proxy_hops = app.config.get("TRUSTED_PROXY_HOPS", 0)
    api = init_api(app)
    register_error_handlers(app)
    app.before_request(require_json)
    app.before_request(refuse_cross_site)
    enable_cors(app)
    mongo.init_app(app, models)
    api.register_blueprint(health)
    api.register_blueprint(apidocs)
    return app
