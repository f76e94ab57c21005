"""Scenario 11: a reconnect storm under connection state recovery.

RECEIVERS users hold a websocket each (the lean client, which speaks recovery as
socket.io-client does) while separate sender accounts send them chat messages over
`POST /messages/send/<id>` at a steady RATE, open loop, round-robin over the
receivers, each text carrying a sequence number. After STEADY_S seconds of steady
sending, every receiver's connection is dropped at once (`transport.abort()`: no
close frame, as a network cut) and all reconnect at once (CONCURRENCY handshakes in
flight per load-client process) with their `pid` and last offset, while the senders
keep sending for AFTER_S more seconds.

Measured: the time from the drop until every receiver was back (and recovered: the
same `pid` and socket id), how many recovered, the messages replayed (received on the
new connection, their POST answered before it was back), lost (a 201 whose message
never reached its receiver: must be 0) and duplicated (received twice: must be 0),
events whose offset was not after the previous one, and the realtime worker's CPU:
its CPU per message while sending steadily, its CPU in the storm window (drop to all
back, plus TAIL_S), and that window's excess over what the messages answered in it
cost, per recovery. Also per phase (steady, storm, after): POST times and send to
receipt. Receivers whose connection the server closes later (one that does not read,
SOCKET_MAX_QUEUED_PACKETS) come back after about a second, as socket.io-client does;
their comebacks are counted. Once without Redis (the log in the worker's memory) and
once with REDIS_URL (a Redis Stream). `PRESENCE_EVENTS=delta`: a user back within
PRESENCE_GRACE_SECONDS (5 s) is announced neither offline nor online.

BENCH_STORM_RECEIVERS=n changes the number of receivers, BENCH_STORM_SETUPS=embedded
(or redis) runs one setup, BENCH_STORM_GRACE=s sets PRESENCE_GRACE_SECONDS.
"""
import os
import time

from bench import common
from bench.loadclient import Fleet
from bench.reconnect_tally import summarize, tally

SIZES = {
    "full": {"receivers": 1000, "senders": 20, "workers": 2, "rate": 100.0,
             "steady_s": 15.0, "after_s": 15.0, "tail_s": 5.0, "concurrency": 100},
    "tiny": {"receivers": 6, "senders": 2, "workers": 2, "rate": 10.0,
             "steady_s": 2.0, "after_s": 2.0, "tail_s": 1.0, "concurrency": 10},
}
SETUPS = {"embedded": False, "redis": True}
WARMUP_S = 1.0  # sending before the steady window: the HTTP connections open
DRAIN_S = 15.0


def run(size="full", out_dir=None):
    cfg = dict(SIZES[size])
    if os.environ.get("BENCH_STORM_RECEIVERS"):  # another number of receivers
        cfg["receivers"] = int(os.environ["BENCH_STORM_RECEIVERS"])
    if os.environ.get("BENCH_STORM_SETUPS"):  # "embedded", "redis" or both
        cfg["setups"] = os.environ["BENCH_STORM_SETUPS"].split(",")
    cfg["server_env"] = {"PRESENCE_EVENTS": "delta"}
    if os.environ.get("BENCH_STORM_GRACE"):
        cfg["server_env"]["PRESENCE_GRACE_SECONDS"] = os.environ["BENCH_STORM_GRACE"]
    result = {"size": size, "config": cfg, "setups": {}}
    for name in cfg.get("setups", SETUPS):
        result["setups"][name] = storm(cfg, name, SETUPS[name])
    common.write_result("reconnect_storm", result, out_dir)
    return result


def storm(cfg, name, with_redis):
    loadavg = {"start": os.getloadavg()}
    with common.Stack(f"reconnect-storm-{name}", redis_server=with_redis) as stack:
        service = stack.serve("realtime_service", **cfg["server_env"])
        pids = {"server": common.worker_pid(service), "db": stack.db_server.proc.pid}
        if with_redis:
            pids["redis"] = stack.servers.redis_proc.proc.pid
        receivers = accounts(stack, cfg["receivers"])
        senders = accounts(stack, cfg["senders"])
        workers = cfg["workers"]
        specs = [{"port": service.port, "receivers": receivers[w::workers]}
                 for w in range(workers)]
        sender_spec = {"port": service.port, "senders": senders,
                       "receivers": [r["id"] for r in receivers]}
        with Fleet("bench.reconnect_clients:ReceiverWorker", specs) as fleet, \
                Fleet("bench.reconnect_clients:SenderWorker", [sender_spec]) as sending:
            parts = fleet.call("connect", timeout=600)
            setup = {"connected": sum(p["connected"] for p in parts),
                     "failures": [p["failures"] for p in parts if p["failures"]],
                     "connect_s": max(p["seconds"] for p in parts),
                     "settle_s": common.wait_idle([pids["server"]], timeout=300)}
            print(f"[storm {name}] {setup['connected']}/{cfg['receivers']} receivers "
                  f"connected in {setup['connect_s']} s", flush=True)
            phases = drive(cfg, fleet, sending, pids, loadavg)
            outcomes = [o for part in phases.pop("outcomes") for o in part]
            records = phases.pop("sent")
            got = drain(fleet, records)
            collected = [c for part in fleet.call("collect") for c in part]
            fleet.call("close")
    loadavg["end"] = os.getloadavg()
    counts = tally(records, collected, outcomes)
    result = summarize(name, cfg, setup, phases, outcomes, counts, loadavg, records,
                       collected)
    result["drained"] = got
    return result


def accounts(stack, count):
    docs = stack.seed("user", count)
    return [{"id": str(doc["_id"]), "token": token}
            for doc, token in zip(docs, common.tokens_for(docs, "user"), strict=True)]


def drive(cfg, fleet, sending, pids, loadavg):
    """Steady sending, the storm, sending on: the CPU and frames of each phase."""
    sending.call("start", rate=cfg["rate"])
    time.sleep(WARMUP_S)
    steady = common.CpuMeter(**pids)
    time.sleep(cfg["steady_s"])
    phases = {"steady": steady.read()}
    frames_before = merged_frames(fleet)
    loadavg["drop"] = os.getloadavg()
    meter, client_cpu = common.CpuMeter(**pids), list(fleet.cpu)
    phases["outcomes"] = fleet.call("storm", concurrency=cfg["concurrency"], timeout=900)
    phases["storm"] = meter.read()
    phases["storm"]["receiver_workers_cpu_s"] = [
        round(after - before, 2) for before, after in zip(client_cpu, fleet.cpu, strict=True)]
    time.sleep(cfg["tail_s"])
    phases["storm_and_tail"] = meter.read()
    after = common.CpuMeter(**pids)
    time.sleep(max(0.0, cfg["after_s"] - cfg["tail_s"]))
    phases["after"] = after.read()
    phases["at"] = {"steady": steady.started, "drop": meter.started,
                    "back": meter.started + phases["storm"]["wall_s"],
                    "tail": after.started, "end": after.started + phases["after"]["wall_s"]}
    frames_after = merged_frames(fleet)
    phases["storm_frames"] = {event: count - frames_before.get(event, 0)
                              for event, count in frames_after.items()}
    sent = sending.call("stop", timeout=300)[0]
    phases["sent"], phases["send_elapsed_s"] = sent["records"], sent["elapsed"]
    return phases


def merged_frames(fleet):
    merged = {}
    for part in fleet.call("frames"):
        for event, count in part["frames"].items():
            merged[event] = merged.get(event, 0) + count
    return merged


def drain(fleet, records):
    """Wait (bounded) until as many messages arrived as were answered 201."""
    expected = sum(1 for record in records if record[4] == "201")
    deadline, got = time.monotonic() + DRAIN_S, 0
    while time.monotonic() < deadline:
        got = sum(fleet.call("received"))
        if got >= expected:
            break
        time.sleep(0.1)
    return {"expected": expected, "received": got}


if __name__ == "__main__":
    import sys

    run(sys.argv[1] if len(sys.argv) > 1 else "full")
