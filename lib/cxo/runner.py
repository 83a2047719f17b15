"""cxo-run: the five steps in one process, the envelope validated and saved after every step."""

from . import envelope
from .pipeline import run_steps


def run_issue(target, issue: int, run_id: str | None = None, args=None, say=None, policy=None) -> dict:
    """Run one issue end to end, or resume its interrupted run; returns the final envelope.

    `policy`: the policy of `target` when the caller has loaded it already (cxo-run, which also needs its
    state dir afterwards); else it is loaded here."""
    from . import policy as policy_mod
    from . import recovery
    from .connect import tracker_for

    say = say or (lambda message: None)
    policy = policy or policy_mod.load(target)
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
        if saved is not None and "claim" in saved:
            say(f"resuming run {saved['run_id']} after {saved['steps_done'][-1] if saved['steps_done'] else 'start'}")
            env = recovery.prepare(policy, tracker, saved, say)
        else:
            env = run_steps(envelope.new(policy.target, issue, run_id), policy, say, args, tracker, ("claim",))
        if "claim" in env and env["claim"]["issue"]["mode"] == "plan-auto" and not envelope.is_blocked(env):
            # An issue tree: the integration worktree, then the tree run (tree/run.py) instead of one agent run.
            from .tree.run import run_tree

            if "worktree" not in env["steps_done"]:
                env = run_steps(env, policy, say, args, tracker, ("worktree",))
            if envelope.is_blocked(env):
                return run_steps(env, policy, say, args, tracker, ("publish",))
            return run_tree(env, policy, say, args, tracker)
        return run_steps(env, policy, say, args, tracker, recovery.remaining_steps(env))
    finally:
        lock.release()



def summary(env: dict) -> str:
    publish = env.get("publish") or {}
    pull = publish.get("pull_request") or {}
    if env["status"] == "blocked":
        return f"blocked at {env['blocked']['step']}: {env['blocked']['reason']}"
    return f"draft PR #{pull.get('number')} {pull.get('html_url', '')}".strip() if pull else "reviewed, no PR"

