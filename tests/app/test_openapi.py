"""The generated OpenAPI document and the /docs page."""
import pytest
from openapi_spec_validator import validate


def build_spec(app):
    """The app's generated OpenAPI document, as /openapi.json serves it."""
    return app.extensions["api"].spec.to_dict()

SKIPPED = {"HEAD", "OPTIONS"}

# Every route of the API (docs/api.md), by service (paths in OpenAPI form, ids as the
# services name them).
AUTH_ROUTES = [
    (method, f"/{role}{path}")
    for role in ("users", "captains")
    for method, path in [
        ("post", "/register"), ("post", "/login"), ("get", "/profile"), ("patch", "/profile"),
        ("post", "/logout"), ("get", "/logout"), ("post", "/logout-all"), ("put", "/password"),
        ("get", "/activity"), ("post", "/activity"),
    ]
] + [("patch", "/captains/status"), ("post", "/auth/refresh"), ("get", "/media/{media_id}")]
REALTIME_ROUTES = [
    ("get", "/messages/users"), ("get", "/messages/sync"), ("get", "/messages/{other_id}"),
    ("post", "/messages/{other_id}/seen"), ("post", "/messages/delivered"),
    ("post", "/messages/send/{other_id}"),
    ("get", "/rides/fare"), ("post", "/rides"), ("get", "/rides"), ("get", "/rides/{ride_id}"),
    ("post", "/rides/{ride_id}/accept"), ("post", "/rides/{ride_id}/start"),
    ("post", "/rides/{ride_id}/end"), ("post", "/rides/{ride_id}/cancel"),
    ("get", "/calls/ice-servers"), ("get", "/calls/history"),
]
BOTH = [("get", "/healthz"), ("get", "/readyz"), ("get", "/openapi.json"), ("get", "/docs")]


def openapi_path(rule):
    path = rule.rule
    for argument in rule.arguments:
        path = path.replace(f"<{argument}>", f"{{{argument}}}")
        for converter in ("int", "string", "path", "float"):
            path = path.replace(f"<{converter}:{argument}>", f"{{{argument}}}")
    return path


@pytest.fixture(params=["auth", "realtime"])
def app(request, config, db):
    if request.param == "auth":
        from auth_service.app import create_app
    else:
        from realtime_service.app import create_app
    return create_app(config)


def test_spec_is_valid_openapi_3_1(app):
    spec = build_spec(app)
    assert spec["openapi"] == "3.1.0"
    validate(spec)


def test_every_registered_route_is_in_the_spec(app):
    paths = build_spec(app)["paths"]
    missing = [
        (method, rule.rule)
        for rule in app.url_map.iter_rules() if rule.endpoint.rpartition(".")[2] != "static"
        for method in rule.methods - SKIPPED
        if method.lower() not in paths.get(openapi_path(rule), {})
    ]
    assert missing == []


@pytest.mark.parametrize("service, routes", [("auth", AUTH_ROUTES), ("realtime", REALTIME_ROUTES)])
def test_every_api_md_route_is_documented(service, routes, config, db):
    if service == "auth":
        from auth_service.app import create_app
    else:
        from realtime_service.app import create_app
    paths = create_app(config).test_client().get("/openapi.json").get_json()["paths"]
    documented = {(method, path) for path, operations in paths.items() for method in operations}
    assert set(routes + BOTH) - documented == set()


def test_error_codes_follow_the_route_shape(auth_app):
    paths = build_spec(auth_app)["paths"]
    register = paths["/users/register"]["post"]
    assert register["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert {"201", "400", "409", "413", "415", "500", "503"} <= set(register["responses"])
    profile = paths["/users/profile"]["get"]
    assert {"200", "401", "403"} <= set(profile["responses"])
    assert profile["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]
    media = paths["/media/{media_id}"]["get"]
    assert {"400", "404"} <= set(media["responses"])
    assert "security" not in paths["/healthz"]["get"]
    assert "503" not in paths["/healthz"]["get"]["responses"]


def test_error_shapes_are_components(auth_app):
    spec = build_spec(auth_app)
    schemas = spec["components"]["schemas"]
    assert schemas["Error"]["required"] == ["message"]
    item = schemas["ValidationErrors"]["properties"]["errors"]["items"]
    item = schemas[item["$ref"].rpartition("/")[2]]
    assert sorted(item["required"]) == ["location", "msg", "param"]
    assert "Retry-After" in spec["components"]["responses"]["TOO_MANY_REQUESTS"]["headers"]


def test_realtime_spec_documents_the_socketio_endpoint(realtime_app):
    socket = build_spec(realtime_app)["paths"]["/socket.io/"]["get"]
    assert "newMessage" in socket["description"]
    assert "session-revoked" in socket["description"]


def test_openapi_json_and_docs_are_served(auth_client):
    spec = auth_client.get("/openapi.json")
    assert spec.status_code == 200
    assert spec.get_json()["info"]["title"] == "Ridewire Auth service"
    page = auth_client.get("/docs")
    assert page.status_code == 200
    assert page.content_type.startswith("text/html")
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html  # nothing from the internet
    asset = auth_client.get("/docs/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert "javascript" in asset.content_type
    assert auth_client.get("/docs/../pyproject.toml").status_code == 404
    assert auth_client.get("/docs/index.html").status_code == 404
