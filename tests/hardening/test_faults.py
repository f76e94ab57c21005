"""Faults against real processes: the database killed (-9) and restarted under load,
Redis killed and restarted under two realtime processes, and one of two realtime
processes killed mid-conversation. Nothing that got a 201 is lost, the services
recover without a restart of their own, and clients carry on."""
import threading
import time
import uuid

import pytest
import requests
import socketio
from pymongo import MongoClient

from devserver.processes import EmbeddedMongo
from tests.harness import RedisServer, free_port

from ..conftest import prepare, serve_all
from ..factories import auth_header, make_user, token_for
from ..sockets import RecordingClient

DB_TIMEOUT_MS = 1000
FAIL_FAST_SECONDS = DB_TIMEOUT_MS / 1000 + 2.5  # a 503 arrives within the timeout, plus slack


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout}s")


def status_of(url):
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return None


@pytest.fixture
def fault_db(tmp_path):
    """Our own on-disk SecantusDB (not the session one): it gets killed."""
    server = EmbeddedMongo(free_port(), storage=tmp_path / "data", sync_on_commit=True,
                           log_path=tmp_path / "secantusd.log").start()
    yield server
    server.stop()


class Sender(threading.Thread):
    """Sends chat messages in a loop; remembers every outcome (status, seconds, id)."""

    def __init__(self, url, sender, receiver):
        super().__init__(daemon=True)
        self.url = f"{url}/messages/send/{receiver['_id']}"
        self.headers = auth_header(sender)
        self.outcomes = []
        self.stop = threading.Event()

    def run(self):
        with requests.Session() as session:
            while not self.stop.is_set():
                text = uuid.uuid4().hex
                started = time.monotonic()
                try:
                    response = session.post(self.url, headers=self.headers,
                                            json={"text": text}, timeout=30)
                    status = response.status_code
                    body = response.json()
                except requests.RequestException:
                    status, body = None, {}
                elapsed = time.monotonic() - started
                message_id = body.get("newMessage", {}).get("_id")
                self.outcomes.append((status, elapsed, message_id, time.monotonic()))
                time.sleep(0.02)


def acknowledged_by(sender):
    return any(status == 201 for status, *_ in list(sender.outcomes))


def refused_after(sender, moment):
    return any(o[0] == 503 and o[3] > moment for o in list(sender.outcomes))


def acknowledged_after(senders, moment):
    return any(o[0] == 201 and o[3] > moment
               for sender in senders for o in list(sender.outcomes))


def test_database_killed_and_restarted_under_load(fault_db, tmp_path):
    uri = fault_db.uri("faults")
    db = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=20000)
    database = db.get_default_database()
    alice, bob = make_user(database), make_user(database)
    auth, realtime = serve_all([prepare(module, uri, tmp_path, MONGO_TIMEOUT_MS=DB_TIMEOUT_MS)
                                for module in ("auth_service", "realtime_service")])
    listener = RecordingClient().connect(realtime.url, token_for(bob))
    senders = [Sender(realtime.url, alice, bob) for _ in range(3)]
    try:
        for sender in senders:
            sender.start()
        wait_until(lambda: all(acknowledged_by(sender) for sender in senders), 15,
                   "every sender's first 201")
        fault_db.kill()
        killed_at = time.monotonic()
        wait_until(lambda: all(refused_after(sender, killed_at + 0.5) for sender in senders),
                   15, "a 503 for every sender during the outage")
        assert status_of(f"{realtime.url}/readyz") == 503
        assert status_of(f"{auth.url}/readyz") == 503
        assert status_of(f"{auth.url}/healthz") == 200
        fault_db.start()
        restarted_at = time.monotonic()
        for service in (auth, realtime):
            wait_until(lambda s=service: status_of(f"{s.url}/readyz") == 200, 20,
                       "readyz back to 200")
        wait_until(lambda: acknowledged_after(senders, restarted_at + 1), 20,
                   "a 201 after the database came back")
    finally:
        for sender in senders:
            sender.stop.set()
        for sender in senders:
            sender.join(35)
    try:
        outcomes = [o for sender in senders for o in sender.outcomes]
        statuses = {status for status, *_ in outcomes}
        assert statuses <= {201, 503}, statuses
        during = [o for o in outcomes if killed_at + 0.5 < o[3] < restarted_at]
        assert during and all(status == 503 for status, *_ in during)
        slow = [round(elapsed, 2) for status, elapsed, *_ in outcomes
                if status == 503 and elapsed > FAIL_FAST_SECONDS]
        assert not slow, f"503s slower than {FAIL_FAST_SECONDS}s: {slow}"
        after = [o for o in outcomes if o[3] > restarted_at + 1 and o[0] == 201]
        assert after, "no 201 after the database came back"
        # the same service processes recovered (no restart) and nothing acknowledged is lost
        assert auth.running() and realtime.running()
        acknowledged = {message_id for status, _, message_id, _ in outcomes if status == 201}
        stored = {str(doc["_id"]) for doc in database.messages.find({}, {"_id": 1})}
        assert acknowledged <= stored, f"lost: {acknowledged - stored}"
        # the socket outlived the outage and pushes resumed
        assert listener.connected
        last = requests.post(f"{realtime.url}/messages/send/{bob['_id']}",
                             headers=auth_header(alice), json={"text": "after the outage"})
        assert last.status_code == 201
        listener.wait_for("newMessage", lambda m: m["text"] == "after the outage")
        profile = requests.get(f"{auth.url}/users/profile", headers=auth_header(alice))
        assert profile.status_code == 200
        print(f"db fault: {len(outcomes)} sends, {len(acknowledged)} acknowledged, "
              f"{sum(1 for o in outcomes if o[0] == 503)} answered 503")
    finally:
        listener.disconnect()
        auth.stop()
        realtime.stop()
        db.close()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def two_realtimes(mongo_uri, tmp_path, redis_url):
    return serve_all([prepare("realtime_service", mongo_uri, tmp_path, REDIS_URL=redis_url,
                              PRESENCE_TTL=2, MONGO_TIMEOUT_MS=DB_TIMEOUT_MS)
                      for _ in range(2)])


def send(url, sender, receiver, text):
    return requests.post(f"{url}/messages/send/{receiver['_id']}", headers=auth_header(sender),
                         json={"text": text}, timeout=10)


def test_redis_killed_and_restarted(mongo_uri, db, tmp_path, redis_server):
    one, two = two_realtimes(mongo_uri, tmp_path, redis_server.url)
    alice, bob, carol = make_user(db), make_user(db), make_user(db)
    clients = []
    try:
        on_one = RecordingClient().connect(one.url, token_for(alice))
        on_two = RecordingClient().connect(two.url, token_for(bob))
        clients += [on_one, on_two]
        assert send(one.url, carol, bob, "before").status_code == 201
        on_two.wait_for("newMessage", lambda m: m["text"] == "before")

        redis_server.kill()
        # each process keeps serving its own clients: HTTP, pushes, new connections, rides
        assert send(one.url, carol, alice, "during").status_code == 201
        on_one.wait_for("newMessage", lambda m: m["text"] == "during")
        # a new connection is refused cleanly (presence cannot be recorded), not hung
        late = RecordingClient()
        with pytest.raises(socketio.exceptions.ConnectionError):
            late.connect(one.url, token_for(carol))
        assert late.connect_error == {"message": "Service unavailable, try again later"}
        assert requests.get(f"{one.url}/messages/users", headers=auth_header(alice),
                            timeout=10).status_code == 200
        response = requests.post(f"{one.url}/rides", headers=auth_header(carol), timeout=10,
                                 json={"pickup": {"lat": 12.97, "lng": 77.59},
                                       "destination": {"lat": 13.03, "lng": 77.59},
                                       "vehicleType": "car"})
        assert response.status_code == 201, response.text

        redis_server.start()
        # cross-process delivery resumes (the subscriber reconnects with backoff)
        def crosses():
            text = uuid.uuid4().hex
            assert send(one.url, carol, bob, text).status_code == 201
            try:
                on_two.wait_for("newMessage", lambda m: m["text"] == text, timeout=1)
                return True
            except TimeoutError:
                return False

        wait_until(crosses, 20, "cross-process delivery resumed")
        assert send(two.url, bob, alice, "back").status_code == 201
        on_one.wait_for("newMessage", lambda m: m["text"] == "back", timeout=5)
        # and presence is rebuilt in Redis by the heartbeats
        wait_until(lambda: str(alice["_id"]) in on_two_online(on_two), 10,
                   "alice online for bob's process")
    finally:
        for client in clients:
            client.disconnect()
        one.stop()
        two.stop()


def on_two_online(client):
    lists = client.events["getOnlineUsers"]
    return set(lists[-1]) if lists else set()


def test_realtime_process_killed_mid_conversation(mongo_uri, db, tmp_path, redis_server):
    one, two = two_realtimes(mongo_uri, tmp_path, redis_server.url)
    alice, bob = make_user(db), make_user(db)
    acknowledged = {"alice": set(), "bob": set()}
    clients = []
    try:
        on_one = RecordingClient().connect(one.url, token_for(alice))
        on_two = RecordingClient().connect(two.url, token_for(bob))
        clients += [on_one, on_two]
        for n in range(10):
            for name, url, sender, receiver in (("alice", one.url, alice, bob),
                                                ("bob", two.url, bob, alice)):
                response = send(url, sender, receiver, f"{name} {n}")
                assert response.status_code == 201
                acknowledged[name].add(response.json()["newMessage"]["_id"])
            if n == 5:
                two.kill()  # bob's process dies mid-conversation
                bob_again = RecordingClient().connect(one.url, token_for(bob))
                clients.append(bob_again)
                two = FailedOver(one.url)  # bob's tab reconnects to the surviving process
        bob_again.wait_for("newMessage", lambda m: m["text"] == "alice 9")
        # history is complete from both sides, and the unseen counts add up
        for reader, other in ((alice, bob), (bob, alice)):
            page = requests.get(f"{one.url}/messages/{other['_id']}", params={"limit": 100},
                                headers=auth_header(reader)).json()["messages"]
            assert {m["_id"] for m in page} == acknowledged["alice"] | acknowledged["bob"]
            requests.post(f"{one.url}/messages/{other['_id']}/seen", json={},
                          headers=auth_header(reader)).raise_for_status()
        assert db.messages.count_documents({"seen": False}) == 0
        assert send(one.url, alice, bob, "one more").status_code == 201
        sidebar = requests.get(f"{one.url}/messages/users", headers=auth_header(bob)).json()
        assert sidebar["unseen"] == {str(alice["_id"]): 1}
        # the dead process's presence expires; bob stays online through his new connection
        probe = RecordingClient().connect(one.url, token_for(make_user(db)))
        clients.append(probe)
        online = probe.wait_for("getOnlineUsers")
        assert {str(alice["_id"]), str(bob["_id"])} <= set(online)
    finally:
        for client in clients:
            client.disconnect()
        one.stop()


class FailedOver:
    """Stands for the killed process: its clients now use the surviving one."""

    def __init__(self, url):
        self.url = url

    def stop(self):
        pass
