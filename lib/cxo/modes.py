"""What `cxo-run --issue N` does with an issue: one registry of modes, each a room of its own behind one protocol.

A mode says whether it `applies` to the run as it stands and `run`s it to its final envelope. `choose` takes the
first that applies, in two passes:

- before the claim, by what this host already holds or was asked: a round or a run interrupted here resumes
  (lib/cxo/recovery.py, lib/cxo/rounds/), a tree child job of the Actions fan-out runs (lib/cxo/tree/fanout.py);
- after the claim, by what the issue is: in review with work waiting on its draft PR, the PR's round (feedback,
  update or CI: lib/cxo/rounds/); an `agent:plan-auto` parent, its issue tree (lib/cxo/tree/); otherwise the
  pipeline's own steps (`auto`: lib/cxo/steps/).

runner.run_issue only loads the policy, holds the host's issue lock and hands the run to `choose`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from . import envelope
from .pipeline import run_steps


@dataclass
class Start:
    """One `cxo-run --issue N`: what every mode reads. `env` is the envelope once the claim step ran."""

    target: Any
    policy: Any
    tracker: Any
    issue: int
    run_id: str | None
    args: Any
    say: Any
    lock: Any
    saved: dict = field(default_factory=dict)  # this host's record of an interrupted run of the issue, if any
    env: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)


class Mode(Protocol):
    name: str

    def applies(self, start: Start) -> bool: ...

    def run(self, start: Start) -> dict: ...


# --- before the claim -----------------------------------------------------------------------------------------

class ResumeRound:
    name = "resume-round"

    def applies(self, start: Start) -> bool:
        return bool(start.saved and start.saved.get("round") and "claim" in start.saved)

    def run(self, start: Start) -> dict:
        from .rounds.run import resume

        return resume(start.policy, start.tracker, start.saved, start.args, start.say)


class Resume:
    name = "resume"

    def applies(self, start: Start) -> bool:
        return bool(start.saved and "claim" in start.saved)

    def run(self, start: Start) -> dict:
        from . import recovery

        saved = start.saved
        start.say(f"resuming run {saved['run_id']} after "
                  f"{saved['steps_done'][-1] if saved['steps_done'] else 'start'}")
        start.env = recovery.prepare(start.policy, start.tracker, saved, start.say)
        return choose(start, CLAIMED)


class TreeChild:
    """A child job of the tree fan-out (GitHub Actions): everything it starts from is on the remote."""

    name = "tree-child"

    def applies(self, start: Start) -> bool:
        return bool(getattr(start.args, "tree_parent", None))

    def run(self, start: Start) -> dict:
        from .tree import fanout

        env = envelope.new(start.policy.target, start.issue, start.run_id)
        env["tree"] = fanout.child_section(start.policy, start.tracker, start.args.tree_parent, start.issue)
        return fanout.run_child(env, start.policy, start.say, start.args, start.tracker)


class Claim:
    """Not a mode of its own: the claim step, then the modes that depend on what the issue is."""

    name = "claim"

    def applies(self, start: Start) -> bool:
        return True

    def run(self, start: Start) -> dict:
        start.env = run_steps(envelope.new(start.policy.target, start.issue, start.run_id), start.policy, start.say,
                              start.args, start.tracker, ("claim",))
        return choose(start, AFTER_CLAIM)


# --- after the claim ------------------------------------------------------------------------------------------

class InReview:
    """An issue in review (or blocked after a round) whose draft PR has work waiting: the PR's round."""

    name = "round"

    def applies(self, start: Start) -> bool:
        start.notes["pull"] = self.pull(start.policy, start.tracker, start.env)
        return start.notes["pull"] is not None

    @staticmethod
    def pull(policy, tracker, env: dict) -> int | None:
        """The open cxo draft PR of an issue the claim refused because it is in review (or blocked after a
        round): its number, else None. One listing of open PRs, only on that refusal."""
        blocked = env.get("blocked") or {}
        reason = blocked.get("reason") or ""
        if not (blocked.get("step") == "claim"
                and reason.startswith(("not eligible: review", "not eligible: blocked"))):
            return None
        from .connect import runner_logins
        from .github.feedback import REPORT, cxo_pulls

        logins = runner_logins(policy, tracker)
        for pull in cxo_pulls(tracker.list_issues(state="open"), logins):
            found = REPORT.search(pull["body"])  # cxo_pulls keeps only PRs with the report marker
            if found and int(found.group(1)) == env["issue"]["number"]:
                return pull["number"]
        return None

    def run(self, start: Start) -> dict:
        from .rounds.run import run_pull

        pull = start.notes["pull"]
        start.lock.release()  # the round takes the same lock
        start.say(f"issue #{start.issue} is in review: looking for work on its draft PR #{pull}")
        round_env = run_pull(start.target, pull, start.run_id, start.args, start.say, policy=start.policy)
        if "round" in round_env or "maxRounds" in (round_env.get("blocked") or {}).get("reason", ""):
            return round_env
        return start.env  # nothing to act on: the issue's own refusal says why


class Tree:
    """An `agent:plan-auto` parent: its integration worktree, then the tree run (lib/cxo/tree/run.py)."""

    name = "tree"

    def applies(self, start: Start) -> bool:
        env = start.env
        return "claim" in env and env["claim"]["issue"]["mode"] == "plan-auto" and not envelope.is_blocked(env)

    def run(self, start: Start) -> dict:
        from .tree.run import run_tree

        env = start.env
        if "worktree" not in env["steps_done"]:
            env = run_steps(env, start.policy, start.say, start.args, start.tracker, ("worktree",))
        if envelope.is_blocked(env):
            return run_steps(env, start.policy, start.say, start.args, start.tracker, ("publish",))
        return run_tree(env, start.policy, start.say, start.args, start.tracker)


class Auto:
    """`agent:auto`: the pipeline's remaining steps (lib/cxo/steps/)."""

    name = "auto"

    def applies(self, start: Start) -> bool:
        return True

    def run(self, start: Start) -> dict:
        from . import recovery

        return run_steps(start.env, start.policy, start.say, start.args, start.tracker,
                         recovery.remaining_steps(start.env))


def _attempts() -> Mode:
    """Best-of-N (`agent.attempts` > 1, `cxo-run --attempts N`): lib/cxo/attempts/, its own room."""
    from .attempts import Attempts

    return Attempts()


BEFORE_CLAIM: tuple[Mode, ...] = (ResumeRound(), Resume(), TreeChild(), Claim())
AFTER_CLAIM: tuple[Mode, ...] = (InReview(), Tree(), _attempts(), Auto())
CLAIMED: tuple[Mode, ...] = (Tree(), _attempts(), Auto())  # a resumed run: its claim is held, its kind is known


def choose(start: Start, modes: tuple[Mode, ...] = BEFORE_CLAIM) -> dict:
    """Run the first of `modes` that applies to `start`; returns its final envelope."""
    for mode in modes:
        if mode.applies(start):
            return mode.run(start)
    raise AssertionError("no mode applies: the last mode of every pass applies to all")
