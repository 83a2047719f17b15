"""Best-of-N attempts: one claim, N independent attempts, the best one that passed every gate published.

`agent.attempts` (a count, or one agent spec `{kind, model?, command?, args?}` per attempt; `cxo-run --attempts N`
overrides) above 1 turns an `agent:auto` run into: the claim step; the worktree step (the issue's real tree and
branch, from the fetched base); N attempts side by side, up to `concurrency.children` at a time, each in a tree of
its own on the local branch `<issue branch>-attempt-<m>` with its own agent repository, sandbox, agent run and
every gate (work.py); the winner chosen (choose.py: fewest review findings, then smallest diff, then least agent
time); its checked files committed by the runner in its attempt tree, the real branch moved there, and the normal
publish step. When no attempt passed, the run blocks with every attempt's reason and nothing is published. Every
attempt's tree and branch stay on this machine (`cxo-worktrees list`). `codex.maxTokens` covers all attempts
together: each gets an even share (specs.py).

A killed best-of-N run is not picked up half-way: resumed before its winner was chosen, it blocks ("a best-of-N run
was interrupted: retry"); resumed after, it publishes the winner.
"""

import contextvars
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from .. import envelope
from ..errors import PolicyError
from . import choose, specs, work

INTERRUPTED = ("a best-of-N run was interrupted before it chose its attempt: retry (remove the blocked label, or "
               "cxo-run --issue {n} --restart); its attempts' trees stay on this machine (cxo-worktrees list)")


def wanted(env: dict, policy, args=None) -> bool:
    """Whether this claimed run is a best-of-N run (instead of the pipeline's remaining steps): an `agent:auto`
    issue with more than one attempt asked for, or a best-of-N run being resumed."""
    if "claim" not in env or envelope.is_blocked(env):
        return False
    if "attempts" in env:
        return True
    claim = env["claim"]
    if claim["issue"].get("mode") != "auto" or env.get("round") or env.get("tree") or claim.get("continue_from"):
        return False
    return specs.count(policy, args) > 1


class Attempts:
    """The runner's attempts mode (lib/cxo/modes.py's protocol): after the claim, before `auto`."""

    name = "attempts"

    def applies(self, start) -> bool:
        return wanted(start.env, start.policy, start.args)

    def run(self, start) -> dict:
        return run(start.env, start.policy, start.say, start.args, start.tracker)


def run(env: dict, policy, say, args=None, tracker=None) -> dict:
    """The best-of-N run of a claimed envelope, to its final (published or blocked) envelope."""
    from .. import recovery
    from ..connect import tracker_for
    from ..pipeline import run_steps

    tracker = tracker or tracker_for(policy)
    number = env["issue"]["number"]

    def finish(env: dict) -> dict:
        return run_steps(env, policy, say, args, tracker, recovery.remaining_steps(env))

    if "attempts" in env:  # resumed
        if env["attempts"]["status"] != "done":
            say("this best-of-N run was interrupted before it chose an attempt: ending it blocked")
            env = envelope.block(env, "run", INTERRUPTED.format(n=number), {})
        return finish(env)
    n = specs.count(policy, args)
    each = specs.share(policy["codex"].get("maxTokens"), n)
    concurrency = max(1, min(n, int(policy["concurrency"]["children"] or 1)))
    env["attempts"] = {"n": n, "status": "running", "concurrency": concurrency,
                       "max_tokens": policy["codex"].get("maxTokens"), "max_tokens_each": each, "winner": None,
                       "why": None, "items": []}
    try:
        views = [specs.view(policy, spec, each, k) for k, spec in enumerate(specs.agent_specs(policy, args), 1)]
    except PolicyError as exc:
        return finish(envelope.block(env, "run", exc.message, {}))
    env = run_steps(env, policy, say, args, tracker, ("worktree",))  # the real tree and branch
    if envelope.is_blocked(env):
        return finish(env)
    tree = Path(env["worktree"]["path"])
    branch = env["worktree"]["branch"]
    attempts = [work.Attempt(k, view, specs.describe(view), f"{branch}-attempt-{m}",
                             tree.parent / f"{tree.name}-attempt-{m}")
                for k, (view, m) in enumerate(zip(views, work.numbers(policy, branch, tree, n), strict=True), 1)]
    say(f"best of {n}: {n} attempts, {concurrency} at a time"
        + (f", {each:,} tokens each (codex.maxTokens {env['attempts']['max_tokens']:,} split)" if each else ""))
    from ..measure import telemetry

    # Under the run's own span (when OpenTelemetry is on): every attempt's spans belong to this run's trace.
    with telemetry.run(lambda: env, policy):
        results, interrupted = _run_all(env, attempts, n, concurrency, policy, args, say)
    items = [work.item(a, result, seconds) for a, (result, seconds) in zip(attempts, results, strict=True)
             if result is not None]
    if interrupted:
        env["attempts"]["items"] = items
        return finish(envelope.block(env, "run", "interrupted during the attempts (SIGINT/SIGTERM): nothing was "
                                     "published; every attempt was stopped", {}))
    winner, why = choose.choose(items)
    env["attempts"].update(status="done", items=items, winner=winner, why=why)
    say(why)
    if winner is None:
        reasons = "; ".join(f"attempt {i['k']}: {i['reason']}" for i in items)
        env = envelope.block(env, "run", f"no attempt passed every gate ({n} attempts): {reasons}",
                             {"attempts": [{"k": i["k"], "step": i["step"], "reason": i["reason"]} for i in items]})
    else:
        env = _take(env, attempts[winner - 1], results[winner - 1][0], say)
    from ..pipeline import save

    envelope.check(env, "envelope after the attempts")
    save(policy, env, 4, "gate")  # a run killed from here on publishes this outcome when it is resumed
    from .. import killpoints

    killpoints.reached("attempts:after-choice")
    return finish(env)


def _run_all(env: dict, attempts: list, n: int, concurrency: int, policy, args, say) -> tuple[list, bool]:
    """Every attempt, `concurrency` at a time, while the run's claim is kept alive: [(envelope, seconds)] in
    attempt order, and whether the run was interrupted (SIGINT/SIGTERM reach the main thread only: then no attempt
    starts a further step, the processes they run are stopped, and the attempts not started get None)."""
    import threading

    from ..pipeline import heartbeat_for

    heartbeat = heartbeat_for(env, policy, say)
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="cxo-attempt")
    futures = []
    try:
        # Each attempt runs in a copy of this thread's context, so its OpenTelemetry spans are the run's children.
        futures = [pool.submit(contextvars.copy_context().run, work.run, env, a, n, args,
                               _prefixed(say, f"attempt {a.k}/{n}: "), stop)
                   for a in attempts]
        return [future.result() for future in futures], False
    except KeyboardInterrupt:
        say("interrupted: stopping every attempt")
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        while not all(future.done() for future in futures):
            _stop_children()
            wait(futures, timeout=1)
        return [f.result() if f.done() and not f.cancelled() else (None, 0.0) for f in futures], True
    finally:
        pool.shutdown(wait=False)  # every attempt is over by now, unless a second interrupt cut the wait short
        heartbeat.stop()


def _stop_children() -> None:
    """TERM the process group of every process this runner started (each agent, check and sandbox is one)."""
    import os
    import signal

    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:  # its parent is this runner
            try:
                os.killpg(int(stat.parent.name), signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass


def _prefixed(say, prefix: str):
    return lambda message: say(prefix + message)


def _take(env: dict, attempt, chosen: dict, say) -> dict:
    """The winner's work onto the issue's real branch: its checked files committed by the runner in its attempt
    tree (as publish would), the real tree and branch moved to that commit; its agent and gate sections become
    the run's, so the normal publish step publishes it as any run's."""
    from ..agents import repository
    from ..gitutil import git, rev_parse
    from ..steps.publish import commit_checked

    commit_checked(attempt.policy, chosen, attempt.path, say)
    head = rev_parse(attempt.path, "HEAD")
    real = Path(env["worktree"]["path"])
    git(real, "reset", "--quiet", "--hard", head)
    repository.fresh(real)  # the real tree's agent repository at its new head
    say(f"attempt {attempt.k}'s work is on {env['worktree']['branch']} ({head[:12]})")
    env["codex"], env["gate"] = chosen["codex"], chosen["gate"]
    envelope.mark_done(env, "codex")
    return envelope.mark_done(env, "gate")
