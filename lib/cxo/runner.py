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
        if saved is not None and saved.get("round") and "claim" in saved:
            from .rounds.run import resume

            return resume(policy, tracker, saved, args, say)
        if saved is not None and "claim" in saved:
            say(f"resuming run {saved['run_id']} after {saved['steps_done'][-1] if saved['steps_done'] else 'start'}")
            env = recovery.prepare(policy, tracker, saved, say)
        elif getattr(args, "tree_parent", None):
            # A child job of the tree fan-out (GitHub Actions): everything it starts from is on the remote.
            from .tree import fanout

            env = envelope.new(policy.target, issue, run_id)
            env["tree"] = fanout.child_section(policy, tracker, args.tree_parent, issue)
            return fanout.run_child(env, policy, say, args, tracker)
        else:
            env = run_steps(envelope.new(policy.target, issue, run_id), policy, say, args, tracker, ("claim",))
            pull = _feedback_pull(policy, tracker, env)
            if pull is not None:
                # An issue in review whose draft PR has feedback waiting: `--issue N` runs the PR's round.
                lock.release()
                from .rounds.run import run_pull

                say(f"issue #{issue} is in review: looking for feedback on its draft PR #{pull}")
                round_env = run_pull(target, pull, run_id, args, say, policy=policy)
                if "round" in round_env or "maxRounds" in (round_env.get("blocked") or {}).get("reason", ""):
                    return round_env
                return env  # nothing to act on: the issue's own refusal says why
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


def run_tree_step(target, parent: int, args=None, say=None) -> dict:
    """One step of an issue tree's fan-out (`cxo-tree --parent N --step`): claim the parent, its integration
    worktree, then tree/fanout.py; returns the step's result (see fanout.tree_step)."""
    from . import policy as policy_mod
    from .connect import tracker_for
    from .tree import fanout

    say = say or (lambda message: None)
    policy = policy_mod.load(target)
    tracker = tracker_for(policy)
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


def _feedback_pull(policy, tracker, env: dict) -> int | None:
    """The open cxo draft PR of an issue that a normal run refused because it is in review (or blocked after a
    round): its number, else None. One listing of open PRs, only on that refusal."""
    blocked = env.get("blocked") or {}
    reason = blocked.get("reason") or ""
    if not (blocked.get("step") == "claim" and reason.startswith(("not eligible: review", "not eligible: blocked"))):
        return None
    from .connect import runner_logins
    from .feedback import REPORT, cxo_pulls

    logins = runner_logins(policy, tracker)
    for pull in cxo_pulls(tracker.list_issues(state="open"), logins):
        if int(REPORT.search(pull["body"]).group(1)) == env["issue"]["number"]:
            return pull["number"]
    return None


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

