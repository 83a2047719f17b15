"""`setup`: the policy's commands that prepare a fresh worktree (generated files, the project's test dependencies).

They run inside the sandbox (the project's own build scripts are no more trusted than the agent), in every fresh
tree cxo makes: the agent's worktree, an issue tree's integration worktree, the TDD base and head trees, the
reviewer's copy. Network as `agent.network` says. Each step's time and log go into the report; a failing step
blocks the run before the agent starts. What setup leaves must be git-ignored: a change set never carries it.
"""

import time
from pathlib import Path

from . import proc
from .agents import environment
from .agents import sandbox as sandboxes
from .untrusted import one_line

DEFAULT_TIMEOUT = 1800


def run_setup(policy, tree: Path, run_dir: Path, label: str, say) -> dict:
    """Run every `setup` step in `tree`; {"steps": [{name, exit_code, seconds, log, timed_out}], "failed": name
    or None}. Logs under `run_dir/setup-<label>/`."""
    steps = list(policy.data.get("setup") or [])
    section: dict = {"steps": [], "failed": None}
    if not steps:
        return section
    logs = Path(run_dir) / f"setup-{label}"
    home = logs / "home"
    for index, step in enumerate(steps):
        env = environment.build(home)
        scope = sandboxes.worktree_scope(policy, Path(tree), logs / "scratch", writable=[home], git_write=False,
                                         home=home)
        box = sandboxes.make(policy, scope)
        env["TMPDIR"] = "/tmp" if box.kind != "none" else str(scope.tmp)
        log = logs / f"{index:02d}-{_safe(step['name'])}.log"
        say(f"setup ({label}): {one_line(step['name'], 60)}")
        started = time.monotonic()
        code, timed_out = proc.run_command(step["command"], Path(tree), log, step.get("timeoutSeconds",
                                                                                      DEFAULT_TIMEOUT), env, box)
        record = {"name": step["name"], "exit_code": code, "seconds": round(time.monotonic() - started, 2),
                  "log": str(log), "timed_out": timed_out}
        section["steps"].append(record)
        if timed_out or code != 0:
            section["failed"] = step["name"]
            break
    return section


def failure(section: dict) -> str | None:
    """One line for a blocked run: which step failed, how, and where its log is."""
    if not section.get("failed"):
        return None
    step = section["steps"][-1]
    how = "timed out" if step["timed_out"] else f"exited with status {step['exit_code']}"
    return (f"setup step {one_line(step['name'], 60)!r} {how} in {step['seconds']:.1f}s (log: {step['log']}): fix "
            "the command in the policy's `setup`, or list what it downloads from in agent.allowHosts")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40] or "step"
