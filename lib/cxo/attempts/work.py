"""One attempt of a best-of-N run: a worktree of its own on `<issue branch>-attempt-<m>` from the run's base, the
agent step (which gives every agent run a fresh agent repository and a sandbox of its own) and every gate, on a
copy of the run's envelope saved under `runs/<issue>/<run-id>/attempt-<k>/`."""

import copy
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import envelope
from ..agents import repository
from ..errors import CxoError
from ..gitutil import git, rev_parse


@dataclass
class Attempt:
    k: int  # 1..N within the run (CXO_ATTEMPT)
    policy: Any  # the policy as this attempt sees it (specs.view)
    agent: dict  # {kind, model, command}
    branch: str  # <issue branch>-attempt-<m>, local only
    path: Path


def numbers(policy, branch: str, tree: Path, n: int) -> list[int]:
    """Branch numbers for `n` new attempts: after every `<branch>-attempt-K` branch or tree on this machine (earlier
    best-of-N runs, and the earlier attempts a retry sets aside: steps/worktree.py)."""
    listed = git(policy.target, "for-each-ref", "--format=%(refname:short)", f"refs/heads/{branch}-attempt-*")
    used = [int(m) for m in re.findall(r"-attempt-(\d+)$", listed, re.M)]
    used += [int(p.name.rsplit("-", 1)[1]) for p in tree.parent.glob(f"{tree.name}-attempt-*")
             if p.name.rsplit("-", 1)[1].isdigit()]
    start = max(used, default=0)
    return list(range(start + 1, start + n + 1))


def run(main: dict, attempt: Attempt, n: int, args, say, stop=None) -> tuple[dict, float]:
    """The attempt, start to end; never raises (an unexpected error blocks the attempt). Returns its envelope and
    its wall time. `stop` (a threading.Event) set: no further step starts."""
    from ..connect import tracker_for
    from ..steps import codex, gate

    started = time.monotonic()
    policy = attempt.policy
    env = copy.deepcopy(main)
    env.pop("attempts", None)
    env["attempt"] = {"k": attempt.k, "of": n, "agent": attempt.agent}
    env["steps_done"] = ["claim"]
    tracker = None
    for index, (name, step) in enumerate((("worktree", None), ("codex", codex), ("gate", gate)), start=2):
        if envelope.is_blocked(env):
            break
        if stop is not None and stop.is_set():
            env = envelope.block(env, name, f"interrupted before {name} (SIGINT/SIGTERM)", {})
            break
        try:
            if step is None:
                env = make_tree(env, main["worktree"], attempt, say)
            else:
                tracker = tracker or tracker_for(policy)  # its own: a tracker keeps its last response's headers
                env = step.run(env, policy=policy, args=args, say=say, tracker=tracker)
        except Exception as exc:  # one attempt's failure is its own, never the whole run's
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            say(f"{name} failed: {message}")
            env = envelope.block(env, name, f"{name} failed: {message}", {})
        envelope.check(env, f"attempt {attempt.k}'s envelope after {name}")
        (envelope.run_dir(policy.state_dir, env) / f"{index:02d}-{name}.json").write_text(envelope.dumps(env))
    return env, time.monotonic() - started


def make_tree(env: dict, main_tree: dict, attempt: Attempt, say) -> dict:
    """The attempt's own worktree and agent repository at the run's base, then the policy's setup in it."""
    from ..steps.worktree import prepare_tree, record_base, repo_lock

    policy, base = attempt.policy, main_tree["base_sha"]
    with repo_lock(policy):  # worktree creation takes turns with every other run's git work on the repository
        try:
            repository.create(policy.target, attempt.path, attempt.branch, base)
        except CxoError as exc:
            return envelope.block(env, "worktree", f"cannot create the attempt's worktree: {exc.message}",
                                  {"path": str(attempt.path), "branch": attempt.branch})
        record_base(policy, attempt.branch, base, env["run_id"])
    say(f"created worktree {attempt.path} on {attempt.branch} from {base[:12]}")
    env["worktree"] = {key: value for key, value in main_tree.items() if key != "setup"}
    env["worktree"].update(path=str(attempt.path), branch=attempt.branch, head_sha=base, reused=False)
    problem = prepare_tree(env, policy, attempt.path, say)
    if problem:
        return envelope.block(env, "worktree", problem, {"path": str(attempt.path), "branch": attempt.branch})
    return envelope.mark_done(env, "worktree")


def diff_lines(tree: Path, base: str, changes: dict) -> int:
    """Lines changed against the base: tracked files as `git diff --numstat` counts them (a binary file counts
    one), plus the lines of the new untracked files (one at least)."""
    total = 0
    for record in git(tree, "diff", "--numstat", "-z", "--no-renames", base).split("\0"):
        parts = record.split("\t", 2)
        if len(parts) == 3:
            added, deleted = parts[0], parts[1]
            total += (int(added) + int(deleted)) if added.isdigit() and deleted.isdigit() else 1
    for rel in changes.get("untracked") or []:
        path = tree / rel
        try:
            total += max(1, path.read_bytes().count(b"\n")) if path.is_file() and not path.is_symlink() else 1
        except OSError:
            total += 1
    return total


def item(attempt: Attempt, env: dict, seconds: float) -> dict:
    """The attempt as the run's `attempts` section records it (schema/attempts.schema.json)."""
    gate = env.get("gate") or {}
    agent = env.get("codex") or {}
    blocked = env.get("blocked") or {}
    passed = not envelope.is_blocked(env) and bool(gate.get("passed"))
    changes = gate.get("changes") or {}
    diff = None
    if "gate" in env and Path(attempt.path).is_dir():
        try:
            diff = diff_lines(Path(attempt.path), env["worktree"]["base_sha"], changes)
        except CxoError:
            diff = None
    return {
        "k": attempt.k, "agent": attempt.agent, "branch": attempt.branch, "path": str(attempt.path),
        "run_dir": str(envelope.run_dir(attempt.policy.state_dir, env)), "passed": passed,
        "step": blocked.get("step") if not passed else None,
        "reason": (blocked.get("reason") or "did not pass every gate") if not passed else None,
        "verdicts": [{"gate": v["gate"], "verdict": v["verdict"]} for v in gate.get("verdicts") or []],
        "findings": sum(len(v.get("findings") or []) for v in gate.get("verdicts") or []),
        "diff_lines": diff, "files": len(set((changes.get("files") or []) + (changes.get("deleted") or []))),
        "usage": agent.get("usage"), "agent_seconds": agent.get("duration_seconds"),
        "seconds": round(seconds, 3), "head_sha": rev_parse(attempt.path, "HEAD") if Path(attempt.path).is_dir()
        else None,
    }
