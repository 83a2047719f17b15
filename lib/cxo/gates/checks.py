"""checks: the policy's commands, run by the runner in the worktree, logs kept."""

import subprocess
import time
from pathlib import Path

from ..agents import environment
from .base import Gate, verdict


def run_command(command: str, cwd: Path, log_path: Path, timeout_s: float, home: Path) -> tuple[int | None, bool]:
    """Run `command` with bash in `cwd`, output to `log_path`; (exit code, timed out)."""
    from ..agents.process import _kill_group, spawn

    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = environment.build(home)
    with open(log_path, "w") as log:
        proc = spawn(["bash", "-c", command], env, stdout=log, stderr=subprocess.STDOUT, cwd=str(cwd),
                     start_new_session=True)
        try:
            return proc.wait(timeout=timeout_s), False
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return None, True
        except KeyboardInterrupt:  # the runner is stopping: its checks must not outlive it
            _kill_group(proc)
            raise


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
            code, timed_out = run_command(check["command"], Path(ctx.worktree), log,
                                          check.get("timeoutSeconds", 1800), Path(ctx.run_dir) / "check-home")
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
