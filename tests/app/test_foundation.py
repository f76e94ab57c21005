"""Config, the error format, request rules, health and readiness."""
import time

import pytest
from flask import request
from marshmallow import fields, validate

from devserver.processes import EmbeddedMongo
from shared.config import Config
from shared.extensions import mongo
from shared.http import make_app
from shared.validation import Schema, image_body, json_body, load, object_id
from tests.harness import free_port

from ..conftest import config_from_env, make_config


class Name(Schema):
    firstname = fields.String(
        required=True,
        validate=validate.Length(min=3, error="First name must be at least 3 characters long"),
    )


class Person(Schema):
    fullname = fields.Nested(Name, required=True)
    email = fields.Email(required=True, error_messages={"invalid": "Invalid Email"})
    age = fields.Integer(validate=validate.Range(min=0))


def demo_app(config):
    app = make_app("demo", config)

    @app.post("/people")
    def create_person():
        return load(Person(), json_body()), 201

    @app.post("/pictures")
    @image_body
    def upload():
        return {"size": len(request.get_data())}

    @app.get("/people/<person_id>")
    def get_person(person_id):
        oid = object_id(person_id)
        found = mongo.db.people.find_one({"_id": oid})
        return ({"found": True}, 200) if found else ({"message": "Person not found"}, 404)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail mongodb://user:pw@host")

    return app


@pytest.fixture
def client(config, db):
    return demo_app(config).test_client()


def test_validation_reports_every_field_with_dotted_params(client):
    response = client.post("/people", json={"fullname": {"firstname": "ab"}, "email": "nope",
                                            "age": "x"})
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert {e["param"] for e in errors} == {"fullname.firstname", "email", "age"}
    assert {"msg": "First name must be at least 3 characters long",
            "param": "fullname.firstname", "location": "body"} in errors
    assert all(e["location"] == "body" for e in errors)


def test_validation_missing_nested_object_and_non_object_body(client):
    response = client.post("/people", json={})
    assert {e["param"] for e in response.get_json()["errors"]} == {"fullname", "email"}
    response = client.post("/people", json=["a", "list"])
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["msg"] == "Expected a JSON object"


def test_valid_body_passes_and_unknown_fields_are_ignored(client):
    response = client.post("/people", json={"fullname": {"firstname": "Alice"},
                                            "email": "a@example.com", "extra": 1})
    assert response.status_code == 201
    assert response.get_json() == {"fullname": {"firstname": "Alice"}, "email": "a@example.com"}


def test_operator_injection_is_a_validation_error(client):
    response = client.post("/people", json={"fullname": {"firstname": {"$ne": None}},
                                            "email": {"$gt": ""}})
    assert response.status_code == 400


def test_malformed_json_is_400(client):
    response = client.post("/people", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"message": "Malformed JSON body"}


def test_non_json_body_is_415(client):
    response = client.post("/people", data="a=b", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "message" in response.get_json()


def test_body_over_limit_is_413_and_image_routes_allow_more(client):
    big = b'"' + b"x" * (Config.MAX_CONTENT_LENGTH + 10) + b'"'
    response = client.post("/people", data=big, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {"message": "Request body too large"}
    assert client.post("/pictures", data=big, content_type="application/json").status_code == 200
    huge = b"x" * (Config.MAX_IMAGE_BODY_LENGTH + 1)
    assert client.post("/pictures", data=huge,
                       content_type="application/json").status_code == 413


def test_unknown_route_404_and_wrong_method_405(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.get_json() == {"message": "Not found"}
    response = client.delete("/people")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.get_json() == {"message": "Method not allowed"}


def test_invalid_object_id_is_400_and_unknown_is_404(client):
    response = client.get("/people/not-an-id")
    assert response.status_code == 400
    assert response.get_json()["errors"][0] == {"msg": "Invalid id", "param": "id",
                                                "location": "params"}
    assert client.get("/people/" + "a" * 24).status_code == 404


def test_unhandled_error_is_500_without_leaking(client):
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.get_json() == {"message": "Internal server error"}
    assert b"secret" not in response.data and b"Traceback" not in response.data


def test_database_down_is_503_fast():
    dead = f"mongodb://127.0.0.1:{free_port()}/x?directConnection=true&retryWrites=false"
    app = demo_app(make_config(dead, MONGO_TIMEOUT_MS=500))
    client = app.test_client()
    started = time.monotonic()
    response = client.get("/people/" + "a" * 24)
    assert response.status_code == 503
    assert response.get_json() == {"message": "Database unavailable"}
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200
    assert time.monotonic() - started < 5


@pytest.mark.slow  # a database process of its own, killed and restarted
def test_readyz_follows_the_database_process(tmp_path):
    server = EmbeddedMongo(free_port(), storage=tmp_path / "data").start()
    try:
        client = demo_app(make_config(server.uri("ready"), MONGO_TIMEOUT_MS=500)).test_client()
        assert client.get("/readyz").status_code == 200
        server.kill()
        assert client.get("/readyz").status_code == 503
        server.start()
        deadline = time.monotonic() + 15
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "readyz did not recover"
            time.sleep(0.2)
    finally:
        server.stop()


def config_values(env, *names):
    """Config attributes as a process with only `env` set reads them at import."""
    config = config_from_env({"PATH": "/usr/bin:/bin", **env})
    return [getattr(config, name) for name in names]


def test_config_reads_the_environment():
    env = {"AUTH_PORT": "6001", "CORS_ORIGINS": "http://a.test, http://b.test",
           "DISPATCH_RADIUS_KM": "4.5"}
    values = config_values(env, "AUTH_PORT", "CORS_ORIGINS", "DISPATCH_RADIUS_KM")
    assert values == [6001, ["http://a.test", "http://b.test"], 4.5]


def test_config_defaults_are_safe_for_local_use():
    uri, port, host = config_values({}, "MONGO_URI", "REALTIME_PORT", "HOST")
    assert uri.startswith("mongodb://127.0.0.1:27018/ridewire") and "retryWrites=false" in uri
    assert (port, host) == (5002, "127.0.0.1")


def test_production_refuses_default_secret_and_wildcard_cors(mongo_uri):
    production = make_config(mongo_uri, APP_ENV="production")
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY"):
        make_app("demo", production)
    wildcard = make_config(mongo_uri, APP_ENV="production", JWT_SECRET_KEY="k" * 40,
                           CORS_ORIGINS=["*"])
    with pytest.raises(RuntimeError, match="CORS_ORIGINS"):
        make_app("demo", wildcard)
    make_app("demo", make_config(mongo_uri, APP_ENV="production", JWT_SECRET_KEY="k" * 40))


def test_indexes_are_created_at_start_up(auth_app, db):
    assert "jti_1" in db.blacklisted_tokens.index_information()
    ttl = db.blacklisted_tokens.index_information()["expiresAt_1"]
    assert ttl["expireAfterSeconds"] == 0
