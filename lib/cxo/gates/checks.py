"""checks: the policy's commands, run by the runner in the worktree, logs kept."""

import re
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


# Test runners' own lines naming a failed test: pytest (`FAILED id - why`), unittest (`FAIL: test (Class)`),
# go (`--- FAIL: TestX`), jest/vitest (`✕ name`). Only the name is kept, never the rest of the line.
_FAILED_TEST = [
    re.compile(r"^FAILED (\S+?)(?: - .*)?$"),
    re.compile(r"^(?:FAIL|ERROR): (\w+ \([\w.]+\))$"),
    re.compile(r"^\s*--- FAIL: (\S+)"),
    re.compile(r"^\s*[✕×] (.+?)(?: \(\d+ ?m?s\))?$"),
]
_TEST_NAME = re.compile(r"[\w./:\[\]()@ ,=+-]+")
MAX_TESTS = 10


def failing_tests(log_text: str) -> list[str]:
    """The names of failed tests found in a check's log: cleaned, one line each, at most MAX_TESTS (then a count).
    Parsed by the runner from the test runner's summary lines, so no free text of the agent's code reaches a
    comment: a name holds only characters test ids are made of, and at most 120 of them."""
    from ..untrusted import clean

    found: list[str] = []
    for line in clean(log_text[-200_000:]).splitlines():
        for pattern in _FAILED_TEST:
            match = pattern.match(line.rstrip())
            if match:
                name = match.group(1).strip()
                if _TEST_NAME.fullmatch(name) and len(name) <= 120 and name not in found:
                    found.append(name)
                break
    if len(found) > MAX_TESTS:
        return found[:MAX_TESTS] + [f"… and {len(found) - MAX_TESTS} more"]
    return found


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
        evidence, logs, failed, findings = [], [], [], []
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
                tests = failing_tests(log.read_text(errors="replace")) if log.is_file() else []
                evidence[-1]["failing_tests"] = tests
                findings += [{"file": None, "line": None, "severity": "blocker", "rule": "failing-test",
                              "message": f"check {check['name']}: failing test {name}"} for name in tests]
        if failed:
            return verdict(self.name, "fail", "failing check(s): " + ", ".join(failed), evidence, findings,
                           logs=logs)
        return verdict(self.name, "pass", f"{len(evidence)} check(s) passed", evidence, logs=logs)
