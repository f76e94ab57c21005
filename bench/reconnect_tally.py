"""What the reconnect storm (bench.reconnect_storm) delivered: every message answered
201 matched against what its receiver got, and the storm's times and CPU.

A message is **lost** when its POST was answered 201 and its receiver never got it,
**duplicated** for every copy past the first, **replayed** when its receiver got it on
the new connection although its POST was answered before that connection was back
(it was pushed while the receiver was away, or was on the wire when it dropped), and
**in flight** when the POST was answered after the receiver was back but sent before
(either way). Replayed messages are counted apart by whether their POST was answered
while the receiver was away or before it dropped (on the wire, or queued for the old
connection). Times are `time.monotonic()`, shared by every process of the machine.
"""
from collections import Counter

from bench.loadclient import percentiles

DETAILS = 20  # examples kept of each kind of failure


def tally(records, collected, outcomes):
    """Counts and examples from the senders' records `(seq, receiver, issued,
    answered, status)`, the receivers' `got` and their storm outcomes."""
    sent = {seq: (receiver, issued, answered) for seq, receiver, issued, answered, status
            in records if status == "201"}
    by_id = {outcome["id"]: outcome for outcome in outcomes}
    counts = Counter()
    lost, duplicated, unexpected = [], [], []
    for receiver in collected:
        outcome = by_id.get(receiver["id"], {})
        for seq, receipts in receiver["got"].items():
            if seq not in sent or sent[seq][0] != receiver["id"]:
                unexpected.append({"seq": seq, "receiver": receiver["id"]})
            if len(receipts) > 1:
                counts["duplicated"] += len(receipts) - 1
                duplicated.append(example(seq, sent.get(seq), outcome, receipts))
    receipts_of = {(r["id"], seq): receipts for r in collected
                   for seq, receipts in r["got"].items()}
    for seq, (receiver_id, issued, answered) in sent.items():
        outcome = by_id.get(receiver_id, {})
        receipts = receipts_of.get((receiver_id, seq))
        if not receipts:
            counts["lost_recovered" if outcome.get("recovered") else "lost_not_recovered"] += 1
            lost.append(example(seq, sent[seq], outcome, []))
            continue
        counts["received"] += 1
        counts[away(outcome, issued, answered, receipts[0][0])] += 1
    disorder = [pair for receiver in collected for pair in receiver["disorder"]]
    return {"sent_ok": len(sent), "received": counts["received"],
            "lost": counts["lost_recovered"] + counts["lost_not_recovered"],
            "lost_of_recovered": counts["lost_recovered"],
            "lost_of_not_recovered": counts["lost_not_recovered"],
            "duplicated": counts["duplicated"], "unexpected": len(unexpected),
            "replayed": counts["answered_while_away"] + counts["on_the_wire"],
            "replayed_answered_while_away": counts["answered_while_away"],
            "replayed_answered_before_drop": counts["on_the_wire"],
            "in_flight_at_resume": counts["in_flight"],
            "offsets_out_of_order": len(disorder),
            "examples": {"lost": lost[:DETAILS], "duplicated": duplicated[:DETAILS],
                         "unexpected": unexpected[:DETAILS],
                         "offsets_out_of_order": disorder[:DETAILS]}}


def away(outcome, issued, answered, first_at):
    """How a received message relates to its receiver's absence."""
    dropped, resumed = outcome.get("dropped_at"), outcome.get("resumed_at")
    if resumed is None or first_at < resumed:
        return "live"
    if answered <= resumed:
        return "on_the_wire" if answered < dropped else "answered_while_away"
    return "in_flight" if issued <= resumed else "live"


def example(seq, sent, outcome, receipts):
    """One message's story, its times relative to its receiver's drop (seconds)."""
    dropped = outcome.get("dropped_at") or 0.0
    resumed = outcome.get("resumed_at")
    story = {"seq": seq, "recovered": outcome.get("recovered"),
             "offset_at_drop": outcome.get("offset_at_drop"),
             "resumed_s": None if resumed is None else round(resumed - dropped, 4),
             "receipts": [(round(at - dropped, 4), offset) for at, offset in receipts]}
    if sent is not None:
        story.update(receiver=sent[0], issued_s=round(sent[1] - dropped, 4),
                     answered_s=round(sent[2] - dropped, 4))
    return story


def summarize(name, cfg, setup, phases, outcomes, counts, loadavg, records):
    """The result of one setup (embedded or Redis), printed in one line."""
    statuses = Counter(record[4] for record in records)
    dropped = min(outcome["dropped_at"] for outcome in outcomes)
    back = [o for o in outcomes if o["resumed_at"] is not None]
    recovered = [o for o in back if o["recovered"] and o["same_sid"]]
    storm = {
        "receivers": len(outcomes), "back": len(back), "recovered": len(recovered),
        "not_recovered": len(back) - len(recovered), "failed": len(outcomes) - len(back),
        "errors": dict(Counter(o["error"] for o in outcomes if o["error"])),
        "retried": sum(o["attempts"] > 1 for o in outcomes),
        "attempt_errors": dict(Counter(e for o in outcomes for e in o["attempt_errors"])),
        "all_back_s": round(max(o["resumed_at"] for o in back) - dropped, 3) if back else None,
        "all_recovered_s": round(max(o["resumed_at"] for o in recovered) - dropped, 3)
        if recovered else None,
        "away_ms": percentiles([(o["resumed_at"] - o["dropped_at"]) * 1000 for o in back]),
        "frames": phases["storm_frames"],
    }
    storm.update(cpu_costs(phases, len(recovered)))
    ok = statuses.get("201", 0)
    result = {"setup": name, "redis": name == "redis", "receivers": cfg["receivers"],
              "senders": cfg["senders"], "connect": setup,
              "offered_rate": cfg["rate"],
              "achieved_rate": round(ok / phases["send_elapsed_s"], 1),
              "statuses": dict(statuses), "steady": phases["steady"],
              "storm": storm, "after": phases["after"], "messages": counts,
              "loadavg": loadavg}
    print(f"[storm {name}] {storm['recovered']}/{storm['receivers']} recovered "
          f"({storm['not_recovered']} new sessions, {storm['failed']} failed), all back "
          f"{storm['all_back_s']} s after the drop, away {storm['away_ms']} ms; messages "
          f"{counts['sent_ok']} sent, {counts['replayed']} replayed, lost {counts['lost']}, "
          f"duplicated {counts['duplicated']}, out of order "
          f"{counts['offsets_out_of_order']}; worker cpu steady "
          f"{storm['steady_cpu_per_s']['server']} s/s, storm {storm['cpu_s']['server']} s, "
          f"excess per recovery {storm['excess_cpu_ms_per_recovery']['server']} ms; "
          f"statuses {dict(statuses)}", flush=True)
    return result


def cpu_costs(phases, recoveries):
    """The storm's CPU per process: in the drop-to-all-back window, and its excess
    over the steady rate in that window plus the tail, per recovery."""
    steady, storm, tail = phases["steady"], phases["storm"], phases["storm_and_tail"]
    rate = {who: cpu / steady["wall_s"] for who, cpu in steady["cpu_s"].items()}
    excess = {who: tail["cpu_s"][who] - rate[who] * tail["wall_s"] for who in rate}
    return {
        "window_s": storm["wall_s"], "window_with_tail_s": tail["wall_s"],
        "steady_cpu_per_s": {who: round(value, 3) for who, value in rate.items()},
        "cpu_s": storm["cpu_s"], "cpu_s_with_tail": tail["cpu_s"],
        "cpu_ms_per_receiver": {who: round(1000 * cpu / max(recoveries, 1), 2)
                                for who, cpu in storm["cpu_s"].items()},
        "excess_cpu_ms_per_recovery": {who: round(1000 * value / recoveries, 2)
                                       if recoveries else None
                                       for who, value in excess.items()},
    }
