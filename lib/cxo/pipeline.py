"""The pipeline's steps in one process: each validated and saved, a heartbeat while the claim is held.

`cxo-run` (runner.py) and the issue-tree run (tree/run.py) both compose steps through here.
"""

from pathlib import Path

from . import envelope
from .errors import InputError, PolicyError
from .measure import telemetry

STEPS = ("claim", "worktree", "codex", "gate", "publish")


def save(policy, env: dict, index: int, step: str) -> Path:
    path = envelope.run_dir(policy.state_dir, env) / f"{index:02d}-{step}.json"
    path.write_text(envelope.dumps(env))
    return path


def run_steps(env: dict, policy, say, args=None, tracker=None, steps=STEPS, modules: dict | None = None) -> dict:
    """Run `steps` on `env`; a step's unexpected error after the claim blocks the run instead of stranding it.
    `modules` replaces a step's module by name (a feedback round's own worktree and publish, lib/cxo/rounds/).

    While the run holds its claim, a heartbeat renews the lease so no other runner takes the issue over.
    """
    from .connect import tracker_for

    tracker = tracker or tracker_for(policy)
    heartbeat = None
    with telemetry.run(lambda: env, policy):  # OpenTelemetry, when configured (lib/cxo/measure/telemetry.py)
        try:
            for step in steps:
                if step == "publish" and heartbeat:
                    heartbeat.stop()
                if heartbeat is None and "claim" in env and step != "publish" and not envelope.is_blocked(env):
                    heartbeat = heartbeat_for(env, policy, say)
                with telemetry.span(f"cxo.step.{step}", policy, step=step, env=lambda: env):  # noqa: B023
                    env = _one_step(env, step, policy, say, args, tracker, (modules or {}).get(step))
        finally:
            if heartbeat:
                heartbeat.stop()
    return env


def heartbeat_for(env: dict, policy, say):
    from .github.claims import Heartbeat

    claim = env["claim"]
    data = {"run_id": env["run_id"], "runner": claim["runner"]["name"], "host": claim["runner"]["host"],
            "pid": claim["runner"].get("pid", 0), "claimed_at": claim["claimed_at"],
            "lease_expires_at": claim["lease_expires_at"]}
    # A tracker of its own: the transport keeps the last response's headers, which the main thread reads.
    from .connect import tracker_for

    return Heartbeat(tracker_for(policy), claim["comment_id"], data, policy["runner"]["leaseSeconds"], say).start()


def _one_step(env: dict, step: str, policy, say, args, tracker, module=None) -> dict:
    """One step, validated and saved. Blocked envelopes skip every step but publish."""
    import importlib

    if envelope.is_blocked(env) and step != "publish":
        return env
    module = module or importlib.import_module(f"cxo.steps.{step}")
    try:
        env = module.run(env, policy=policy, args=args, say=say, tracker=tracker)
    except (InputError, PolicyError):
        raise
    except KeyboardInterrupt:
        if step in ("claim", "publish") or "claim" not in env:
            raise
        # Stopped mid-run: end blocked through publish, so the issue never stays agent:running.
        say(f"interrupted during {step}: ending the run blocked")
        env = envelope.block(env, step, f"interrupted during {step} (SIGINT/SIGTERM)", {})
    except Exception as exc:
        if step == "publish" and "claim" in env and not envelope.is_blocked(env):
            # Publishing failed half-way (a rejected push, GitHub down): report it as blocked, if GitHub lets us.
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            say(f"publish failed: {message}")
            env.pop("publish", None)
            env = envelope.block(env, step, f"publish failed: {message}", {})
            env = module.run(env, policy=policy, args=args, say=say, tracker=tracker)
            envelope.check(env, f"envelope after {step}")
            save(policy, env, STEPS.index(step) + 1, step)
            from .recovery import mark_finished

            mark_finished(policy, env, "published: blocked")
            return env
        if step in ("claim", "publish") or "claim" not in env:
            raise
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        say(f"step {step} failed: {message}")
        env = envelope.block(env, step, f"{step} failed: {message}", {})
    envelope.check(env, f"envelope after {step}")
    save(policy, env, STEPS.index(step) + 1, step)
    if step == "publish" and env.get("publish"):
        from .recovery import mark_finished

        mark_finished(policy, env, f"published: {env['publish'].get('outcome')}")
    from . import killpoints

    killpoints.reached(f"runner:after-{step}")
    return env
