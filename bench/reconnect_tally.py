"""What the reconnect storm (bench.reconnect_storm) delivered: every message answered
201 matched against what its receiver got, and the storm's times and CPU.

A message is **lost** when its POST was answered 201 and its receiver never got it,
**duplicated** for every copy past the first, **replayed** when its receiver got it on
the new connection although its POST was answered before that connection was back
(it was pushed while the receiver was away, or was on the wire when it dropped; the
two are counted apart), and **in flight** when the POST was answered after the
receiver was back but sent before (either way). Lost messages are counted apart by
whether their receiver was recovered every time it came back (in the storm, and after
the server closed its connection, if it did): for those, a loss is a bug; a receiver
given a new session instead missed by design what was sent while it was away (its
application reloads history). Messages to a receiver that never connected (its
connection failed in the set-up, on a loaded machine) are neither: counted apart, not
lost. Times are `time.monotonic()`, shared by every process
of the machine.
"""
from collections import Counter

from bench.loadclient import percentiles

DETAILS = 20  # examples kept of each kind of failure


def tally(records, collected, outcomes):
    """Counts and examples from the senders' records `(seq, receiver, issued,
    answered, status)`, the receivers' `got` and their storm outcomes."""
    sent = {seq: (receiver, issued, answered) for seq, receiver, issued, answered, status
            in records if status == "201"}
    failed = {seq: receiver for seq, receiver, _, _, status in records if status != "201"}
    by_id = {outcome["id"]: outcome for outcome in outcomes}
    always = {r["id"] for r in collected if r["id"] in by_id and all(
        c["recovered"] and c["same_sid"] for c in r["comebacks"])}
    counts = Counter()
    lost, lost_recovered, duplicated, unexpected = [], [], [], []
    got_by_id = {r["id"]: r for r in collected}
    for receiver in collected:
        outcome = by_id.get(receiver["id"], {})
        for seq, receipts in receiver["got"].items():
            if failed.get(seq) == receiver["id"]:
                counts["received_though_post_failed"] += 1
            elif seq not in sent or sent[seq][0] != receiver["id"]:
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
            counts["lost_recovered" if receiver_id in always else "lost_not_recovered"
                   if receiver_id in by_id else "lost_never_connected"] += 1
            lost.append(example(seq, sent[seq], outcome, []))
            if receiver_id in always:
                lost_recovered.append(neighbours(lost[-1], got_by_id[receiver_id], outcome))
            continue
        counts["received"] += 1
        counts[away(outcome, issued, answered, receipts[0][0])] += 1
    disorder = [pair for receiver in collected for pair in receiver["disorder"]]
    later = [c for r in collected for c in r["comebacks"] if not c["in_storm"]]
    return {"sent_ok": len(sent), "received": counts["received"],
            "lost": counts["lost_recovered"] + counts["lost_not_recovered"],
            "lost_of_recovered": counts["lost_recovered"],
            "lost_of_not_recovered": counts["lost_not_recovered"],
            "to_never_connected": counts["lost_never_connected"],
            "duplicated": counts["duplicated"], "unexpected": len(unexpected),
            "received_though_post_failed": counts["received_though_post_failed"],
            "receivers_always_recovered": len(always),
            "later_comebacks": len(later),
            "later_comebacks_recovered": sum(c["recovered"] and c["same_sid"] for c in later),
            "replayed": counts["answered_while_away"] + counts["on_the_wire"],
            "replayed_answered_while_away": counts["answered_while_away"],
            "replayed_answered_before_drop": counts["on_the_wire"],
            "in_flight_at_resume": counts["in_flight"],
            "offsets_out_of_order": len(disorder),
            "events_before_connect": sum(r["early"] for r in collected),
            "examples": {"lost": lost[:DETAILS], "lost_of_recovered": lost_recovered[:DETAILS],
                         "duplicated": duplicated[:DETAILS],
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


def neighbours(story, receiver, outcome):
    """A lost message's story with what its receiver got just before and after it was
    sent (times and offsets) and each time the receiver came back."""
    dropped = outcome.get("dropped_at") or 0.0
    receipts = sorted((at, offset, seq) for seq, got in receiver["got"].items()
                      for at, offset in got)
    sent_s = story.get("answered_s", 0.0)
    before = [r for r in receipts if r[0] - dropped <= sent_s][-3:]
    after = [r for r in receipts if r[0] - dropped > sent_s][:3]
    return {**story, "near": [(round(at - dropped, 4), offset, seq)
                              for at, offset, seq in before + after],
            "comebacks": [{key: (round(value - dropped, 4) if key.endswith("_at") and value
                                 else value) for key, value in comeback.items()
                           if key not in ("attempt_errors", "id")}
                          for comeback in receiver["comebacks"]]}


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


def comeback_story(outcome, since):
    """How one comeback went: when it was back (seconds after `since`), its attempts and
    their errors, whether the answer had the same pid and socket id."""
    resumed = outcome["resumed_at"]
    return {"id": outcome["id"], "back_s": None if resumed is None else round(resumed - since, 3),
            "attempts": outcome["attempts"], "attempt_errors": outcome["attempt_errors"],
            "error": outcome["error"], "same_pid": outcome["same_pid"],
            "same_sid": outcome["same_sid"]}


def summarize(name, cfg, setup, phases, outcomes, counts, loadavg, records, collected):
    """The result of one setup (embedded or Redis), printed in one line."""
    timing, answered = by_phase(records, collected, phases["at"])
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
        "back_within_s": {str(s): sum(o["resumed_at"] - dropped <= s for o in back)
                          for s in (1, 2, 5, 10, 30, 60, 120)},
        "recovered_within_s": {str(s): sum(o["resumed_at"] - dropped <= s for o in recovered)
                               for s in (1, 2, 5, 10, 30, 60, 120)},
        "frames": phases["storm_frames"],
        "receiver_workers_cpu_s": phases["storm"].get("receiver_workers_cpu_s"),
        "not_recovered_examples": [comeback_story(o, dropped) for o in outcomes
                                   if not (o["recovered"] and o["same_sid"])][:DETAILS],
        "later_not_recovered_examples": [
            comeback_story(c, c["lost_at"]) for r in collected for c in r["comebacks"]
            if not c["in_storm"] and not (c["recovered"] and c["same_sid"])][:DETAILS],
    }
    storm.update(cpu_costs(phases, len(recovered), answered))
    ok = statuses.get("201", 0)
    result = {"setup": name, "redis": name == "redis", "receivers": cfg["receivers"],
              "senders": cfg["senders"], "connect": setup,
              "offered_rate": cfg["rate"],
              "achieved_rate": round(ok / phases["send_elapsed_s"], 1),
              "statuses": dict(statuses), "steady": phases["steady"],
              "storm": storm, "after": phases["after"], "messages": counts,
              "by_phase": timing,
              "loadavg": loadavg}
    print(f"[storm {name}] {storm['recovered']}/{storm['receivers']} recovered "
          f"({storm['not_recovered']} new sessions, {storm['failed']} failed), all back "
          f"{storm['all_back_s']} s after the drop, away {storm['away_ms']} ms; messages "
          f"{counts['sent_ok']} sent, {counts['replayed']} replayed, lost {counts['lost']}, "
          f"duplicated {counts['duplicated']}, out of order "
          f"{counts['offsets_out_of_order']}; later comebacks {counts['later_comebacks']} "
          f"({counts['later_comebacks_recovered']} recovered); worker cpu steady "
          f"{storm['steady_cpu_per_s']['server']} s/s, storm {storm['cpu_s']['server']} s, "
          f"excess per recovery {storm['excess_cpu_ms_per_recovery']['server']} ms; "
          f"statuses {dict(statuses)}", flush=True)
    return result


def cpu_costs(phases, recoveries, answered):
    """The storm's CPU per process: in the drop-to-all-back window, and its excess in
    that window plus the tail over what the messages answered meanwhile cost at the
    steady phase's CPU per message (and, for comparison, over the steady CPU rate),
    per recovery. A starved server cannot spend more than its share: then the rate is
    no baseline, the work is."""
    steady, storm, tail = phases["steady"], phases["storm"], phases["storm_and_tail"]
    rate = {who: cpu / steady["wall_s"] for who, cpu in steady["cpu_s"].items()}
    per_message = {who: cpu / max(answered["steady"], 1)
                   for who, cpu in steady["cpu_s"].items()}
    by_work = {who: tail["cpu_s"][who] - per_message[who] * answered["storm_and_tail"]
               for who in rate}
    by_rate = {who: tail["cpu_s"][who] - rate[who] * tail["wall_s"] for who in rate}

    def per_recovery(values):
        return {who: round(1000 * value / recoveries, 2) if recoveries else None
                for who, value in values.items()}

    return {
        "window_s": storm["wall_s"], "window_with_tail_s": tail["wall_s"],
        "steady_cpu_per_s": {who: round(value, 3) for who, value in rate.items()},
        "steady_cpu_ms_per_message": {who: round(1000 * value, 2)
                                      for who, value in per_message.items()},
        "cpu_s": storm["cpu_s"], "cpu_s_with_tail": tail["cpu_s"],
        "cpu_ms_per_receiver": {who: round(1000 * cpu / max(recoveries, 1), 2)
                                for who, cpu in storm["cpu_s"].items()},
        "excess_cpu_ms_per_recovery": per_recovery(by_work),
        "excess_over_steady_rate_ms_per_recovery": per_recovery(by_rate),
    }


def by_phase(records, collected, at):
    """Per phase of the run (by when a POST was sent): answered, POST time, and send
    to first receipt (ms)."""
    first = {seq: min(when for when, _ in receipts) for r in collected
             for seq, receipts in r["got"].items()}
    bounds = {"steady": (at["steady"], at["drop"]), "storm": (at["drop"], at["back"]),
              "storm_and_tail": (at["drop"], at["tail"]), "after": (at["tail"], at["end"])}
    result, answered = {}, {}
    for name, (start, end) in bounds.items():
        mine = [r for r in records if start <= r[2] < end]
        answered[name] = sum(1 for r in records if r[4] == "201" and start <= r[3] < end)
        result[name] = {"sent": len(mine), "answered_201": answered[name],
                        "post_ms": percentiles([(r[3] - r[2]) * 1000 for r in mine]),
                        "receipt_ms": percentiles([(first[r[0]] - r[2]) * 1000 for r in mine
                                                   if r[0] in first])}
    return result, answered
