"""Scenario 8: side by side with the Node backends Ridewire replaces (`bench.peers`).

Each row runs TRIALS times, Ridewire and its peer alternating (the order flips every
trial), each on a fresh SecantusDB of its own; the result is the median of the trials
and the ratio Ridewire / peer (per Ridewire side where a row has several). Ridewire
runs as `make serve` runs it (gunicorn, the production config) with BCRYPT_ROUNDS=10
(the peers' cost) and rate limits off.

- profile: `GET /users/profile` over CONNECTIONS closed-loop keep-alive connections
  (scenario 5's client), against the Uber clone's backend (BENCH_PEER_UBER);
- login: CLIENTS threads logging one account in back to back (scenario 4's storm),
  against the Uber clone's backend;
- chat: USERS websockets connected as QuickChat's client connects (`?userId=`), then
  PAIRS pairs sending at stepped, open-loop rates (scenario 1's ramp) in steady-state
  steps of 15 s (saturation: the highest rate a step held, `held`), against
  QuickChat's server (BENCH_PEER_QUICKCHAT) on its `POST /api/messages/send/<id>`
  with its `token` header. Ridewire runs three sides,
  each with compat presence (the full `getOnlineUsers` list on every change), as
  QuickChat does: its `send-message` socket event (acknowledged, with a
  clientMessageId), its own `POST /messages/send/<id>` (Bearer, X-Socket-ID), and
  QuickChat's route on the compatibility layer. The connect phase is a row too: the
  time until every server is quiet again.
- connects: USERS websockets connecting, no sends, until the server is quiet, in each
  of Ridewire's presence modes against QuickChat (`bench.versus_connects`).

A row whose peer is not given runs Ridewire's side alone and says why.

    BENCH_PEER_UBER=~/UBER-VIDEO/Backend BENCH_PEER_QUICKCHAT=~/qc/server \
        make bench SCENARIO=8

For an A/B, `BENCH_VERSUS_ROWS=chat`, `BENCH_VERSUS_SIDES=ridewire-socket,quickchat`
and `BENCH_VERSUS_TRIALS=2` narrow the run (comma-separated names).
"""
import os
import statistics
import tempfile
import time

import requests

from bench import common, login_storm, peers, profile, push_latency, versus_connects
from bench.loadclient import percentiles

SIZES = {
    "full": {"trials": 3,
             "profile": {"connections": 64, "seconds": 10.0, "warmup_s": 2.0, "workers": 2},
             "login": {"clients": 16, "seconds": 15.0},
             # Steady state: a step's rate counts only if delivered for its whole 15 s.
             "chat": {"users": 1000, "pairs": 200, "workers": 2, "step_s": 15.0,
                      "rates": [50, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600]},
             "connects": {"users": 1000, "workers": 2}},
    "tiny": {"trials": 1,
             "profile": {"connections": 4, "seconds": 0.5, "warmup_s": 0.2, "workers": 2},
             "login": {"clients": 2, "seconds": 1.0},
             "chat": {"users": 12, "pairs": 3, "workers": 2, "step_s": 1.0, "rates": [10]},
             "connects": {"users": 12, "workers": 2}},
}
ROUNDS = peers.PEER_ROUNDS
QUICKCHAT_SEND = {"path": "/api/messages/send/{partner}", "auth": "token",
                  "name_socket": False, "query_user_id": True}


# Profile ---------------------------------------------------------------------------

def profile_ridewire(cfg):
    with common.Stack("versus-profile", own_servers=True) as stack:
        service = stack.serve("auth_service", BCRYPT_ROUNDS=ROUNDS)
        tokens = common.tokens_for(stack.seed("user", cfg["connections"]), "user")
        return profile.measure(cfg, service.port, tokens, service.proc.pid,
                               stack.db_server.proc.pid)


def profile_peer(cfg):
    with peers.Peer(peers.UBER, tempfile.mkdtemp(prefix="versus-")) as peer:
        tokens = [a["token"] for a in peer.seed(cfg["connections"])]
        return profile.measure(cfg, peer.port, tokens, peer.pid, peer.db_server.proc.pid)


def profile_row(result):
    return {"requests_per_s": result["requests_per_s"],
            "p99_ms": (result["latency_ms"] or {}).get("p99"),
            "cpu_ms_per_request": result["cpu_ms_per_request"], "statuses": result["statuses"]}


# Login -----------------------------------------------------------------------------

def login_ridewire(cfg):
    with common.Stack("versus-login", own_servers=True) as stack:
        service = stack.serve("auth_service", BCRYPT_ROUNDS=ROUNDS)
        requests.post(f"{service.url}/users/register", json={
            "fullname": {"firstname": "Storm"}, "email": login_storm.EMAIL,
            "password": common.PASSWORD}, timeout=30).raise_for_status()
        return storm(cfg, service.url, login_storm.EMAIL, service.proc.pid,
                     stack.db_server.proc.pid, login_storm.hash_seconds(ROUNDS))


def login_peer(cfg):
    with peers.Peer(peers.UBER, tempfile.mkdtemp(prefix="versus-")) as peer:
        email = peer.seed(1)[0]["email"]
        return storm(cfg, peer.url, email, peer.pid, peer.db_server.proc.pid,
                     peers.node_hash_seconds(peers.UBER, ROUNDS))


def storm(cfg, url, email, server_pid, db_pid, one_hash):
    """The storm's rate, and its share of what the cores allow: cores / the time of one
    hash, measured just before with the side's own bcrypt (Python's, Node's)."""
    meter = common.CpuMeter(server=server_pid, db=db_pid)
    elapsed, parts = login_storm.storm(url, cfg["clients"], cfg["seconds"], email)
    usage = meter.read()
    statuses = login_storm.summed_statuses(parts)
    logins = statuses.get("200", 0)
    return {"logins_per_s": round(logins / elapsed, 1), "statuses": statuses,
            "bcrypt_hash_ms": round(one_hash * 1000, 1),
            "share_of_bcrypt_limit": login_storm.bcrypt_limit(logins / elapsed, one_hash)[1],
            "login_ms": percentiles([ms for done, _ in parts for ms in done]),
            "cpu_ms_per_login": {who: round(1000 * cpu / max(1, logins), 1)
                                 for who, cpu in usage["cpu_s"].items()}}


def login_row(result):
    return {"logins_per_s": result["logins_per_s"], "bcrypt_hash_ms": result["bcrypt_hash_ms"],
            "share_of_bcrypt_limit": result["share_of_bcrypt_limit"],
            "cpu_ms_per_login": result["cpu_ms_per_login"], "statuses": result["statuses"]}


# Chat ------------------------------------------------------------------------------

def chat_ridewire(cfg, request=QUICKCHAT_SEND, ok_statuses=("201",)):
    with common.Stack("versus-chat", own_servers=True) as stack:
        service = stack.serve("realtime_service", PRESENCE_EVENTS="compat")
        docs = stack.seed("user", cfg["users"])
        users = [{"id": str(doc["_id"]), "token": token}
                 for doc, token in zip(docs, common.tokens_for(docs, "user"), strict=True)]
        return chat(cfg, users, service.port, common.worker_pid(service),
                    stack.db_server.proc.pid, ok_statuses, request)


def chat_ridewire_http(cfg):
    """Ridewire's own route: Bearer token, X-Socket-ID (no echo to the sending socket)."""
    return chat_ridewire(cfg, push_latency.RIDEWIRE_SEND)


def chat_ridewire_socket(cfg):
    """Ridewire's own socket event, acknowledged, with a clientMessageId."""
    return chat_ridewire(cfg, push_latency.RIDEWIRE_SOCKET_SEND, ("ack",))


def chat_peer(cfg):
    with peers.Peer(peers.QUICKCHAT, tempfile.mkdtemp(prefix="versus-")) as peer:
        users = peer.seed(cfg["users"])
        # QuickChat answers a failed send 200 {success: false}: it is then counted as
        # lost, since its newMessage never arrives.
        return chat(cfg, users, peer.port, peer.pid, peer.db_server.proc.pid, ("200",))


def chat(cfg, users, port, server_pid, db_pid, ok_statuses, request=QUICKCHAT_SEND):
    specs = push_latency.plan(users, cfg["pairs"], cfg["workers"], [port])
    for spec in specs:
        spec["request"] = request
    setup, steps, _ = push_latency.ramp("versus-chat", cfg, specs, {"server": server_pid},
                                        db_pid, ok_statuses)
    return {"setup": setup, "steps": steps}


def held(step):
    """Whether a step's rate was delivered for the whole step: every send accepted,
    nothing lost, at least 95 % of the offered rate, and no queue growing through it
    (p99 under SATURATED_P99_MS)."""
    push = step.get("push_ms") or {}
    return bool(not step.get("skipped") and step["lost"] == 0 and push
                and step["achieved_rate"] >= 0.95 * step["offered_rate"]
                and push["p99"] < push_latency.SATURATED_P99_MS
                and step["delivered"] == sum(step["statuses"].values()))


def chat_row(result):
    setup, steps = result["setup"], result["steps"]
    ok = [s for s in steps if s.get("ok")]
    best = max(ok, key=lambda s: s["achieved_rate"], default=None)
    saturation = max((s for s in steps if held(s)), key=lambda s: s["achieved_rate"],
                     default=None)
    return {"connected": setup["connected"],
            "connects_to_quiet_s": round(setup["connect_s"] + setup["settle_s"], 1),
            "connect_cpu_s": setup["cpu"]["cpu_s"],
            "saturation_msgs_per_s": saturation and saturation["achieved_rate"],
            "saturation_offered": saturation and saturation["offered_rate"],
            "highest_rate_p99_under_100ms": best and best["achieved_rate"],
            "cpu_ms_per_msg_at_best": best and best["cpu_ms_per_msg"],
            "steps": [{"offered": s["offered_rate"], "achieved": s.get("achieved_rate"),
                       "p50_ms": (s.get("push_ms") or {}).get("p50"),
                       "p99_ms": (s.get("push_ms") or {}).get("p99"), "lost": s.get("lost"),
                       "statuses": s.get("statuses"), "held": held(s),
                       "cpu_ms_per_msg": s.get("cpu_ms_per_msg")}
                      for s in steps if not s.get("skipped")]}


# The rows --------------------------------------------------------------------------

# Each row: its peer, Ridewire's sides (the first is the headline), the peer's side, the
# summary of one trial and the measure compared.
ROWS = {
    "profile": (peers.UBER, {"ridewire": profile_ridewire}, profile_peer, profile_row,
                "requests_per_s"),
    "login": (peers.UBER, {"ridewire": login_ridewire}, login_peer, login_row,
              "logins_per_s"),
    "chat": (peers.QUICKCHAT, {"ridewire-socket": chat_ridewire_socket,
                               "ridewire-http": chat_ridewire_http,
                               "ridewire-compat": chat_ridewire},
             chat_peer, chat_row, "saturation_msgs_per_s"),
    "connects": (peers.QUICKCHAT, {"ridewire-delta": versus_connects.ridewire_delta,
                                   "ridewire-compat": versus_connects.ridewire_compat,
                                   "ridewire-batch": versus_connects.ridewire_batch},
                 versus_connects.peer, versus_connects.row, "connects_to_quiet_s"),
}


def run_row(name, trials, cfg):
    """The row's trials, alternating; without its peer, Ridewire's sides alone (so that
    `make test` runs every row's Ridewire half even where no peer is cloned)."""
    kind, ours, theirs, summarize, key = ROWS[name]
    reason = peers.problem(kind)
    if reason:
        print(f"[versus] {name}: Ridewire alone ({reason})", flush=True)
    sides = [(who, measure) for who, measure in
             list(ours.items()) + ([] if reason else [(kind.name, theirs)])
             if who in chosen(who, "BENCH_VERSUS_SIDES")]
    runs = {who: [] for who, _ in sides}
    for trial in range(trials):
        for who, measure in sides if trial % 2 == 0 else sides[::-1]:
            row = summarize(measure(cfg))
            runs[who].append(row)
            print(f"[versus] {name} trial {trial + 1} {who}: {key} {row[key]}", flush=True)
            time.sleep(1)
    medians = {who: median([r[key] for r in rows]) for who, rows in runs.items()}
    theirs_median = medians.get(kind.name)
    ratios = {who: (round(medians[who] / theirs_median, 2)
                    if medians[who] is not None and theirs_median else None)
              for who in ours if who in medians}
    print(f"[versus] {name}: {key} medians {medians}, ratios {ratios}", flush=True)
    result = {"peer": kind.name, "peer_missing": reason, "measure": key, "medians": medians,
              "ratio": next(iter(ratios.values()), None), "ratios": ratios, "trials": runs}
    if name == "chat" and runs.get(kind.name):
        result["p99_ms_at_peer_saturation"] = p99_at_saturation(runs, kind.name)
    return result


def p99_at_saturation(runs, peer):
    """Each side's p99 (median over its trials) at the offered rate of the peer's
    saturation step (the median of the peer's trials)."""
    rate = median([r["saturation_offered"] for r in runs[peer]])
    if rate is None:
        return None
    at = {}
    for who, rows in runs.items():
        found = [s["p99_ms"] for r in rows for s in r["steps"]
                 if s["offered"] == min((s["offered"] for s in r["steps"]
                                         if s["offered"] >= rate), default=None)]
        at[who] = median(found)
    return {"offered": rate, "p99_ms": at}


def chosen(name, variable):
    """The names listed in the environment variable (comma-separated), or `name` alone
    when it is not set: each row, side and trial count can be narrowed for an A/B."""
    listed = [part for part in os.environ.get(variable, "").split(",") if part]
    return listed or [name]


def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 1) if values else None


def run(size="full", out_dir=None):
    cfg = SIZES[size]
    trials = int(os.environ.get("BENCH_VERSUS_TRIALS", cfg["trials"]))
    result = {"size": size, "config": cfg, "load_average_before": os.getloadavg(),
              "rows": {name: run_row(name, trials, cfg[name]) for name in ROWS
                       if name in chosen(name, "BENCH_VERSUS_ROWS")}}
    result["load_average_after"] = os.getloadavg()
    common.write_result("versus", result, out_dir)
    return result


if __name__ == "__main__":
    import sys

    run(sys.argv[1] if len(sys.argv) > 1 else "full")
