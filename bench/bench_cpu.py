"""CPU per issue of job 2's `cxo-run` step (the cxo process and every process under it: git, bwrap, the agent),
not wall time, so it reads the same on a shared machine. One issue at a time, a 0 s agent, hub in-process."""

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.hubbench import TOKEN, Hub, make_target

TITLE = "CPU per issue: job 2's cxo-run step (cxo + git/bwrap/agent children; 0 s agent; hub in-process)"
ROUNDS = 5
FAKE_AGENT = Path(__file__).resolve().parents[1] / "tests" / "support" / "fake_agent.py"
REPORT = {"status": "completed", "summary": "bench", "changes": ["JOB.md"], "validation": [], "artifacts": [],
          "skippedChecks": [], "residualRisks": [], "prohibitedActions": []}
# The cxo process's own CPU and its children's, written at exit (the step's command, `cxo-run --issue N`).
MEASURED = ("import atexit, resource, sys\nout = sys.argv.pop()\n"
            "def done():\n    me = resource.getrusage(resource.RUSAGE_SELF)\n"
            "    kids = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "    open(out, 'w').write(f'{me.ru_utime + me.ru_stime} {kids.ru_utime + kids.ru_stime}')\n"
            "atexit.register(done)\nsys.argv[0] = 'cxo-run'\nfrom cxo.cli.run import main\nsys.exit(main())\n")


def run(ctx) -> list[dict]:
    from cxo.gitutil import token_env
    from tests.support import actions_player

    work = ctx.work / "cpu"
    work.mkdir()
    script = work / "agent-script.json"
    script.write_text(json.dumps([{"write": {"JOB.md": "x\n"}}, {"report": REPORT}]))
    hub = Hub(work)
    try:
        policy = {"codex": {"command": sys.executable, "args": [str(FAKE_AGENT), "--script", str(script)]},
                  "checks": [], "reviewGates": {"quality": {"enabled": False}, "visualProof": {"enabled": False}}}
        owner, _ = make_target(hub, work, "cpu", policy)
        step = actions_player.step(actions_player.workflow()["jobs"]["run"], "cxo")
        rows = []
        for n in range(ROUNDS):
            number = hub.call("POST", f"/repos/{owner}/cpu/issues", {"title": f"b{n}", "body": "x",
                                                                    "labels": ["agent:auto"]})["number"]
            runner = work / f"runner-{number}"
            clone, temp = runner / "checkout", runner / "temp"
            subprocess.run(["git", "clone", "-q", f"{hub.url}/{owner}/cpu.git", str(clone)], check=True,
                           capture_output=True, env={**os.environ, **token_env(TOKEN)})
            env = actions_player.base_env(TOKEN, hub.url, temp)
            env.update(actions_player.step_env(step, {"runner.temp": str(temp), "matrix.issue": str(number),
                                                      "github.token": TOKEN}))
            before = hub.stats()
            proc = subprocess.run([sys.executable, "-c", MEASURED, "--issue", str(number), str(runner / "cpu")],
                                  cwd=clone, env=env, capture_output=True, text=True, timeout=300)
            billable = hub.stats()["billable"] - before["billable"]
            assert proc.returncode == 0, proc.stderr[-2000:]
            me, kids = map(float, (runner / "cpu").read_text().split())
            rows.append((me + kids, me, kids, billable))
        rows.sort()
        total, me, kids, billable = rows[len(rows) // 2]
        load = os.getloadavg()[0]
        return [
            {"what": "CPU per issue, cxo-run + children (median)", "value": total, "unit": "s"},
            {"what": "  of which the cxo-run process", "value": me, "unit": "s"},
            {"what": "  of which its children (git, bwrap, agent)", "value": kids, "unit": "s"},
            {"what": "billable GitHub requests per issue", "value": billable, "unit": "requests"},
            {"what": "load average (1 min) at the end", "value": load, "unit": ""},
        ]
    finally:
        hub.stop()
