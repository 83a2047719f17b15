"""checks: the policy's commands, run by the runner in the worktree, logs kept."""

import time
from pathlib import Path

from .. import proc
from ..agents import environment
from ..agents import sandbox as sandboxes
from .base import Gate, verdict


def run_command(ctx, command: str, cwd: Path, log_path: Path, timeout_s: float) -> tuple[int | None, bool]:
    """Run `command` (agent-written code runs through it) with bash in `cwd`, inside the policy's sandbox:
    it may write `cwd` and its own HOME, nothing else; (exit code, timed out)."""
    home = Path(ctx.run_dir) / "check-home"
    env = environment.build(home)
    scope = sandboxes.worktree_scope(ctx.policy, Path(cwd), Path(ctx.run_dir) / "check-scratch", writable=[home],
                                     git_write=False)
    box = sandboxes.make(ctx.policy, scope)
    env["TMPDIR"] = "/tmp" if box.kind != "none" else str(scope.tmp)
    return proc.run_command(command, Path(cwd), log_path, timeout_s, env, box)


def tail(path: Path, lines: int = 15) -> str:
    from ..redact import redact

    return redact("\n".join(path.read_text(errors="replace").splitlines()[-lines:]))


class ChecksGate(Gate):
    name = "checks"

    def applies(self, ctx):
        if not ctx.policy["checks"]:
            return False, "no checks configured"
        return True, ""

    def run(self, ctx) -> dict:
        evidence, logs, failed = [], [], []
        for check in ctx.policy["checks"]:
            log = Path(ctx.run_dir) / "checks" / f"{check['name']}.log"
            ctx.say(f"check {check['name']}: {check['command']}")
            started = time.monotonic()
            code, timed_out = run_command(ctx, check["command"], Path(ctx.worktree), log,
                                          check.get("timeoutSeconds", 1800))
            seconds = round(time.monotonic() - started, 2)
            ok = code == 0 and not timed_out
            ctx.say(f"check {check['name']}: {'passed' if ok else 'FAILED'} in {seconds}s")
            evidence.append({"name": check["name"], "command": check["command"], "exit_code": code,
                             "timed_out": timed_out, "seconds": seconds, "passed": ok,
                             "log_tail": "" if ok else tail(log)})
            logs.append(log)
            if not ok:
                failed.append(check["name"] + (" (timed out)" if timed_out else f" (exit {code})"))
        if failed:
            return verdict(self.name, "fail", "failing check(s): " + ", ".join(failed), evidence, logs=logs)
        return verdict(self.name, "pass", f"{len(evidence)} check(s) passed", evidence, logs=logs)
