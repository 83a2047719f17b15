"""cxo-run: the five steps in one process, the envelope validated and saved after every step."""

from . import envelope
from .pipeline import run_steps


def run_issue(target, issue: int, run_id: str | None = None, args=None, say=None, policy=None) -> dict:
    """Run one issue end to end, or resume its interrupted run; returns the final envelope. Which kind of run it
    is (a resumed one, a tree child, a PR's round, an issue tree, the pipeline) is lib/cxo/modes.py's choice.

    `policy`: the policy of `target` when the caller has loaded it already (cxo-run, which also needs its
    state dir afterwards); else it is loaded here."""
    from . import modes, recovery
    from . import policy as policy_mod
    from .connect import tracker_for

    say = say or (lambda message: None)
    policy = policy or policy_mod.load(target)
    if getattr(args, "continue_run", False):
        from .budget import continuation

        args.continue_from = continuation(policy, issue)  # refused (InputError) before any GitHub write
    lock = recovery.IssueLock(policy, issue)
    if not lock.acquire():
        env = envelope.new(policy.target, issue, run_id)
        say(f"another run on this host holds {lock.path}: leaving issue #{issue} to it")
        return envelope.block(env, "claim", "another run on this host is working on this issue",
                              {"claimed": False})
    try:
        tracker = tracker_for(policy)
        saved = None if run_id else recovery.latest_unfinished(policy, issue)
        if saved is not None and getattr(args, "restart", False):
            recovery.release(policy, tracker, saved, say)
            saved = None
        return modes.choose(modes.Start(target, policy, tracker, issue, run_id, args, say, lock, saved or {}))
    finally:
        lock.release()


def run_tree_step(target, parent: int, args=None, say=None) -> dict:
    """One step of an issue tree's fan-out (`cxo-tree --parent N --step`): claim the parent, its integration
    worktree, then tree/fanout.py; returns the step's result (see fanout.tree_step)."""
    from . import policy as policy_mod
    from .connect import tracker_for
    from .tree import fanout

    say = say or (lambda message: None)
    policy = policy_mod.load(target)
    tracker = tracker_for(policy)
    if policy["planning"]["requireApproval"]:
        # A plan waiting for approval: a trusted approve/replan (or the label) unblocks the parent first, as the
        # daemon's command pass does; in Actions this job is the one with write access to the issue.
        from .connect import runner_logins
        from .github.commands import plan_approvals, waiting_parents

        waiting = waiting_parents(policy, [tracker.get_issue(parent)])
        if waiting:
            plan_approvals(policy, tracker, waiting, True, runner_logins(policy, tracker), say)
    # Not paced (lib/cxo/pace.py): every step of a tree re-claims its parent; cxo-status paced its start.
    env = run_steps(envelope.new(policy.target, parent, options={"pace": False}), policy, say, args, tracker,
                    ("claim",))
    if not envelope.is_blocked(env) and env["claim"]["issue"]["mode"] != "plan-auto":
        env = envelope.block(env, "claim", f"#{parent} is not an {policy.label('planAuto')} parent", {})
    if not envelope.is_blocked(env):
        env = run_steps(env, policy, say, args, tracker, ("worktree",))
    if envelope.is_blocked(env):
        claimed = (env["blocked"].get("details") or {}).get("claimed", True) and "claim" in env
        if claimed:
            run_steps(env, policy, say, args, tracker, ("publish",))
        # Not claimed (another step holds the parent, or it is in review): nothing to start from this step.
        return {"parent": parent, "status": "blocked" if claimed else "skipped", "startable": [],
                "reason": env["blocked"]["reason"]}
    env, result = fanout.tree_step(env, policy, say, args, tracker)
    if envelope.is_blocked(env):
        result["reason"] = env["blocked"]["reason"]
    return result


def summary(env: dict) -> str:
    publish = env.get("publish") or {}
    pull = publish.get("pull_request") or {}
    if env["status"] == "blocked":
        return f"blocked at {env['blocked']['step']}: {env['blocked']['reason']}"
    if env.get("round") and pull:
        return f"feedback round {env['round']['n']} on draft PR #{pull['number']}: " + (
            f"pushed {publish['pushed_sha'][:12]}" if publish.get("pushed_sha") != env["round"].get("head_sha")
            else "no new commit")
    return f"draft PR #{pull.get('number')} {pull.get('html_url', '')}".strip() if pull else "reviewed, no PR"

