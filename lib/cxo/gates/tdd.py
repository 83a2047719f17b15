"""tdd: the runner proves red→green itself instead of trusting the agent's word.

The change's test files (those the project's test runner collects,
reviewGates.quality.testFilePatterns) and its fixtures (the other changed files
under testChangedPathGlobs: data, certificates, conftest.py) are laid over the
BASE tree in a scratch worktree, where each test file must fail; at the head it
must pass. Each test file is run on its own so the verdict names every file with
both outcomes and keeps both logs; a fixture is never run as a test.
"""

import shlex
import shutil
from contextlib import ExitStack
from pathlib import Path

from ..gitutil import export_tree
from ..prepare import failure, run_setup
from ..untrusted import one_line
from .base import Gate, verdict
from .checks import run_command, tail
from .paths import fixture_files, head_content, lay, quality, runtime_files, test_changes, test_files


def render_tests(command: str, test: str) -> str:
    quoted = shlex.quote(test)
    return command.replace("${tests}", quoted).replace("{tests}", quoted)


class Scratch:
    """The files of `rev` under the run dir, with no git directory (nothing in it can point a runner git command
    anywhere), always removed afterwards."""

    def __init__(self, repo: Path, rev: str, path: Path):
        self.repo, self.rev, self.path = repo, rev, path

    def __enter__(self) -> Path:
        if self.path.exists():
            shutil.rmtree(self.path)
        export_tree(self.repo, self.rev, self.path)
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


class TddGate(Gate):
    name = "tdd"

    def applies(self, ctx):
        q = quality(ctx.policy)
        if not (q["enabled"] and q["tdd"]):
            return False, "TDD is turned off by policy (reviewGates.quality)"
        if not runtime_files(ctx):
            return False, "no runtime files changed (tests, docs or config only)"
        if not test_changes(ctx) and q.get("requireTestChange") is False:
            return False, "no test changed and the policy does not require one (reviewGates.quality.requireTestChange)"
        return True, ""

    def run(self, ctx) -> dict:
        q = quality(ctx.policy)
        tests = test_files(ctx)
        runtime = runtime_files(ctx)
        if not test_changes(ctx):
            return verdict(self.name, "fail", f"runtime change without a test change ({len(runtime)} runtime file(s), "
                           "no changed file matches testChangedPathGlobs)",
                           findings=[{"file": p, "line": None, "severity": "blocker",
                                      "message": "runtime change with no test that covers it"} for p in runtime[:20]])
        if not tests:  # fixtures only: a test-side change, but nothing a test runner collects proves the change
            fixtures = test_changes(ctx)
            result = "skip" if q.get("requireTestChange") is False else "fail"
            return verdict(self.name, result, f"no test file to run: the {len(fixtures)} changed file(s) under "
                           f"testChangedPathGlobs are fixtures matching no testFilePatterns ({', '.join(fixtures[:3])}"
                           + (", …" if len(fixtures) > 3 else "") + ")")
        logs_dir = Path(ctx.run_dir) / "tdd"
        evidence, logs, failures = [], [], []
        timeout = q["testTimeoutSeconds"]
        with ExitStack() as stack:
            base_tree = stack.enter_context(Scratch(Path(ctx.worktree), ctx.base, logs_dir / "base-tree"))
            for test in tests:
                target = base_tree / test
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(head_content(ctx, test))
            for fixture in fixture_files(ctx):  # beside the tests, as the head has them: the base's runtime is on trial
                if fixture in ctx.changes.deleted:
                    (base_tree / fixture).unlink(missing_ok=True)
                else:
                    lay(ctx, fixture, base_tree)
            head_tree = stack.enter_context(Scratch(Path(ctx.worktree), ctx.head, logs_dir / "head-tree")) \
                if ctx.head else Path(ctx.worktree)
            # The policy's setup in each fresh tree (the worktree had its own when it was made).
            trees = [(base_tree, "tdd-base")] + ([(head_tree, "tdd-head")] if ctx.head else [])
            for tree, label in trees:
                section = run_setup(ctx.policy, tree, Path(ctx.run_dir), label, ctx.say)
                if failure(section):
                    return verdict(self.name, "fail", failure(section), logs=[Path(s["log"]) for s in
                                                                                section["steps"]])
            for index, test in enumerate(tests):
                command = render_tests(q["testCommand"], test)
                ctx.say(f"tdd: {test} on the base (must fail)")
                base_log, head_log = logs_dir / f"{index:02d}-base.log", logs_dir / f"{index:02d}-head.log"
                base_code, base_timeout = run_command(ctx, command, base_tree, base_log, timeout)
                ctx.say(f"tdd: {test} on the head (must pass)")
                head_code, head_timeout = run_command(ctx, command, head_tree, head_log, timeout)
                base_out = "timeout" if base_timeout else ("pass" if base_code == 0 else "fail")
                head_out = "timeout" if head_timeout else ("pass" if head_code == 0 else "fail")
                evidence.append({"file": test, "base": base_out, "head": head_out, "base_exit": base_code,
                                 "head_exit": head_code, "base_log": str(base_log), "head_log": str(head_log)})
                logs += [base_log, head_log]
                problem = None
                if "timeout" in (base_out, head_out):
                    problem = f"timed out after {timeout}s"
                elif base_out == "pass":
                    problem = "passes without the change: it does not prove the behaviour"
                elif head_out == "fail":
                    problem = ("fails on both the base and the head" if base_out == "fail"
                               else "fails at the head") + f": {tail(head_log, 5)[-300:]}"
                if problem:
                    failures.append({"file": test, "line": None, "severity": "blocker", "message": problem})
        if failures:
            return verdict(self.name, "fail", f"{len(failures)} of {len(tests)} test file(s) do not show red→green: "
                           + "; ".join(f"{f['file']} {one_line(f['message'], 80)}" for f in failures[:3]),
                           evidence, failures, logs)
        return verdict(self.name, "pass", f"red→green proven by the runner for {len(tests)} test file(s)",
                       evidence, logs=logs)
