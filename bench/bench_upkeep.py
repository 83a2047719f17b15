"""PR upkeep: GitHub requests per update round (the base merged into a cxo PR by the runner: a clean merge, and one
an agent resolves) and per CI fix round (a failing Actions check). The idle poll over 100 cxo PRs, which now also
looks for base moves and failing checks, is measured by the feedback bench."""

import os
import sys

from bench.hubbench import TOKEN, Hub, git, make_target

TITLE = "PR upkeep: requests per update round and per CI fix round (hub in-process)"
RUNNER = "as:cxo-runner"


def resolving_agent(work) -> dict:
    """Resolves CHANGE.md to both sides' lines when it is in conflict, else adds a line to it."""
    script = work / "upkeep_agent.py"
    script.write_text(
        "import json, os, pathlib, sys\n"
        "sys.stdin.read()\n"
        "p = pathlib.Path('CHANGE.md')\n"
        "text = p.read_text() if p.exists() else ''\n"
        "p.write_text('ours\\ntheirs\\n' if '<<<<<<<' in text else text + 'fix\\n')\n"
        "pathlib.Path(os.environ['CODEX_ORCHESTRATOR_REPORT_FILE']).write_text(json.dumps({"
        "'status': 'completed', 'summary': 'bench', 'changes': ['CHANGE.md'], 'validation': []}))\n")
    return {"command": sys.executable, "args": [str(script)]}


def measured(hub, action) -> tuple[dict, int, int]:
    before = hub.stats()
    env = action()
    after = hub.stats()
    return env, after["total"] - before["total"], after["billable"] - before["billable"]


def run(ctx) -> list[dict]:
    from cxo.rounds.run import run_pull
    from cxo.runner import run_issue

    hub = Hub(ctx.work)
    try:
        policy = {"codex": resolving_agent(ctx.work), "checks": [], "feedback": {"updateWhen": "behind"},
                  "reviewGates": {"quality": {"enabled": False}, "visualProof": {"enabled": False}}}
        owner, clone = make_target(hub, ctx.work, "upkeep", policy)
        repo = f"/repos/{owner}/upkeep"
        hub.call("PUT", f"{repo}/collaborators/cxo-runner", {})
        os.environ.update({"GITHUB_TOKEN": RUNNER, "CXO_STATE_DIR": str(ctx.work / "state-upkeep")})
        rows = []
        for what, files in (("clean (no agent)", {"OTHER.md": "other\n"}), ("in conflict (agent resolves)",
                                                                            {"CHANGE.md": "theirs\n"})):
            issue = hub.call("POST", f"{repo}/issues", {"title": what, "body": "x", "labels": ["agent:auto"]})
            pull = run_issue(clone, issue["number"])["publish"]["pull_request"]["number"]
            maintainer = ctx.work / f"maintainer-{len(rows)}"
            git(ctx.work, "clone", "-q", f"{hub.url}/{owner}/upkeep.git", str(maintainer))
            for name, text in files.items():
                (maintainer / name).write_text(text)
            git(maintainer, "add", "-A")
            git(maintainer, "-c", "user.name=m", "-c", "user.email=m@m", "commit", "-q", "-m", "base moves")
            from cxo.gitutil import token_env

            git(maintainer, "push", "-q", "origin", "HEAD:main", env=token_env(TOKEN))
            env, total, billable = measured(hub, lambda pull=pull: run_pull(clone, pull))
            state = env["status"] if env["status"] == "ok" else f"blocked: {env['blocked']['reason'][:60]}"
            conflicts = len(((env.get("round") or {}).get("update") or {}).get("conflicts") or [])
            rows += [{"what": f"update round, {what}: outcome", "value": f"{state}, {conflicts} conflict(s)",
                      "unit": ""},
                     {"what": f"update round, {what}: GitHub requests", "value": total, "unit": "requests",
                      "target": 12},
                     {"what": "  of which billable (not 304)", "value": billable, "unit": "requests"}]
        head = hub.call("GET", f"{repo}/pulls/{pull}")["head"]["sha"]
        hub.call("POST", f"{repo}/check-runs", {"name": "tests", "head_sha": head, "status": "completed",
                                                "conclusion": "failure", "log": "1 failed\n",
                                                "output": {"title": "tests", "summary": "1 failed"}},
                 token="as:app/github-actions")
        env, total, billable = measured(hub, lambda: run_pull(clone, pull))
        state = env["status"] if env["status"] == "ok" else f"blocked: {env['blocked']['reason'][:60]}"
        rows += [{"what": "CI fix round: outcome", "value": f"{env.get('round', {}).get('kind')} {state}", "unit": ""},
                 {"what": "CI fix round: GitHub requests", "value": total, "unit": "requests"},
                 {"what": "  of which billable (not 304)", "value": billable, "unit": "requests"}]
        return rows
    finally:
        hub.stop()
