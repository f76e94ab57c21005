"""Print the BENCHMARKS.md results table from bench/results/*.json.

    .venv/bin/python -m bench.report [results dir]
"""
import json
import sys
from pathlib import Path

from bench.common import RESULTS


def load(directory):
    return {path.stem: json.loads(path.read_text())
            for path in sorted(Path(directory).glob("*.json"))}


def push_rows(name, result, label):
    rows = []
    steps = [s for s in result["steps"] if not s.get("skipped")]
    for step in steps:
        push, cpu = step["push_ms"] or {}, step["cpu_ms_per_msg"]
        rows.append((f"{label}: push at {step['offered_rate']} msg/s "
                     f"({step['achieved_rate']} achieved, {step['lost']} lost)",
                     f"p50 {push.get('p50')} / p95 {push.get('p95')} / p99 {push.get('p99')} ms",
                     f"CPU ms/msg {cpu}"))
    rows.append((f"{label}: sustained rate with p99 < 100 ms",
                  f"{result['sustained_msgs_per_s']} msg/s",
                  f"{result['setup']['connected']} users connected in "
                  f"{result['setup']['connect_s']} s (+{result['setup']['settle_s']} s settle)"))
    return rows


def rows(results):
    out = []
    if "push_latency" in results:
        out += push_rows("push_latency", results["push_latency"], "1")
    if "dispatch" in results:
        r = results["dispatch"]
        out.append(("2: POST /rides to the last of 500 captains' new-ride (median of 20)",
                    f"{r['median_last_new_ride_ms']} ms (first {r['median_first_new_ride_ms']})",
                    f"POST answered in {r['median_post_ms']} ms"))
        out.append(("2: accept race (first accept sent to last answer, median)",
                    f"{r['median_race_ms']} ms", f"one winner every time: "
                    f"{r['all_races_one_winner']}; rider confirmed after "
                    f"{r['median_confirmed_ms']} ms"))
    if "connections" in results:
        ramp = results["connections"]["ramp"]
        last = ramp["steps"][-1]
        out.append(("3: authenticated websockets held", f"{last['open']}",
                    "failures: " + (str(last["failures"]) if last["failures"] else "none")))
        out.append(("3: connects per second (per step)",
                    ", ".join(str(s["connects_per_s"]) for s in ramp["steps"]),
                    f"server RSS {last['server_rss_mb']} MiB"))
        out.append(("3: server memory per connection", f"{last['kib_per_connection']} KiB", ""))
        b = ramp["broadcast"]
        out.append((f"3: broadcast of {b['payload_bytes'] // 1024} KiB to {b['recipients']}",
                    f"last receipt {b['last_ms']} ms", f"p50 {(b['receipt_ms'] or {}).get('p50')}"
                    " ms"))
        for mode, storm in results["connections"]["storm"].items():
            out.append((f"3: {storm['users']} users connect, presence {mode}",
                        f"{storm['settled_s']} s, {sum(storm['frames'].values())} frames, "
                        f"{storm['megabytes']} MiB", f"server {storm['server_cpu_s']} CPU-s"))
    if "login_storm" in results:
        r = results["login_storm"]
        out.append((f"4: logins/s, {r['config']['clients']} clients, bcrypt cost "
                    f"{r['config']['rounds']}", f"{r['logins_per_s']}/s",
                    f"bcrypt limit {r['bcrypt_limit_per_s']}/s ({r['bcrypt_hash_ms']} ms/hash)"))
        out.append(("4: GET /healthz p99 during the storm (idle)",
                    f"{r['healthz_storm_ms']['p99']} ms ({r['healthz_idle_ms']['p99']} ms)", ""))
    if "profile" in results:
        r = results["profile"]
        out.append(("5: GET /users/profile, 64 connections", f"{r['requests_per_s']} req/s",
                     f"p50 {r['latency_ms']['p50']} / p99 {r['latency_ms']['p99']} ms"))
    if "scaleout" in results:
        out += push_rows("scaleout", results["scaleout"], "6")
    if "query_costs" in results:
        first, last = results["query_costs"]["steps"][0], results["query_costs"]["steps"][-1]
        for query, cost in last["ms_per_query"].items():
            out.append((f"7: {query}, ms per query", f"{first['ms_per_query'][query]} -> {cost}",
                        f"empty -> {last['rides']} rides, {last['messages']} messages"))
    if "signaling" in results:
        out += signaling_rows(results["signaling"])
    for name, result in results.items():
        if name.startswith("reconnect_storm"):
            out += storm_rows(result)
    if "idle_memory" in results:
        for step in results["idle_memory"]["ramp"]["steps"]:
            out.append((f"12: {step['open']} idle websockets, worker RSS per socket",
                        f"{step['kib_per_socket']} KiB",
                        f"{step['greenlets_per_socket']} greenlets, "
                        f"{step['objects_per_socket']} objects per socket"))
    return out


def storm_rows(result):
    """One row per setup of scenario 11: every receiver dropped at once."""
    rows = []
    grace = result["config"].get("server_env", {}).get("PRESENCE_GRACE_SECONDS", "5")
    for name, setup in result["setups"].items():
        storm, messages = setup["storm"], setup["messages"]
        rows.append((f"11: {storm['receivers']} receivers dropped at once, {name}, presence "
                     f"grace {grace} s",
                     f"{storm['recovered']} recovered, all after {storm['all_recovered_s']} s; "
                     f"{messages['replayed']} replayed, lost {messages['lost_of_recovered']} "
                     f"(+{messages['lost_of_not_recovered']} to new sessions), duplicated "
                     f"{messages['duplicated']}",
                     f"worker CPU per recovery {storm['excess_cpu_ms_per_recovery']['server']} ms"))
    return rows


def signaling_rows(result):
    """One row per step of scenario 9: rooms negotiating at once."""
    rows = []
    for step in result["steps"]:
        burst, every = step["first_round_offer_ms"] or {}, step["first_offer_ms"] or {}
        rows.append((f"9: {step['rooms']} call rooms negotiating at once "
                     f"({step['setups']} set-ups, {step['failures']} failed)",
                     f"join to first relayed offer p50 {every.get('p50')} / p99 "
                     f"{every.get('p99')} ms (first round {burst.get('p50')} / "
                     f"{burst.get('p99')} ms); {step['signals_per_s']} signals/s",
                     f"CPU s per set-up {step['cpu_s_per_setup']}"))
    return rows


def main():
    results = load(sys.argv[1] if len(sys.argv) > 1 else RESULTS)
    print("| Scenario | Result | Notes |\n|---|---|---|")
    for scenario, value, note in rows(results):
        print(f"| {scenario} | {value} | {note} |")
    for name, result in results.items():
        print(f"\n{name}: {provenance(result)}")


def provenance(result):
    """When a result was taken and the load then; an extract saved by hand may lack both."""
    loadavg = result.get("machine", {}).get("loadavg")
    load = [round(x, 2) for x in loadavg] if loadavg else "not recorded"
    taken = result.get("taken_at", "at an unrecorded time")
    return f"taken {taken}, load average at the end {load}"


if __name__ == "__main__":
    main()
