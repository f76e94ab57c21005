"""A SIGTERM of the service, or a `kill -9` of the database, mid-traffic.
No response is a 500 (every refusal is a 503 `{"message"}`), and a send retried with
its `Idempotency-Key` returns the first message: never a second one stored or pushed.
Each traffic test runs the production configuration on a private database server."""
import json
import signal
import socket
import threading
import time
import uuid

import jwt
import pytest
import requests
from flask import Flask
from pymongo import MongoClient
from pymongo.errors import AutoReconnect, InvalidOperation, OperationFailure

from devserver.processes import EmbeddedMongo
from tests.harness import free_port

from ..conftest import serve
from ..factories import auth_header, make_user, token_for
from ..gateway_support import gunicorn
from .forge import claims

pytestmark = pytest.mark.timeout(240)

SECRET = "a-production-secret-of-at-least-32-chars"
PRODUCTION = {"APP_ENV": "production", "JWT_SECRET_KEY": SECRET, "RATELIMIT_ENABLED": "true",
              "CHAT_SEND_RATE_LIMIT": "100000 per minute", "MONGO_TIMEOUT_MS": "1000",
              "GRACEFUL_TIMEOUT": "2"}
SENDERS = 8


@pytest.fixture
def private_db(tmp_path):
    """An on-disk SecantusDB of this test's own (not the session one): it gets killed."""
    server = EmbeddedMongo(free_port(), storage=tmp_path / "data", sync_on_commit=True,
                           log_path=tmp_path / "secantusd.log").start()
    client = MongoClient(server.uri("row11"), tz_aware=True, serverSelectionTimeoutMS=20000)
    yield server, client.get_default_database()
    client.close()
    server.stop()


def production_header(account):
    token = jwt.encode(claims(account), SECRET, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


def start(kind, uri, tmp_path):
    if kind == "gunicorn":
        return gunicorn("realtime_service", uri, tmp_path, **PRODUCTION).start(60)
    return serve("realtime_service", uri, tmp_path, **PRODUCTION)


class Sender(threading.Thread):
    """Sends messages over one keep-alive connection, each with a key of its own (the
    text is the key); remembers every outcome: (key, status or error name, message id)."""

    def __init__(self, url, sender, receiver):
        super().__init__(daemon=True)
        self.url = f"{url}/messages/send/{receiver['_id']}"
        self.headers = production_header(sender)
        self.outcomes = []
        self.stop = threading.Event()

    def run(self):
        with requests.Session() as session:
            while not self.stop.is_set():
                key = uuid.uuid4().hex
                try:
                    response = session.post(self.url, json={"text": key}, timeout=30,
                                            headers={**self.headers, "Idempotency-Key": key})
                    status, body = response.status_code, response.json()
                except requests.RequestException as error:
                    status, body = type(error).__name__, {}
                self.outcomes.append((key, status, body.get("newMessage", {}).get("_id")))
                if status != 201:
                    time.sleep(0.05)


def run_senders(url, alice, bob, fault):
    """Senders from alice to bob around `fault()`; every outcome."""
    senders = [Sender(url, alice, bob) for _ in range(SENDERS)]
    for sender in senders:
        sender.start()
    try:
        time.sleep(1.0)
        fault()
    finally:
        for sender in senders:
            sender.stop.set()
        for sender in senders:
            sender.join(40)
    return [outcome for sender in senders for outcome in sender.outcomes]


def retry_all(url, alice, bob, outcomes):
    """Send every key again (same key, same text): {key: (status, message id)}."""
    answers = {}
    with requests.Session() as session:
        for key, _, _ in outcomes:
            response = session.post(f"{url}/messages/send/{bob['_id']}", json={"text": key},
                                    headers={**production_header(alice), "Idempotency-Key": key},
                                    timeout=30)
            answers[key] = (response.status_code, response.json().get("newMessage", {}).get("_id"))
    return answers


def check_outcomes(outcomes, answers, database):
    """No 500 and no duplicate; an acknowledged send is answered again with its message."""
    statuses = [status for _, status, _ in outcomes]
    assert 500 not in statuses, f"{statuses.count(500)} of {len(statuses)} sends were 500"
    assert {s for s in statuses if isinstance(s, int)} <= {201, 503}, set(statuses)
    assert {status for status, _ in answers.values()} == {201}
    for key, status, message_id in outcomes:
        if status == 201:
            assert answers[key][1] == message_id, "a retry returned another message"
    texts = [doc["text"] for doc in database.messages.find({}, {"text": 1})]
    duplicates = len(texts) - len(set(texts))
    assert duplicates == 0, f"{duplicates} duplicates after {len(answers)} retries"
    assert set(texts) == set(answers)
    return statuses


@pytest.mark.parametrize("kind", ["dev", "gunicorn"])
def test_sigterm_mid_traffic_has_no_500_and_retries_store_nothing_twice(kind, private_db,
                                                                        tmp_path):
    server, database = private_db
    uri = server.uri("row11")
    alice, bob = make_user(database), make_user(database)
    service = start(kind, uri, tmp_path)
    try:
        def sigterm():
            service.proc.send_signal(signal.SIGTERM)
            service.proc.wait(30)  # traffic goes on until the process has exited

        outcomes = run_senders(service.url, alice, bob, sigterm)
        assert service.proc.returncode == 0
    finally:
        service.kill()
    again = serve("realtime_service", uri, tmp_path, **PRODUCTION)
    try:
        answers = retry_all(again.url, alice, bob, outcomes)
    finally:
        again.stop()
    statuses = check_outcomes(outcomes, answers, database)
    print(f"sigterm ({kind}): {len(statuses)} sends, {statuses.count(201)} acknowledged, "
          f"{statuses.count(503)} answered 503, {len(answers)} retried, 0 duplicates")


def test_database_killed_mid_traffic_has_no_500_and_retries_store_nothing_twice(private_db,
                                                                               tmp_path):
    server, database = private_db
    alice, bob = make_user(database), make_user(database)
    service = serve("realtime_service", server.uri("row11"), tmp_path, **PRODUCTION)
    try:
        def kill_and_restart():
            server.kill()
            time.sleep(2.5)
            server.start()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if requests.get(f"{service.url}/readyz", timeout=5).status_code == 200:
                    break
                time.sleep(0.1)
            time.sleep(0.5)

        outcomes = run_senders(service.url, alice, bob, kill_and_restart)
        answers = retry_all(service.url, alice, bob, outcomes)
    finally:
        service.stop()
    statuses = check_outcomes(outcomes, answers, database)
    assert 503 in statuses  # the outage was seen
    print(f"db kill: {len(statuses)} sends, {statuses.count(201)} acknowledged, "
          f"{statuses.count(503)} answered 503, {len(answers)} retried, 0 duplicates")


def half_sent_message(port, sender, receiver):
    """A send whose body is not all sent: the socket, the request is in the app."""
    body = json.dumps({"text": "never finished"}).encode()
    head = (f"POST /messages/send/{receiver['_id']} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {production_header(sender)['Authorization']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Idempotency-Key: half-sent\r\n\r\n").encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head + body[:5])
    return sock


def read_all(sock):
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("kind", ["dev", "gunicorn"])
def test_a_request_still_running_when_the_grace_period_ends_is_a_503(kind, private_db,
                                                                     tmp_path):
    """Not a 500 (pywsgi's answer to a killed request), nor a dropped connection."""
    server, database = private_db
    alice, bob = make_user(database), make_user(database)
    service = start(kind, server.uri("row11"), tmp_path)
    try:
        sock = half_sent_message(service.port, alice, bob)
        time.sleep(0.5)  # the app is reading the body
        service.proc.send_signal(signal.SIGTERM)
        response = read_all(sock)
        sock.close()
        assert service.proc.wait(30) == 0
    finally:
        service.kill()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503"), response[:300]
    assert json.loads(body) == {"message": "Service is shutting down, try again"}
    assert database.messages.count_documents({}) == 0


def send(url, sender, receiver, text, key=None, path="/messages/send"):
    headers = auth_header(sender)
    if key is not None:
        headers["Idempotency-Key"] = key
    return requests.post(f"{url}{path}/{receiver['_id']}", json={"text": text},
                         headers=headers, timeout=10)


def test_a_retry_with_the_same_key_returns_the_first_message_and_pushes_once(
        served_realtime, db, clients):
    alice, bob, carol = make_user(db), make_user(db), make_user(db)
    listener = clients(served_realtime.url, token_for(bob))
    first = send(served_realtime.url, alice, bob, "hello", key="k-1")
    again = send(served_realtime.url, alice, bob, "hello", key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    # the key is the sender's: another sender's same key is another message
    other = send(served_realtime.url, carol, bob, "hello", key="k-1")
    assert other.status_code == 201 and other.json() != first.json()
    listener.wait_for("newMessage", lambda m: m["_id"] == other.json()["newMessage"]["_id"])
    pushed = [m["_id"] for m in listener.events["newMessage"]]
    assert pushed.count(first.json()["newMessage"]["_id"]) == 1
    assert db.messages.count_documents({"senderId": alice["_id"]}) == 1
    assert "idempotencyKey" not in first.json()["newMessage"]


def test_concurrent_sends_with_one_key_store_one_message(served_realtime, db):
    alice, bob = make_user(db), make_user(db)
    answers = []

    def one():
        answers.append(send(served_realtime.url, alice, bob, "once", key="same-key"))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.json()["newMessage"]["_id"] for answer in answers}) == 1
    assert db.messages.count_documents({"senderId": alice["_id"]}) == 1


def test_the_compat_send_is_idempotent_too(mongo_uri, db, tmp_path):
    service = serve("realtime_service", mongo_uri, tmp_path, COMPAT_ROUTES="true")
    try:
        alice, bob = make_user(db), make_user(db)
        first = send(service.url, alice, bob, "hi", key="compat-1", path="/api/messages/send")
        again = send(service.url, alice, bob, "hi", key="compat-1", path="/api/messages/send")
    finally:
        service.stop()
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert db.messages.count_documents({"senderId": alice["_id"]}) == 1


def database_failure(kind):
    """Raise a database failure of `kind`, as a route would see it."""
    if kind == "closed client":  # what a request still running after close() gets
        raise InvalidOperation("Cannot use MongoClient after close")
    if kind == "operation":
        raise OperationFailure("interrupted at shutdown", code=11600)
    try:  # wrapped by another library
        raise AutoReconnect("connection reset")
    except AutoReconnect as error:
        raise RuntimeError("greenlet failed") from error


@pytest.mark.parametrize("kind", ["closed client", "operation", "wrapped"])
def test_every_database_failure_is_a_503(realtime_app, kind):
    app: Flask = realtime_app
    app.add_url_rule("/fails", "fails", lambda: database_failure(kind))
    response = app.test_client().get("/fails")
    assert response.status_code == 503
    assert response.json == {"message": "Database unavailable"}


def test_a_database_failure_after_the_response_is_built_is_a_503(realtime_app):
    realtime_app.config["PROPAGATE_EXCEPTIONS"] = False  # as served, not as tested
    realtime_app.add_url_rule("/fine", "fine", lambda: {"ok": True})

    @realtime_app.after_request
    def fails(response):
        raise InvalidOperation("Cannot use MongoClient after close")

    response = realtime_app.test_client().get("/fine")
    assert response.status_code == 503
    assert response.json == {"message": "Database unavailable"}


def test_an_idle_keep_alive_connection_does_not_hold_a_stop(mongo_uri, tmp_path):
    """A gateway keeps connections open between requests: at a SIGTERM the worker closes
    those waiting for their next request at once (a reset, not logged), instead of
    waiting for their keep-alive timeout (HEADER_TIMEOUT, 10 s) or, past a shorter grace,
    being killed before its clean-up ran. The deadlines below are under both."""
    service = serve("realtime_service", mongo_uri, tmp_path, **{**PRODUCTION,
                                                                "GRACEFUL_TIMEOUT": "60"})
    kept = socket.create_connection(("127.0.0.1", service.port), timeout=8)
    try:
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while b'"ok"' not in answer:  # the whole answer: head and body
            chunk = kept.recv(65536)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")
        service.proc.send_signal(signal.SIGTERM)
        assert kept.recv(65536) == b""  # closed by the service before the deadline
        assert service.proc.wait(8) == 0
    finally:
        kept.close()
        service.stop()
    log = service.log_path.read_text()
    assert '"stopped"' in log and "Error handling request" not in log, log
