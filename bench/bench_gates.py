"""The runner's own time per gate on a 200-file change (test runner and reviewer are `true`-cheap stand-ins)."""

import os
import subprocess
import sys
import time

TITLE = "gates on a 200-file change: runner overhead per gate (commands are no-ops)"
REVIEWER = ("import json,os,sys; sys.stdin.read(); open(os.environ['CODEX_ORCHESTRATOR_REPORT_FILE'],'w')"
            ".write(json.dumps({'verdict':'approve','summary':'ok','findings':[]}))")


def git(cwd, *args):
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


def run(ctx) -> list[dict]:
    import yaml

    from cxo import policy as policy_mod
    from cxo.gates import load
    from cxo.gates.base import GateContext, run_one
    from cxo.gitutil import collect_changes

    repo = ctx.work / "gates-repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "__init__.py").write_text("")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    base = git(repo, "rev-parse", "HEAD").strip()
    for n in range(199):
        (repo / "app" / f"module_{n}.py").write_text(f"def f_{n}(x):\n    return x + {n}\n" * 20)
    (repo / "tests").mkdir()
    (repo / "tests" / "test_modules.py").write_text("def test_nothing():\n    assert True\n")
    (repo / "web").mkdir()
    (repo / "web" / "index.html").write_text("<h1>x</h1>\n")
    policy = {"checks": [{"name": "noop", "command": "true"}],
              "reviewGates": {"reviewer": {"command": sys.executable, "args": ["-c", REVIEWER]},
                              "quality": {"testCommand": "true"},
                              "visualProof": {"runnerValidationCommand": "true"}}}
    (repo / ".codex-orchestrator").mkdir()
    (repo / ".codex-orchestrator" / "config.yaml").write_text(yaml.safe_dump(policy))
    pol = policy_mod.load(repo, infer_repo=False)
    report = {"status": "completed", "summary": "bench", "changes": [], "validation": []}
    rows = []
    started = time.perf_counter()
    changes = collect_changes(repo, base)
    rows.append({"what": f"collect the change set ({len(changes.files)} files)",
                 "value": round(time.perf_counter() - started, 3), "unit": "s"})
    for name in ("safety", "report", "checks", "tdd", "review", "cleanup", "visual"):
        gctx = GateContext(worktree=repo, base=base, head=None, policy=pol, changes=changes,
                           run_dir=ctx.work / "gates-run", report=report,
                           issue={"number": 1, "title": "bench", "body": "", "labels": []}, say=lambda m: None)
        result = run_one(load(name), gctx)
        rows.append({"what": f"gate {name} ({result['verdict']})", "value": result["duration_seconds"], "unit": "s"})
    return rows
