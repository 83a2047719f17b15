"""One `agent:auto` issue through the whole pipeline against the hub, with a no-op agent and no checks."""

import os
import time

from bench.hubbench import TOKEN, Hub, make_target, noop_agent

TITLE = "agent:auto pipeline per issue (no-op agent, no checks; hub in-process)"
ROUNDS = 5


def run(ctx) -> list[dict]:
    from cxo.runner import run_issue

    hub = Hub(ctx.work)
    try:
        os.environ.update({"GITHUB_TOKEN": TOKEN, "CXO_STATE_DIR": str(ctx.work / "state")})
        policy = {"codex": noop_agent(ctx.work), "checks": [],
                  "reviewGates": {"quality": {"enabled": False}, "visualProof": {"enabled": False}}}
        owner, clone = make_target(hub, ctx.work, "pipeline", policy)
        hub.call("POST", f"/repos/{owner}/pipeline/labels", {"name": "agent:running", "color": "ededed"})
        overheads, requests, writes, outcomes = [], [], [], set()
        for n in range(ROUNDS):
            issue = hub.call("POST", f"/repos/{owner}/pipeline/issues",
                             {"title": f"bench {n}", "body": "x", "labels": ["agent:auto"]})
            before = hub.stats()
            started = time.perf_counter()
            final = run_issue(clone, issue["number"])
            overheads.append(time.perf_counter() - started)
            after = hub.stats()
            requests.append(after["total"] - before["total"])
            writes.append(after["writes"] - before["writes"])
            outcomes.add(final["status"] if final["status"] == "ok" else f"blocked: {final['blocked']['reason'][:80]}")
        overheads.sort()
        return [
            {"what": f"outcomes of {ROUNDS} runs", "value": ",".join(sorted(outcomes)), "unit": ""},
            {"what": "orchestration wall time per issue (median)", "value": overheads[len(overheads) // 2],
             "unit": "s", "target": 1.0},
            {"what": "GitHub API requests per issue (max)", "value": max(requests), "unit": "requests",
             "target": 12},
            {"what": "of which writes (max)", "value": max(writes), "unit": "writes", "target": 6},
        ]
    finally:
        hub.stop()
