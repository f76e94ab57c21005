"""Connection state recovery with the real socket.io-client 4.8.1 (the npm build the
frontends ship, in Node) against a served realtime process: its connection is cut at
random moments while pushes flow; every event must arrive exactly once and in order,
each reconnection recovered under the same socket id."""
import asyncio
import base64
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bench.loadclient import Socket
from devserver.processes import stop_all
from realtime_service.app import VOLATILE_EVENTS
from tests.conftest import prepare, serve, serve_all
from tests.cutting_proxy import CuttingProxy
from tests.factories import (
    REVOKED_ELSEWHERE_SECONDS,
    auth_header,
    make_captain,
    make_user,
    token_for,
)
from tests.gateway_support import log_text
from tests.jsclient import JSClient
from tests.rides_support import PICKUP, north_of, ride_body
from tests.waiting import wait_until


@pytest.fixture
def proxy(served_realtime):
    proxy = CuttingProxy(served_realtime.port)
    yield proxy
    proxy.close()


@pytest.fixture
def js_clients():
    opened = []

    def start(url, account, transport="websocket"):
        opened.append(JSClient(url, token_for(account), transport))
        return opened[-1]

    yield start
    for client in opened:
        client.close()


def send(url, sender, receiver, text):
    response = requests.post(f"{url}/messages/send/{receiver['_id']}", json={"text": text},
                             headers=auth_header(sender), timeout=10)
    assert response.status_code == 201, response.text


def texts(client):
    return [args[0]["text"] for args in client.events("newMessage")]


def wait_for_texts(client, count, timeout=30):
    """Wait for `count` messages; on failure, say what the client saw."""
    try:
        wait_until(lambda: len(texts(client)) >= count, timeout=timeout)
    except AssertionError:
        seen = [line for line in client.lines if line["type"] != "event"]
        raise AssertionError(f"{len(texts(client))} of {count} messages: {texts(client)}; "
                             f"{seen}") from None


def position(offset):
    """An offset's place in its log: `<epoch>:<n>` in memory, `<ms>-<seq>` in Redis."""
    if ":" in offset:
        return (0, int(offset.partition(":")[2]))
    milliseconds, _, sequence = offset.partition("-")
    return (int(milliseconds), int(sequence))


def assert_in_offset_order(client):
    """Every logged event once, in the order of the log (volatile ones carry no offset)."""
    positions = [position(line["args"][-1]) for line in client.of_type("event")
                 if line["event"] not in VOLATILE_EVENTS]
    assert positions == sorted(set(positions))


def assert_recovered_every_time(client):
    connects = client.connects()
    assert len(connects) >= 2, "the connection was never cut"
    assert all(connect["recovered"] for connect in connects[1:]), connects
    assert {connect["id"] for connect in connects} == {connects[0]["id"]}


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_cut_connections_recover_every_message_once_and_in_order(
        transport, served_realtime, proxy, js_clients, db):
    alice, bob = make_user(db), make_user(db)
    client = js_clients(proxy.url, alice, transport)
    client.wait_connected()
    rng = random.Random(7)
    sent = [f"message {n}" for n in range(40)]
    for n, text in enumerate(sent):
        send(served_realtime.url, bob, alice, text)
        if rng.random() < 0.2 or n == 5:
            proxy.cut()
    wait_for_texts(client, len(sent))
    assert texts(client) == sent
    assert_in_offset_order(client)
    assert_recovered_every_time(client)


def test_a_client_that_saw_no_event_recovers_from_where_its_socket_started(
        served_realtime, proxy, js_clients, db):
    alice, bob = make_user(db), make_user(db)
    client = js_clients(proxy.url, alice)
    client.wait_connected()
    proxy.cut()
    send(served_realtime.url, bob, alice, "while away")
    client.wait_connected(2)
    wait_until(lambda: texts(client) == ["while away"], what="the missed message")
    assert_recovered_every_time(client)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_client_back_before_its_old_connection_was_found_dead_recovers(
        transport, served_realtime, proxy, js_clients, db):
    """A silent network: the server still holds the old connection (and pushes into
    it) when the client, having given it up, comes back on a new one."""
    alice, bob = make_user(db), make_user(db)
    client = js_clients(proxy.url, alice, transport)
    client.wait_connected()
    send(served_realtime.url, bob, alice, "one")
    wait_for_texts(client, 1)
    proxy.freeze()
    send(served_realtime.url, bob, alice, "into the void")
    client.command("drop")
    client.wait_connected(2)
    send(served_realtime.url, bob, alice, "three")
    wait_for_texts(client, 3)
    assert texts(client) == ["one", "into the void", "three"]
    assert_in_offset_order(client)
    assert_recovered_every_time(client)


def test_a_client_that_disconnected_on_purpose_starts_a_new_session(
        served_realtime, proxy, js_clients, db):
    alice, bob = make_user(db), make_user(db)
    client = js_clients(proxy.url, alice)
    first = client.wait_connected()
    client.command("disconnect")
    send(served_realtime.url, bob, alice, "after leaving")
    client.command("connect")
    second = client.wait_connected(2)
    assert second["recovered"] is False and second["id"] != first["id"]
    send(served_realtime.url, bob, alice, "back")
    wait_until(lambda: texts(client) == ["back"], what="only the new message")


def test_another_accounts_reconnection_does_not_recover_the_session(
        served_realtime, proxy, js_clients, db):
    """The same client logged in as someone else (its pid kept) gets a new session:
    none of the first account's missed events, none of its rooms."""
    alice, bob, carol = make_user(db), make_user(db), make_user(db)
    client = js_clients(proxy.url, alice)
    client.wait_connected()
    client.command("token", token_for(bob))
    proxy.refusing = True
    proxy.cut()
    send(served_realtime.url, carol, alice, "for alice only")
    proxy.refusing = False
    second = client.wait_connected(2)
    assert second["recovered"] is False
    send(served_realtime.url, carol, alice, "for alice again")
    send(served_realtime.url, carol, bob, "for bob")
    wait_until(lambda: "for bob" in texts(client), what="bob's message")
    assert texts(client) == ["for bob"]


def test_a_revoked_session_is_not_recovered(served_realtime, proxy, js_clients, db):
    alice, bob = make_user(db), make_user(db)
    client = js_clients(proxy.url, alice)
    client.wait_connected()
    proxy.refusing = True
    proxy.cut()
    db.users.update_one({"_id": alice["_id"]}, {"$inc": {"tokenVersion": 1}})
    send(served_realtime.url, bob, alice, "not for a revoked session")
    time.sleep(REVOKED_ELSEWHERE_SECONDS)  # written behind the process's back
    proxy.refusing = False
    wait_until(lambda: {"type": "connect_error", "message": "Token has been revoked"}
               in client.lines, timeout=10, what="the refusal")
    assert len(client.connects()) == 1 and texts(client) == []


def test_a_client_that_never_reads_is_closed_and_recovers_what_it_missed(
        mongo_uri, tmp_path, db):
    """A client whose socket stops reading makes the server queue for it only up to
    SOCKET_MAX_QUEUED_PACKETS; then its transport is closed, and when it reads again it
    recovers everything, in order."""
    service = serve("realtime_service", mongo_uri, tmp_path, SOCKET_MAX_QUEUED_PACKETS=20)
    proxy = CuttingProxy(service.port)
    alice, bob = make_user(db), make_user(db)
    client = JSClient(proxy.url, token_for(alice))
    try:
        client.wait_connected()
        proxy.reading.clear()
        # Past what the kernel buffers (up to 4 MiB of send buffer on this socket), in
        # text the websocket's compression cannot shrink.
        sent = [f"{n} {base64.b64encode(os.urandom(1400)).decode()}" for n in range(3000)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda text: send(service.url, bob, alice, text), sent))
        wait_until(lambda: "does not read" in log_text(service), timeout=20,
                   what="the slow socket closed")
        proxy.reading.set()
        wait_for_texts(client, len(sent))
        assert sorted(texts(client)) == sorted(sent)
        assert_in_offset_order(client)
        assert_recovered_every_time(client)
    finally:
        client.close()
        proxy.close()
        service.stop()


def test_with_redis_a_client_recovers_on_another_process_after_a_restart(
        mongo_uri, redis_url, tmp_path, db):
    """Its process stops (SIGTERM: its sockets are closed, their sessions kept in
    Redis); while the client is away, messages are sent through the other process;
    the client comes back through the other process and recovers them all."""
    first, second = serve_all([prepare("realtime_service", mongo_uri, tmp_path,
                                       REDIS_URL=redis_url) for _ in range(2)])
    proxy = CuttingProxy(first.port)
    alice, bob = make_user(db), make_user(db)
    client = JSClient(proxy.url, token_for(alice))
    try:
        client.wait_connected()
        send(second.url, bob, alice, "before")
        wait_for_texts(client, 1)
        proxy.refusing = True
        first.stop()
        sent = ["before"] + [f"while away {n}" for n in range(10)]
        for text in sent[1:]:
            send(second.url, bob, alice, text)
        proxy.target_port, proxy.refusing = second.port, False
        client.wait_connected(2)
        wait_for_texts(client, len(sent))
        assert texts(client) == sent
        assert_in_offset_order(client)
        assert_recovered_every_time(client)
    finally:
        client.close()
        proxy.close()
        stop_all([first, second])


def test_ride_pushes_missed_during_a_drop_are_recovered(
        served_realtime, proxy, js_clients, clients, db):
    """The rider's connection is down while a captain is offered its ride and accepts
    it: on its return the rider gets `ride-searching` and `ride-confirmed`, once each
    and in order."""
    rider = make_user(db)
    captain = make_captain(db, location=north_of(PICKUP, 0.5))
    captain_socket = clients(served_realtime.url, token_for(captain, "captain"))
    client = js_clients(proxy.url, rider)
    client.wait_connected()
    proxy.refusing = True
    proxy.cut()
    response = requests.post(f"{served_realtime.url}/rides", json=ride_body(),
                             headers=auth_header(rider), timeout=10)
    assert response.status_code == 201, response.text
    ride_id = response.json()["ride"]["_id"]
    assert captain_socket.wait_for("new-ride")["_id"] == ride_id
    accepted = requests.post(f"{served_realtime.url}/rides/{ride_id}/accept",
                             headers=auth_header(captain, "captain"), timeout=10)
    assert accepted.status_code == 200, accepted.text
    proxy.refusing = False
    client.wait_connected(2)
    wait_until(lambda: client.events("ride-confirmed"), timeout=10, what="ride-confirmed")
    ride_events = [line["event"] for line in client.of_type("event")
                   if line["event"].startswith("ride-")]
    assert ride_events == ["ride-searching", "ride-confirmed"]
    assert client.events("ride-confirmed")[0][0]["_id"] == ride_id
    assert_in_offset_order(client)
    assert_recovered_every_time(client)


def test_a_call_member_that_drops_and_recovers_stays_in_its_call(
        served_realtime, proxy, js_clients, clients, db):
    """A connection that died silently (its client gave it up and came back on a new
    one) within PRESENCE_GRACE_SECONDS is still a member: the others were not told it
    left and can signal it (an ICE restart) at once. A member that leaves on purpose
    is gone at once."""
    alice, bob = make_user(db), make_user(db)
    host = clients(served_realtime.url, token_for(bob))
    room = host.call("call-start", {"kind": "meeting"})["room"]
    assert host.call("call-join", {"room": room})["ok"]
    client = js_clients(proxy.url, alice)
    client.wait_connected()
    assert client.call("call-join", {"room": room})["ok"]
    host.wait_for("call-member-joined")
    proxy.freeze()
    client.command("drop")
    client.wait_connected(2)
    restart = {"type": "offer", "sdp": "v=0\r\n", "iceRestart": True}
    assert host.call("signal", {"room": room, "to": str(alice["_id"]),
                                "data": restart}) == {"ok": True}
    wait_until(lambda: client.events("signal"), what="the signal after recovery")
    assert client.events("signal")[0][0]["data"] == restart
    assert "call-member-left" not in host.events
    assert_recovered_every_time(client)
    client.command("disconnect")
    assert host.wait_for("call-member-left", timeout=5)["accountId"] == str(alice["_id"])


def test_a_gap_longer_than_the_window_is_a_new_session(mongo_uri, tmp_path, db):
    """Past RECOVERY_WINDOW_SECONDS the client gets a new session (a new id,
    `recovered` false) that works as any other: it reloads what it missed over HTTP."""
    service = serve("realtime_service", mongo_uri, tmp_path, RECOVERY_WINDOW_SECONDS=1)
    proxy = CuttingProxy(service.port)
    alice, bob = make_user(db), make_user(db)
    client = JSClient(proxy.url, token_for(alice))
    try:
        first = client.wait_connected()
        proxy.refusing = True
        proxy.cut()
        send(service.url, bob, alice, "missed")
        time.sleep(1.5)  # the window passes
        proxy.refusing = False
        second = client.wait_connected(2)
        assert second["recovered"] is False and second["id"] != first["id"]
        send(service.url, bob, alice, "after")
        wait_until(lambda: texts(client) == ["after"], what="the new session's message")
    finally:
        client.close()
        proxy.close()
        service.stop()


def test_clients_back_while_their_old_sockets_are_closing_keep_their_rooms(
        served_realtime, db):
    """Clients that reconnect the moment their connections dropped, while the server is
    still running the disconnects of their old sockets (which wait on the database),
    recover (same id and pid) and stay in their rooms: a message sent afterwards
    reaches each of them. Driven by the bench's lean client, which, unlike
    socket.io-client, reconnects with no delay."""
    receivers, sender = [make_user(db) for _ in range(8)], make_user(db)

    async def drop_and_resume():
        arrived = {str(account["_id"]): asyncio.Event() for account in receivers}
        sockets = [await Socket({"newMessage": lambda message, _at: arrived[
            message["receiverId"]].set()}).connect(
                "127.0.0.1", served_realtime.port, token_for(account))
            for account in receivers]
        before = [(sock.sid, sock.pid) for sock in sockets]
        for sock in sockets:
            sock.drop()
        recovered = await asyncio.gather(*(sock.resume() for sock in sockets))
        for account in receivers:
            await asyncio.to_thread(send, served_realtime.url, sender, account, "after")
        try:
            async with asyncio.timeout(20):
                await asyncio.gather(*(event.wait() for event in arrived.values()))
        finally:
            for sock in sockets:
                await sock.close()
        return recovered, before, [(sock.sid, sock.pid) for sock in sockets]

    recovered, before, after = asyncio.run(drop_and_resume())
    assert all(recovered) and before == after


class GivingUpSocket(Socket):
    """The lean client, which can give up a reconnection the moment its CONNECT packet
    is sent (`give_up`), as a client does whose connect timed out on a loaded server."""

    give_up = False

    def send_raw(self, text):
        super().send_raw(text)
        if self.give_up and text.startswith("40"):
            self.transport.abort()


def test_a_client_that_gives_up_a_reconnection_midway_recovers_on_the_next(
        served_realtime, db):
    """A client cuts its reconnection while the server is still answering its CONNECT
    (the connect handler waits on the database): the server must not keep that socket
    half-open, holding the session (its next reconnection would wait for a socket that
    never closes, then start a new session) and every packet sent to it. The next
    reconnection recovers, with what was sent meanwhile, once."""
    alice, bob = make_user(db), make_user(db)
    url, port = served_realtime.url, served_realtime.port

    async def scenario():
        got = []
        sock = await GivingUpSocket({"newMessage": lambda m, _at: got.append(m["text"])}) \
            .connect("127.0.0.1", port, token_for(alice))
        before = (sock.sid, sock.pid)
        await asyncio.to_thread(send, url, bob, alice, "one")
        await wait_for(lambda: got == ["one"])
        sock.drop()
        await asyncio.to_thread(send, url, bob, alice, "while away")
        sock.give_up = True
        with pytest.raises(ConnectionError):
            await sock.resume(10)
        sock.give_up = False
        await asyncio.to_thread(send, url, bob, alice, "given up")
        recovered = await sock.resume(30)
        await asyncio.to_thread(send, url, bob, alice, "after")
        await wait_for(lambda: len(got) >= 4)
        await sock.close()
        return recovered, before == (sock.sid, sock.pid), got

    recovered, same, got = asyncio.run(scenario())
    assert (recovered, same) == (True, True)
    assert got == ["one", "while away", "given up", "after"]


async def wait_for(predicate, timeout=20):
    """wait_until for a coroutine: polls without blocking the event loop."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)
