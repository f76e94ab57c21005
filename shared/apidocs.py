"""`/openapi.json` and `/docs` on every service.

The page is Swagger UI from the `flask-swagger-ui` wheel (its `dist/` files are
served from here), so nothing is fetched from the internet at run time. Every URL
in the page is relative, so it also works behind a gateway that adds a prefix.
"""
import os

import flask_swagger_ui
from flask import Blueprint, current_app, jsonify, send_from_directory
from werkzeug.exceptions import NotFound

from shared.openapi import build_spec

SWAGGER_DIST = os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")
ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png"}

bp = Blueprint("apidocs", __name__)

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="icon" type="image/png" href="docs/favicon-32x32.png">
  <link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout"
    }});
  </script>
</body>
</html>
"""


def spec_for(app):
    """The app's spec, generated once (routes do not change after start-up)."""
    spec = app.extensions.get("openapi_spec")
    if spec is None:
        spec = app.extensions["openapi_spec"] = build_spec(app)
    return spec


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI 3.1 document of this service."""
    return jsonify(spec_for(current_app._get_current_object()))


@bp.get("/docs")
def docs():
    """Interactive API documentation (Swagger UI) rendering `/openapi.json`."""
    title = spec_for(current_app._get_current_object())["info"]["title"]
    return PAGE.format(title=title), 200, {"Content-Type": "text/html; charset=utf-8"}


@bp.get("/docs/<path:filename>")
def docs_asset(filename):
    """A static file of the documentation page."""
    if filename not in ASSETS:
        raise NotFound()
    return send_from_directory(SWAGGER_DIST, filename, max_age=86400)
