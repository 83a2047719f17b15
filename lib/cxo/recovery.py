"""Resume a run that was killed: find its saved envelopes, check what GitHub shows, continue from the next step.

Every publishing write is idempotent (PR by head, comments by marker, labels by
presence), so re-running the first unfinished step is safe; a finished agent
run is never repeated, and an agent run that was cut off starts again from a
clean worktree.
"""

import fcntl
import json
import os
from pathlib import Path

from . import envelope
from .errors import CxoError
from .github.claims import claim_comment, earliest_live, finished_runs, parse_claims, renew
from .gitutil import git

STEPS = ("claim", "worktree", "codex", "gate", "publish")
FINISHED = "finished.json"  # in a run's directory: the run reached its end (here or, as GitHub showed, elsewhere)
LAST_STEPS = ("-publish.json", "-integrate.json")


def mark_finished(policy, env: dict, how: str) -> None:
    """Record that `env`'s run is over, so no later cycle takes it for an interrupted one."""
    import time

    path = envelope.run_dir(policy.state_dir, env) / FINISHED
    path.write_text(json.dumps({"run_id": env.get("run_id"), "how": how, "at": int(time.time())}) + "\n")


def latest_unfinished(policy, issue: int) -> dict | None:
    """The last saved envelope of the newest run of `issue`, if that run holds a claim and never finished."""
    root = policy.state_dir / "runs" / str(issue)
    runs = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not runs or (runs[-1] / FINISHED).exists():
        return None
    saved = sorted(runs[-1].glob("[0-9][0-9]-*.json"))
    if not saved or saved[-1].name.endswith(LAST_STEPS):
        return None
    try:
        env = envelope.parse(saved[-1].read_text(), str(saved[-1]))
    except CxoError:
        return None
    refused = envelope.is_blocked(env) and (env["blocked"].get("details") or {}).get("claimed") is False
    if "claim" not in env or refused:  # refused before or at the claim (not eligible, another runner's)
        return None
    return env


def unfinished_issues(policy, tracker=None) -> list[int]:
    """Issues whose newest local run was interrupted. With `tracker`, a run whose issue GitHub already shows
    finished (closed, in review or blocked without a running label: whoever finished it) is marked finished and
    left alone; a tree child's run is its parent's to resume, never a run of its own."""
    root = policy.state_dir / "runs"
    numbers = sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()) if root.is_dir() else []
    found = []
    for number in numbers:
        env = latest_unfinished(policy, number)
        if env is None:
            continue
        if (env.get("tree") or {}).get("parent"):
            continue
        if tracker is not None:
            why = finished_on_github(policy, tracker, number)
            if why:
                mark_finished(policy, env, why)
                continue
        found.append(number)
    return found


def finished_on_github(policy, tracker, number: int) -> str | None:
    """Why GitHub shows `number` finished (its run must not be resumed), or None."""
    issue = tracker.get_issue(number)
    names = {(lab.get("name") if isinstance(lab, dict) else str(lab)).lower() for lab in issue.get("labels") or []}
    if issue.get("state") == "closed":
        return "closed on GitHub"
    if policy.label("running").lower() in names:
        return None
    for key in ("review", "blocked"):
        if policy.label(key).lower() in names:
            return f"{policy.label(key)} on GitHub"
    return None


def remaining_steps(env: dict) -> tuple[str, ...]:
    if envelope.is_blocked(env):
        return ("publish",)
    return tuple(s for s in STEPS if s not in env["steps_done"])


def release(policy, tracker, env: dict, say) -> None:
    """Mark an abandoned run's claim released, so a fresh run (--restart) is not refused by it."""
    claim = env.get("claim")
    if not claim or not claim.get("comment_id"):
        return
    data = {"run_id": env["run_id"], "runner": claim["runner"]["name"], "host": claim["runner"]["host"],
            "pid": claim["runner"].get("pid", 0), "claimed_at": claim["claimed_at"],
            "lease_expires_at": claim["lease_expires_at"], "released": True}
    try:
        tracker.update_comment(claim["comment_id"], claim_comment(data, "Released: the run was restarted."))
        say(f"released the claim of run {env['run_id']}")
    except CxoError as exc:
        say(f"could not release the old claim ({exc.message})")


def prepare(policy, tracker, env: dict, say) -> dict:
    """Make a saved envelope ready to continue: our claim must still be the live one, a cut-off agent run
    starts again from a clean worktree."""
    from .connect import runner_logins

    number = env["issue"]["number"]
    logins = runner_logins(policy, tracker)
    comments = tracker.list_comments(number)
    claims = parse_claims(comments, logins)
    ours = next((c for c in claims if c["run_id"] == env["run_id"]), None)
    winner = earliest_live(claims, finished=finished_runs(comments, logins))
    if winner is not None and winner["run_id"] != env["run_id"]:
        return envelope.block(env, "claim", f"claimed by another runner (run {winner['run_id']}) while this run "
                              "was down", {"claimed": False, "winner": winner})
    if ours is not None:
        renewed = renew({k: v for k, v in ours.items() if k != "comment_id"}, policy["runner"]["leaseSeconds"])
        tracker.update_comment(ours["comment_id"], claim_comment(renewed))
        env["claim"]["lease_expires_at"] = renewed["lease_expires_at"]
    next_steps = remaining_steps(env)
    tree_parent = env["claim"]["issue"].get("mode") == "plan-auto"  # its worktree holds merged children: keep it
    if next_steps and next_steps[0] == "codex" and "worktree" in env and not tree_parent:
        tree = Path(env["worktree"]["path"])
        if tree.is_dir():
            # The agent was cut off: its partial output is untrusted. Start it again from where the run began: the
            # base; a feedback round's PR head; a continued run's work kept at the token budget.
            start = env["worktree"].get("round_start_sha") or (
                env["worktree"]["head_sha"] if env["claim"].get("continue_from") else env["worktree"]["base_sha"])
            git(tree, "reset", "--quiet", "--hard", start)
            git(tree, "clean", "-fdq")
            from .agents import repository

            repository.fresh(tree)  # and the cut-off agent's own repository goes with its work
            say(f"reset {tree} to {start[:12]} for a fresh agent run")
    return env


class IssueLock:
    """A per-issue lock on this host (flock), taken before any GitHub request: two local runners never race."""

    def __init__(self, policy, issue: int):
        self.path = policy.state_dir / "locks" / f"issue-{issue}.lock"
        self.handle = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            self.handle = None
            return False
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(json.dumps({"pid": os.getpid()}))
        self.handle.flush()
        return True

    def release(self) -> None:
        if self.handle:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None
