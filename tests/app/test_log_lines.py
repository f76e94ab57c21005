"""The access log: one JSON line per request with what it always carried."""
import io
import json
import logging

import pytest

from shared.logging import JsonFormatter, access_log, log_request


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
