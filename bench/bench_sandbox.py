"""The agent sandbox's start-up cost: a sandboxed `true` (the scope of a real agent run) against a bare one."""

import statistics
import subprocess
import time
from pathlib import Path

TITLE = "Agent sandbox start-up (median of 30 starts; target: <= 50 ms over a bare start)"
RUNS = 30


def _median_ms(start) -> float:
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        start().wait()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def run(ctx) -> list[dict]:
    from cxo import policy as policy_mod
    from cxo import proc
    from cxo.agents import sandbox as sandboxes

    repo = ctx.work / "sandbox-repo"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q",
                                                 "--allow-empty", "-m", "x"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    subprocess.run(["git", "worktree", "add", "-q", "-b", "agent/issue-1", str(ctx.work / "wt")], cwd=repo,
                   check=True, capture_output=True)
    policy = policy_mod.load(repo, working_copy=True)
    scratch = ctx.work / "scratch"
    home = scratch / "home"
    home.mkdir(parents=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    scope_started = time.perf_counter()
    scope = sandboxes.worktree_scope(policy, Path(ctx.work / "wt"), scratch, writable=[home])
    scope_ms = (time.perf_counter() - scope_started) * 1000
    box = sandboxes.make(policy, scope)
    bare = _median_ms(lambda: proc.spawn(["true"], env, cwd=str(ctx.work / "wt")))
    boxed = _median_ms(lambda: proc.spawn(["true"], env, box, cwd=str(ctx.work / "wt")))
    return [
        {"what": "bare start of `true` (median)", "value": bare, "unit": "ms"},
        {"what": "sandboxed start of `true` (bubblewrap, median)", "value": boxed, "unit": "ms"},
        {"what": "sandbox start-up cost per agent run", "value": boxed - bare + scope_ms, "unit": "ms",
         "target": 50},
        {"what": "  of which building the scope (sanitised git config)", "value": scope_ms, "unit": "ms"},
    ]
