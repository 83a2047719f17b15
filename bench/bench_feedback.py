"""Feedback rounds: GitHub requests per round (a CHANGES_REQUESTED review with two inline comments), and the
daemon's idle poll over 100 open cxo draft PRs with no new feedback (conditional requests only)."""

import os
import time

from bench.hubbench import TOKEN, Hub, git, make_target

TITLE = "feedback rounds: requests per round; idle daemon poll over 100 cxo PRs (hub in-process)"
ROUNDS = 3
IDLE_PRS = 100
RUNNER = "as:cxo-runner"


def round_agent(work) -> dict:
    """An agent that adds one line to CHANGE.md (the file the reviewers comment on) and reports."""
    script = work / "round_agent.py"
    script.write_text(
        "import json, os, pathlib, sys\n"
        "sys.stdin.read()\n"
        "with open('CHANGE.md', 'a') as f:\n    f.write('changed\\n')\n"
        "pathlib.Path(os.environ['CODEX_ORCHESTRATOR_REPORT_FILE']).write_text(json.dumps({"
        "'status': 'completed', 'summary': 'bench', 'changes': ['CHANGE.md'], 'validation': []}))\n")
    import sys

    return {"command": sys.executable, "args": [str(script)]}


def run(ctx) -> list[dict]:
    from cxo.rounds.run import run_pull
    from cxo.runner import run_issue

    hub = Hub(ctx.work)
    try:
        policy = {"codex": round_agent(ctx.work), "checks": [],
                  "reviewGates": {"quality": {"enabled": False}, "visualProof": {"enabled": False}}}
        owner, clone = make_target(hub, ctx.work, "rounds", policy)
        repo = f"/repos/{owner}/rounds"
        hub.call("PUT", f"{repo}/collaborators/cxo-runner", {})
        os.environ.update({"GITHUB_TOKEN": RUNNER, "CXO_STATE_DIR": str(ctx.work / "state")})
        requests, billable, writes, walls, outcomes = [], [], [], [], set()
        for n in range(ROUNDS):
            issue = hub.call("POST", f"{repo}/issues", {"title": f"bench {n}", "body": "x", "labels": ["agent:auto"]})
            first = run_issue(clone, issue["number"])
            pull = first["publish"]["pull_request"]["number"]
            hub.call("POST", f"{repo}/pulls/{pull}/reviews", {
                "event": "REQUEST_CHANGES", "body": "two things",
                "comments": [{"path": "CHANGE.md", "line": 1, "body": "first"},
                             {"path": "CHANGE.md", "line": 1, "body": "second"}]})
            before = hub.stats()
            started = time.perf_counter()
            final = run_pull(clone, pull)
            walls.append(time.perf_counter() - started)
            after = hub.stats()
            requests.append(after["total"] - before["total"])
            billable.append(after["billable"] - before["billable"])
            writes.append(after["writes"] - before["writes"])
            was = before["by_op"]
            ops = {k: v - was.get(k, 0) for k, v in after["by_op"].items() if v != was.get(k, 0)}
            outcomes.add(final["status"] if final["status"] == "ok" else f"blocked: {final['blocked']['reason'][:80]}")
        print("  requests of the last round by operation: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items())),
              flush=True)
        idle = idle_poll(hub, ctx.work, clone, owner)
        walls.sort()
        return [
            {"what": f"outcomes of {ROUNDS} rounds", "value": ",".join(sorted(outcomes)), "unit": ""},
            {"what": "GitHub requests per feedback round (max)", "value": max(requests), "unit": "requests",
             "target": 12},
            {"what": "of which billable (not 304) (max)", "value": max(billable), "unit": "requests"},
            {"what": "of which writes (2 replies included) (max)", "value": max(writes), "unit": "writes"},
            {"what": "round orchestration wall time (median)", "value": walls[len(walls) // 2], "unit": "s"},
            {"what": f"idle daemon poll over {IDLE_PRS + ROUNDS} open cxo PRs: billable", "value": idle["billable"],
             "unit": "requests", "target": 0},
            {"what": "  (all of them conditional: 304s)", "value": idle["not_modified"], "unit": "requests"},
        ]
    finally:
        hub.stop()


def idle_poll(hub, work, clone, owner) -> dict:
    """100 more cxo draft PRs (runner-written, with cxo's report marker), no new feedback: a warm daemon cycle."""
    from cxo import policy as policy_mod
    from cxo.connect import tracker_for
    from cxo.daemon import Daemon
    from cxo.gitutil import token_env

    repo = f"/repos/{owner}/rounds"
    refs = []
    for n in range(IDLE_PRS):
        refs.append(f"HEAD:refs/heads/idle-{n}")
    (clone / "IDLE.md").write_text("idle\n")
    git(clone, "checkout", "-q", "-b", "idle")
    git(clone, "add", "IDLE.md")
    git(clone, "commit", "-q", "-m", "idle")
    git(clone, "push", "-q", f"{hub.url}/{owner}/rounds.git", *refs, env=token_env(TOKEN))
    git(clone, "checkout", "-q", "main")
    for n in range(IDLE_PRS):
        hub.call("POST", f"{repo}/pulls", {"title": f"idle {n}", "head": f"idle-{n}", "base": "main", "draft": True,
                                           "body": f"report\n\n<!-- cxo:report issue={1000 + n} -->"}, token=RUNNER)
    pol = policy_mod.load(clone)
    daemon = Daemon(pol, tracker_for(pol), say=lambda m: None)
    daemon.cycle()  # learns the ETags
    before = hub.stats()
    cycle = daemon.cycle()
    after = hub.stats()
    assert not cycle["ran"] and not cycle["rounds"], cycle
    return {"billable": after["billable"] - before["billable"],
            "not_modified": after["not_modified"] - before["not_modified"]}
