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


# A test runner's closing totals: pytest `=== 7 failed, 12 passed, 1 skipped in 0.31s ===` (or without the
# rules under -q), unittest's `FAILED (failures=2, errors=1)` is left to the names.
_SUMMARY = re.compile(r"^=*\s*((?:\d+ [a-z]+(?:, )?)+) in [\d.]+\s*s(?:econds)?\b.*$")
_COUNT = re.compile(r"(\d+) (failed|passed|errors?)\b")


def failure_summary(log_text: str) -> dict:
    """What a check's log says about failing tests, parsed by the runner from the test runner's own lines:
    `count` (every failing test: the runner's failed + errors when its summary line says so, else the names
    found), `names` (at most MAX_TESTS, cleaned), and `failed`, `passed`, `errors` from the summary line (None
    without one). No free text of the agent's code reaches a comment: a name holds only characters test ids are
    made of, and at most 120 of them."""
    from ..untrusted import clean

    found: list[str] = []
    totals: dict[str, int] | None = None
    for line in clean(log_text[-200_000:]).splitlines():
        line = line.rstrip()
        for pattern in _FAILED_TEST:
            match = pattern.match(line)
            if match:
                name = match.group(1).strip()
                if _TEST_NAME.fullmatch(name) and len(name) <= 120 and name not in found:
                    found.append(name)
                break
        else:
            summary = _SUMMARY.match(line)
            if summary:
                totals = {}
                for number, word in _COUNT.findall(summary.group(1)):
                    totals["errors" if word.startswith("error") else word] = int(number)
    result = {"count": len(found), "names": found[:MAX_TESTS], "failed": None, "passed": None, "errors": None}
    if totals is not None:
        result.update(failed=totals.get("failed", 0), passed=totals.get("passed", 0), errors=totals.get("errors", 0))
        result["count"] = max(len(found), result["failed"] + result["errors"])
    return result


def failing_tests(log_text: str) -> list[str]:
    """The names of failed tests found in a check's log: at most MAX_TESTS (then a count of the rest)."""
    found = failure_summary(log_text)
    names, rest = found["names"], found["count"] - len(found["names"])
    return names + [f"… and {rest} more"] if rest > 0 and len(names) == MAX_TESTS else names


def describe(found: dict) -> str:
    """`12 failing tests (12 failed, 1 passed)` (the totals only when the runner printed them)."""
    if not found["count"]:
        return ""
    text = f"{found['count']} failing test{'s' if found['count'] != 1 else ''}"
    if found["failed"] is not None:
        parts = [f"{found['failed']} failed", f"{found['passed']} passed"]
        parts += [f"{found['errors']} error{'s' if found['errors'] != 1 else ''}"] if found["errors"] else []
        text += " (" + ", ".join(parts) + ")"
    return text


def _test_file(name: str) -> str | None:
    """The file of a pytest-style id (`tests/test_x.py::test_y`), else None."""
    path = name.split("::", 1)[0]
    return path if "::" in name and "." in path.rsplit("/", 1)[-1] and " " not in path else None


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
                found = failure_summary(log.read_text(errors="replace")) if log.is_file() else \
                    failure_summary("")
                counts = describe(found)
                why = "timed out" if timed_out else f"exit {code}"
                failed.append(f"{check['name']} ({why})" + (f" with {counts}" if counts else ""))
                evidence[-1].update(failing_tests=found["names"], failing_count=found["count"],
                                    tests_failed=found["failed"], tests_passed=found["passed"],
                                    tests_errors=found["errors"], log_path=str(log))
                findings += [{"file": _test_file(name), "line": None, "severity": "blocker", "rule": "failing-test",
                              "message": f"check {check['name']}: failing test {name}"} for name in found["names"]]
                if found["count"] > len(found["names"]):
                    findings.append({"file": None, "line": None, "severity": "blocker", "rule": "failing-test",
                                     "message": f"check {check['name']}: … and {found['count'] - len(found['names'])}"
                                                " more failing tests (see the check's log)"})
        if failed:
            return verdict(self.name, "fail", "failing check(s): " + ", ".join(failed), evidence, findings,
                           logs=logs)
        return verdict(self.name, "pass", f"{len(evidence)} check(s) passed", evidence, logs=logs)
