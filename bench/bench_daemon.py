"""The daemon's idle polling cost and the claim race: what GitHub sees."""

import os
import statistics
import threading
import time

from bench.hubbench import TOKEN, Hub, make_target

TITLE = "daemon idle cycles and the claim race (hub in-process)"


def run(ctx) -> list[dict]:
    from cxo import envelope
    from cxo import policy as policy_mod
    from cxo.connect import tracker_for
    from cxo.daemon import Daemon
    from cxo.steps import claim

    hub = Hub(ctx.work)
    try:
        os.environ.update({"GITHUB_TOKEN": TOKEN, "CXO_STATE_DIR": str(ctx.work / "state")})
        owner, clone = make_target(hub, ctx.work, "daemon", {})
        for n in range(50):
            hub.call("POST", f"/repos/{owner}/daemon/issues", {"title": f"not ours {n}", "labels": ["bug"]})
        pol = policy_mod.load(clone)
        daemon = Daemon(pol, tracker_for(pol), say=lambda m: None)
        daemon.cycle()
        before = hub.stats()
        cycles = 10
        for _ in range(cycles):
            daemon.cycle()
        after = hub.stats()
        billable = (after["billable"] - before["billable"]) / cycles
        requests = (after["total"] - before["total"]) / cycles

        latencies, winners = [], []
        for round_ in range(5):
            number = hub.call("POST", f"/repos/{owner}/daemon/issues",
                              {"title": f"race {round_}", "labels": ["agent:auto"]})["number"]
            results, start = [], threading.Barrier(8)

            def racer(results=results, start=start, number=number):
                tracker = tracker_for(pol)
                start.wait()
                began = time.perf_counter()
                env = claim.run(envelope.new(clone, number), policy=pol, say=lambda m: None, tracker=tracker)
                results.append((env["status"], time.perf_counter() - began))

            threads = [threading.Thread(target=racer) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            won = [seconds for status, seconds in results if status == "ok"]
            winners.append(len(won))
            latencies.extend(won)
        return [
            {"what": "API requests per idle daemon cycle (50 open issues)", "value": requests, "unit": "requests"},
            {"what": "billable requests per idle daemon cycle", "value": billable, "unit": "requests", "target": 0},
            {"what": "races of 8 claimers without exactly one winner (of 5)",
             "value": sum(w != 1 for w in winners), "unit": "races", "target": 0},
            {"what": "claim latency of the winner among 8 racers (median)", "value": statistics.median(latencies),
             "unit": "s"},
        ]
    finally:
        hub.stop()
