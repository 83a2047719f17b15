"""The generated cxo.yml played locally (tests/support/actions_player.py): 20 agent:auto issues, a 2 s agent,
on 1 runner and then on 4 (fresh hub and repository each): throughput and billable GitHub requests per issue."""

import sys
import time
from pathlib import Path

from bench.hubbench import TOKEN, Hub, make_target

TITLE = "Actions fan-out: cxo.yml's job 1 + job 2 on 1 vs 4 runners (20 issues, 2 s agent; hub in-process)"
ISSUES = 20
AGENT_SECONDS = 2
FAKE_AGENT = Path(__file__).resolve().parents[1] / "tests" / "support" / "fake_agent.py"
REPORT = {"status": "completed", "summary": "bench", "changes": ["JOB.md"], "validation": [], "artifacts": [],
          "skippedChecks": [], "residualRisks": [], "prohibitedActions": []}


def play(work: Path, runners: int) -> dict:
    import json

    from tests.support import actions_player

    work.mkdir()
    script = work / "agent-script.json"
    script.write_text(json.dumps([{"sleep": AGENT_SECONDS}, {"write": {"JOB.md": "$CODEX_ORCHESTRATOR_ISSUE_NUMBER\n"}},
                                  {"report": REPORT}]))
    hub = Hub(work)
    try:
        policy = {"codex": {"command": sys.executable, "args": [str(FAKE_AGENT), "--script", str(script)]},
                  "checks": [], "reviewGates": {"quality": {"enabled": False}, "visualProof": {"enabled": False}}}
        owner, clone = make_target(hub, work, "fanout", policy)
        for n in range(ISSUES):
            hub.call("POST", f"/repos/{owner}/fanout/issues", {"title": f"bench {n}", "body": "x",
                                                              "labels": ["agent:auto"]})
        clone_url = f"{hub.url}/{owner}/fanout.git"
        before = hub.stats()
        started = time.perf_counter()
        results = actions_player.play(clone, clone_url, TOKEN, hub.url, work / "runners", runners)
        elapsed = time.perf_counter() - started
        after = hub.stats()
        reviewed = sum(r.returncode == 0 and r.outputs.get("pr-url", "") != "" for r in results)
        return {"elapsed": elapsed, "reviewed": reviewed, "billable": (after["billable"] - before["billable"]) / ISSUES}
    finally:
        hub.stop()


def run(ctx) -> list[dict]:
    one = play(ctx.work / "actions-1", 1)
    four = play(ctx.work / "actions-4", 4)
    return [
        {"what": "issues with a draft PR (1 runner / 4 runners)", "value": f"{one['reviewed']}/{four['reviewed']}",
         "unit": f"of {ISSUES}"},
        {"what": "wall time, 1 runner", "value": one["elapsed"], "unit": "s"},
        {"what": "wall time, 4 runners", "value": four["elapsed"], "unit": "s"},
        # run.py checks value <= target: the inverse ratio, <= 1/3.5, is throughput ratio >= 3.5.
        {"what": "throughput 4 runners / 1 runner", "value": one["elapsed"] / four["elapsed"], "unit": "x",
         "target": ">= 3.5"},
        {"what": "  as 1-runner time share (4 runners / 1 runner)", "value": four["elapsed"] / one["elapsed"],
         "unit": "", "target": round(1 / 3.5, 3)},
        {"what": "billable GitHub requests per issue, 1 runner", "value": one["billable"], "unit": "requests"},
        {"what": "billable GitHub requests per issue, 4 runners", "value": four["billable"], "unit": "requests"},
    ]
