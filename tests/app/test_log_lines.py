"""The JSON log lines: the same JSON whichever encoder wrote them, and one access line
per request with what it always carried."""
import io
import json
import logging
from datetime import UTC, datetime

import pytest

from shared.logging import JsonFormatter, access_log, dumps, log_request


@pytest.mark.parametrize("entry", [
    {"message": "GET /users/profile", "status": 200, "duration_ms": 1.25, "none": None},
    {"message": "naïve café", "who": "Zoë"},  # non-ASCII: escaped as the standard library does
    {"big": 2 ** 70},  # past 64 bits
    {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},  # through str(), as before
    {"nested": {"list": [1, 2.5, "x"], "flag": True}},
    {"object": object()},
])
def test_dumps_gives_the_json_of_the_standard_library(entry):
    written = dumps(entry)
    assert written.isascii()
    assert json.loads(written) == json.loads(json.dumps(entry, default=str))


def test_a_non_string_key_falls_back_to_the_standard_library():
    assert json.loads(dumps({1: "one"})) == {"1": "one"}


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    access_log.addHandler(handler)
    level = access_log.level
    access_log.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        access_log.removeHandler(handler)
        access_log.setLevel(level)


def lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_access_line_per_request(captured):
    def app(environ, start_response):
        start_response("201 Created", [("X-Request-ID", "spoofed")])
        return [b"{}"]

    headers = []
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/users/register",
               "QUERY_STRING": "token=secret", "REMOTE_ADDR": "10.0.0.1",
               "HTTP_X_REQUEST_ID": "req-7"}
    log_request(app, environ, lambda status, sent, exc_info=None: headers.extend(sent))
    assert headers == [("X-Request-ID", "req-7")]
    [line] = lines(captured)
    assert line["logger"] == "ridewire.access" and line["level"] == "INFO"
    assert line["message"] == "POST /users/register"
    assert line["request_id"] == "req-7"
    assert {k: line[k] for k in ("method", "path", "status", "remote_addr",
                                 "forwarded_for")} == {
        "method": "POST", "path": "/users/register", "status": 201,
        "remote_addr": "10.0.0.1", "forwarded_for": None}
    assert line["duration_ms"] >= 0 and "secret" not in json.dumps(line)


def test_probes_and_upgrades(captured):
    def silent(environ, start_response):
        return []

    log_request(silent, {"REQUEST_METHOD": "GET", "PATH_INFO": "/healthz"}, None)
    assert lines(captured) == []  # probes log at DEBUG
    log_request(silent, {"REQUEST_METHOD": "GET", "PATH_INFO": "/socket.io/",
                         "HTTP_UPGRADE": "websocket"}, None)
    [line] = lines(captured)
    assert line["status"] == 101
