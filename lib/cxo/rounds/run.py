"""`cxo-run --pr N`: one round on a cxo draft PR, or the one notice that it had its rounds.

A round is one of three kinds, chosen by what the PR needs, in this order (`choose`):
- `update`: its base branch moved and it no longer merges (or is behind, `feedback.updateWhen`): the runner
  merges the base in and an agent resolves any conflicts (rounds/update.py);
- `feedback`: trusted review feedback waits (feedback.py);
- `ci`: trusted checks fail on its head (rounds/checks.py): an agent fixes the cause (after feedback: a
  feedback round's push makes CI run again on the new head).
Every kind counts against `feedback.maxRounds`. The steps are the pipeline's (claim, agent, gates) with the
round's own worktree, agent step and publish; the envelope's `round` section carries the PR, the round number,
its kind and what it acts on. A round killed mid-way is resumed from its saved envelopes like any run
(runner.run_issue hands it back here).
"""

from .. import envelope
from ..github.feedback import REPORT, is_cxo_pull, last_pushed, pending
from ..pipeline import run_steps
from . import agent as round_agent
from . import publish as round_publish
from . import report as round_report
from . import worktree as round_worktree

MODULES = {"worktree": round_worktree, "codex": round_agent, "publish": round_publish}
AFTER_CLAIM = ("worktree", "codex", "gate", "publish")


def run_pull(target, pull_number: int, run_id: str | None = None, args=None, say=None, policy=None) -> dict:
    """One round on PR `pull_number` (see the module docstring); returns the final envelope."""
    from .. import policy as policy_mod
    from .. import recovery
    from ..connect import tracker_for

    say = say or (lambda message: None)
    policy = policy or policy_mod.load(target)
    tracker = tracker_for(policy)
    pull, issue, logins = cxo_pull(policy, tracker, pull_number)
    lock = recovery.IssueLock(policy, issue)
    if not lock.acquire():
        say(f"another run on this host holds {lock.path}: leaving PR #{pull_number} to it")
        return envelope.block(envelope.new(policy.target, issue, run_id), "claim",
                              "another run on this host is working on this issue", {"claimed": False})
    try:
        saved = None if run_id else recovery.latest_unfinished(policy, issue)
        if saved is not None and (saved.get("round") or {}).get("pull") == pull_number and "claim" in saved:
            return resume(policy, tracker, saved, args, say)
        return start(policy, tracker, pull, issue, logins, run_id, args, say)
    finally:
        lock.release()


def cxo_pull(policy, tracker, pull_number: int) -> tuple[dict, int, set[str]]:
    """The PR, its issue and the runner's logins; InputError when cxo did not open the PR."""
    from ..connect import runner_logins

    pull = tracker.get_pull(pull_number)
    logins = runner_logins(policy, tracker)
    match = REPORT.search(pull.get("body") or "")
    if not match or not is_cxo_pull(pull, logins):
        from ..errors import InputError

        raise InputError(f"--pr {pull_number}: not a pull request cxo opened (no runner-written report in its "
                         "body): feedback rounds run only on cxo's own draft PRs")
    return pull, int(match.group(1)), logins


def start(policy, tracker, pull: dict, issue: int, logins: set[str], run_id, args, say) -> dict:
    env = round_envelope(policy, tracker, pull, issue, logins, run_id, say)
    if envelope.is_blocked(env):
        return env
    env = run_steps(env, policy, say, args, tracker, ("claim",))
    if envelope.is_blocked(env):
        return run_steps(env, policy, say, args, tracker, ("publish",), MODULES)
    return run_steps(env, policy, say, args, tracker, AFTER_CLAIM, MODULES)


def round_envelope(policy, tracker, pull: dict, issue: int, logins: set[str], run_id, say) -> dict:
    """A new envelope with the round section (ready for the claim step), or a blocked one when the PR has
    nothing to act on (having said once on the PR that it had its rounds, if that is why)."""
    number = pull["number"]
    env = envelope.new(policy.target, issue, run_id)
    if pull.get("state") != "open" or not pull.get("draft"):
        say(f"PR #{number} is {'not a draft' if pull.get('state') == 'open' else pull.get('state')}: "
            "feedback rounds run on open draft PRs only")
        return envelope.block(env, "claim", f"not eligible: PR #{number} is not an open draft",
                              {"claimed": False})
    found = pending(policy, tracker, pull, logins)  # what cxo-status counts, too
    conversation = found["conversation"]
    max_rounds = policy["feedback"]["maxRounds"]
    done = len(found["rounds"])
    kind, detail = choose(policy, tracker, pull, found)
    if kind is None:
        say(f"PR #{number}: nothing to act on (no trusted feedback, the base merges, no failing trusted check)")
        return envelope.block(env, "claim", "not eligible: no trusted feedback since the last round, and "
                              "neither a moved base nor a failing check to act on",
                              {"claimed": False, "ignored": found["ignored"]})
    if done >= max_rounds:
        _stop_once(tracker, pull, conversation, logins, max_rounds, say)
        return envelope.block(env, "claim", f"not eligible: PR #{number} had its {max_rounds} feedback "
                              "round(s) (feedback.maxRounds)", {"claimed": False})
    feedback = kind == "feedback"
    env["round"] = {"pull": number, "n": done + 1, "kind": kind, "max_rounds": max_rounds,
                    "branch": pull["head"]["ref"], "base_branch": pull["base"]["ref"],
                    "pr_url": pull.get("html_url") or pull.get("url") or "",
                    "last_pushed": last_pushed(pull, found["rounds"]),
                    "items": [{k: v for k, v in item.items() if v is not None} for item in found["items"]]
                    if feedback else [],
                    "triggers": found["triggers"] if feedback else [], "ignored": found["ignored"]}
    if detail is not None:
        env["round"][kind if kind == "update" else "checks"] = detail
    what = {"feedback": f"{len(found['items'])} feedback item(s)",
            "update": f"base moved, {len((detail or {}).get('conflicts') or [])} file(s) in conflict",
            "ci": f"{len((detail or {}).get('failing') or [])} failing check(s)"}[kind]
    say(f"PR #{number}: {kind} round {done + 1} of {max_rounds} for issue #{issue} ({what})")
    return env


def choose(policy, tracker, pull: dict, found: dict) -> tuple[str | None, dict | None]:
    """The round a PR needs now, as (kind, detail): ("update", update.need's), ("ci", checks.failing's),
    ("feedback", None) or (None, None)."""
    from . import checks, update

    moved = update.detect(policy, pull, found["rounds"])
    if moved is not None:
        return "update", moved
    if found["triggers"]:
        # Before CI: a feedback round pushes a new head, on which CI runs again (the old head's results are stale).
        return "feedback", None
    failing = checks.failing(policy, tracker, pull, found["rounds"])
    return ("ci", failing) if failing is not None else (None, None)


def resume(policy, tracker, saved: dict, args, say) -> dict:
    from .. import recovery

    say(f"resuming feedback round {saved['round']['n']} (run {saved['run_id']}) after "
        f"{saved['steps_done'][-1] if saved['steps_done'] else 'start'}")
    env = recovery.prepare(policy, tracker, saved, say)
    return run_steps(env, policy, say, args, tracker, recovery.remaining_steps(env), MODULES)


def _stop_once(tracker, pull: dict, conversation: list[dict], logins: set[str], max_rounds: int, say) -> None:
    from ..github.feedback import STOPPED

    if any(STOPPED in (c.get("body") or "") for c in conversation
           if str((c.get("user") or {}).get("login") or "").lower() in logins):
        return
    tracker.create_comment(pull["number"], round_report.stopped_notice(max_rounds))
    say(f"PR #{pull['number']}: had its {max_rounds} feedback round(s); said so once on the PR")
