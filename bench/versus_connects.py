"""Scenario 8's connects row: USERS websockets connect, 50 handshakes at a time, and the
clock runs until every server is quiet again (the presence storm flushed): QuickChat
sends its full online list to everyone on each connect; Ridewire runs one side per
presence mode, `compat` (connected as QuickChat's client connects, `?userId=`) and
`delta` (its own clients: the token alone), plus `batch` (delta, its clients asking
for one `presence` event per window with `auth.presence = "batch"`). Beside the wall
time, the CPU seconds of the server and its database per 1,000 connects, steadier than
wall time on a shared machine, and the frames and bytes the clients received per event.
"""
import tempfile

from bench import common, peers, push_latency

QUICKCHAT_CONNECT = {"query_user_id": True}
RIDEWIRE_CONNECT = {"query_user_id": False}
RIDEWIRE_BATCH_CONNECT = {"query_user_id": False, "socket_auth": {"presence": "batch"}}


def ridewire(cfg, presence_events, request=None):
    with common.Stack("versus-connects", own_servers=True) as stack:
        service = stack.serve("realtime_service", PRESENCE_EVENTS=presence_events)
        docs = stack.seed("user", cfg["users"])
        users = [{"id": str(doc["_id"]), "token": token}
                 for doc, token in zip(docs, common.tokens_for(docs, "user"), strict=True)]
        request = request or (QUICKCHAT_CONNECT if presence_events == "compat"
                              else RIDEWIRE_CONNECT)
        return connect(cfg, users, service.port, common.worker_pid(service),
                       stack.db_server.proc.pid, request)


def ridewire_compat(cfg):
    return ridewire(cfg, "compat")


def ridewire_delta(cfg):
    return ridewire(cfg, "delta")


def ridewire_batch(cfg):
    return ridewire(cfg, "delta", RIDEWIRE_BATCH_CONNECT)


def peer(cfg):
    with peers.Peer(peers.QUICKCHAT, tempfile.mkdtemp(prefix="versus-")) as running:
        users = running.seed(cfg["users"])
        return connect(cfg, users, running.port, running.pid, running.db_server.proc.pid,
                       QUICKCHAT_CONNECT)


def connect(cfg, users, port, server_pid, db_pid, request):
    """Connect every user (no sends), wait until the server is quiet: the setup phase
    of the chat row alone."""
    specs = push_latency.plan(users, 0, cfg["workers"], [port])
    for spec in specs:
        spec["request"] = request
    setup, _, _ = push_latency.ramp("versus-connects", {**cfg, "rates": []}, specs,
                                    {"server": server_pid}, db_pid)
    return setup


def row(setup):
    """One trial's summary: time to quiet, CPU per 1,000 connects, frames."""
    per_thousand = 1000 / max(1, setup["connected"])
    frames = setup["frames"]
    return {"connected": setup["connected"], "failures": setup["failures"],
            "connects_to_quiet_s": round(setup["connect_s"] + setup["settle_s"], 1),
            "connect_s": setup["connect_s"], "settle_s": setup["settle_s"],
            "cpu_s_per_1000_connects": {who: round(cpu * per_thousand, 2)
                                        for who, cpu in setup["cpu"]["cpu_s"].items()},
            "load_client_cpu_s": setup["load_client_cpu_s"],
            "frames": frames["frames"],
            "mib": {event: round(size / 2**20, 2) for event, size in frames["bytes"].items()}}
