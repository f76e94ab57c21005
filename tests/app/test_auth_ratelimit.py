"""Rate limits on login, register and refresh: per client IP and per email, 429 with
Retry-After; counters shared through Redis when REDIS_URL is set."""

import redis

from auth_service.app import create_app

from ..auth_api import captain_body, user_body
from ..conftest import make_config

LIMITS = {"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute",
          "REGISTER_RATE_LIMIT": "2 per minute", "REFRESH_RATE_LIMIT": "2 per minute"}


def limited_app(mongo_uri, **overrides):
    return create_app(make_config(mongo_uri, **{**LIMITS, **overrides}))


def from_ip(client, ip, path, body):
    return client.post(path, json=body, environ_base={"REMOTE_ADDR": ip})


def assert_limited(response):
    assert response.status_code == 429
    assert response.get_json() == {"message": "Too many requests, try again later"}
    assert int(response.headers["Retry-After"]) > 0


def test_login_is_limited_per_email_across_ips(mongo_uri, db):
    client = limited_app(mongo_uri).test_client()
    body = {"email": "Target@example.com", "password": "guess-123"}
    for n in range(3):
        assert from_ip(client, f"10.0.0.{n}", "/users/login", body).status_code == 401
    # Same email, differently cased, from a fresh IP: still the same counter.
    assert_limited(from_ip(client, "10.0.0.99", "/users/login",
                           {**body, "email": "target@EXAMPLE.com"}))
    other = {"email": "other@example.com", "password": "guess-123"}
    assert from_ip(client, "10.0.0.98", "/users/login", other).status_code == 401


def test_login_is_limited_per_ip_across_emails(mongo_uri, db):
    client = limited_app(mongo_uri).test_client()
    for n in range(3):
        body = {"email": f"spray{n}@example.com", "password": "guess-123"}
        assert from_ip(client, "10.1.1.1", "/users/login", body).status_code == 401
    assert_limited(from_ip(client, "10.1.1.1", "/users/login",
                           {"email": "spray9@example.com", "password": "guess-123"}))
    # Captain login is a separate route with its own counters.
    assert from_ip(client, "10.1.1.1", "/captains/login", {
        "email": "spray9@example.com", "password": "guess-123"}).status_code == 401
    assert from_ip(client, "10.1.1.2", "/users/login", {
        "email": "spray9@example.com", "password": "guess-123"}).status_code == 401


def test_register_and_refresh_are_limited(mongo_uri, db):
    client = limited_app(mongo_uri).test_client()
    for _ in range(2):
        assert from_ip(client, "10.2.0.1", "/users/register", user_body()).status_code == 201
    assert_limited(from_ip(client, "10.2.0.1", "/users/register", user_body()))
    assert from_ip(client, "10.2.0.2", "/captains/register",
                   captain_body()).status_code == 201
    for _ in range(2):
        assert from_ip(client, "10.2.0.3", "/auth/refresh",
                       {"refreshToken": "nope"}).status_code == 401
    assert_limited(from_ip(client, "10.2.0.3", "/auth/refresh", {"refreshToken": "nope"}))


def test_limits_are_off_when_disabled(auth_client):
    body = {"email": "x@example.com", "password": "guess-123"}
    for _ in range(15):
        assert auth_client.post("/users/login", json=body).status_code == 401


def test_counters_are_shared_through_redis(mongo_uri, db, redis_url):
    """Two apps with the same REDIS_URL (two workers, as far as their limiters know:
    each has its own storage client) share one budget per email."""
    one = limited_app(mongo_uri, REDIS_URL=redis_url).test_client()
    other = limited_app(mongo_uri, REDIS_URL=redis_url).test_client()
    body = {"email": "shared@example.com", "password": "guess-123"}
    assert from_ip(one, "10.3.0.1", "/users/login", body).status_code == 401
    assert from_ip(other, "10.3.0.2", "/users/login", body).status_code == 401
    assert from_ip(one, "10.3.0.3", "/users/login", body).status_code == 401
    response = from_ip(one, "10.3.0.4", "/users/login", body)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert_limited(from_ip(other, "10.3.0.5", "/users/login", body))
    assert any(b"email:shared@example.com" in key
               for key in redis.Redis.from_url(redis_url).keys("*"))


def test_app_wide_limits_still_apply_when_configured(mongo_uri, db):
    """Without app-wide limits, flask-limiter's before-request check is skipped (each
    limit is a route's decorator); a default limit, once configured, counts again on
    every route, as do the decorators' own limits."""
    client = limited_app(mongo_uri, RATELIMIT_DEFAULT="2 per minute").test_client()
    for _ in range(2):
        assert client.get("/healthz").status_code == 200
    assert_limited(client.get("/healthz"))
    unlimited = limited_app(mongo_uri).test_client()
    for _ in range(5):
        assert unlimited.get("/healthz").status_code == 200
    body = {"email": "Target@example.com", "password": "guess-123"}
    for _ in range(3):
        assert from_ip(unlimited, "10.3.0.1", "/users/login", body).status_code == 401
    assert_limited(from_ip(unlimited, "10.3.0.1", "/users/login", body))
