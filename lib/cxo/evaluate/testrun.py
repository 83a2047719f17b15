"""Run a project's tests in a scratch tree, inside the agent sandbox, and read each test's outcome.

The policy's reviewGates.quality.testCommand runs once over the test files (`${tests}`), with
PYTEST_ADDOPTS=-rA so pytest names every test with its outcome; unittest's verbose lines and go's
`--- PASS/FAIL` lines are read too. A runner that names no test is judged per file: the file is the
test id and its exit status the outcome.
"""

import os
import re
import shlex
import subprocess
from pathlib import Path

from .. import proc
from ..agents import environment
from ..agents import sandbox as sandboxes
from ..globs import match

_OUTCOME = [
    (re.compile(r"^(PASSED|FAILED|ERROR|XPASS|XFAIL) (\S+?)(?: - .*)?$"), 2, 1),   # pytest -rA
    (re.compile(r"^(test\w* \([\w.]+\)) \.\.\. (ok|FAIL|ERROR|expected failure|skipped.*)$"), 1, 2),  # unittest -v
    (re.compile(r"^\s*--- (PASS|FAIL): (\S+)"), 2, 1),                               # go test -v
]
_PASS = {"PASSED", "XFAIL", "ok", "expected failure", "PASS"}


def outcomes(log_text: str) -> dict[str, bool]:
    """{test id: passed} from a test runner's own lines (a test seen failing anywhere stays failed)."""
    found: dict[str, bool] = {}
    for line in log_text.splitlines():
        line = line.rstrip()
        for pattern, name_group, word_group in _OUTCOME:
            m = pattern.match(line)
            if m:
                name, word = m.group(name_group), m.group(word_group)
                if word.startswith("skipped"):
                    break
                found[name] = found.get(name, True) and word in _PASS
                break
    return found


def test_files(tree: Path, patterns: list[str]) -> list[str]:
    """The files of `tree` the project's test runner collects (testFilePatterns), sorted."""
    found = []
    for root, dirs, files in os.walk(tree):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("node_modules", "__pycache__")]
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), tree)
            if match(rel, patterns):
                found.append(rel)
    return sorted(found)


def command_for(template: str, tests: list[str]) -> str:
    quoted = " ".join(shlex.quote(t) for t in tests)
    return template.replace("${tests}", quoted).replace("{tests}", quoted)


def run(policy, tree: Path, tests: list[str], work: Path, label: str) -> tuple[int | None, str]:
    """The test command over `tests` in `tree`, sandboxed as the policy's checks are; (exit code, log text)."""
    quality = policy["reviewGates"]["quality"]
    home = work / "home"
    env = environment.build(home)
    env["PYTEST_ADDOPTS"] = (env.get("PYTEST_ADDOPTS", "") + " -rA -p no:cacheprovider").strip()
    scope = sandboxes.worktree_scope(policy, tree, work / "scratch", writable=[home], git_write=False)
    box = sandboxes.make(policy, scope)
    env["TMPDIR"] = "/tmp" if box.kind != "none" else str(scope.tmp)
    log = work / f"{label}.log"
    code, timed_out = proc.run_command(command_for(quality["testCommand"], tests), tree, log,
                                       quality["testTimeoutSeconds"], env, box)
    return (None if timed_out else code), log.read_text(errors="replace") if log.is_file() else ""


def setup(policy, tree: Path, work: Path, label: str) -> str | None:
    """The policy's `setup` steps in a fresh scratch tree (sandboxed, as for the tdd gate's trees); None, or the
    line saying which step failed."""
    from ..prepare import failure, run_setup

    return failure(run_setup(policy, tree, work, label, lambda message: None))


def results(policy, tree: Path, files: list[str], work: Path, label: str) -> dict[str, bool]:
    """{test id: passed} for every test in `files`: one run of them all; per file when the runner names none."""
    if not files:
        return {}
    code, text = run(policy, tree, files, work, label)
    found = outcomes(text)
    if found:
        return found
    per_file = {}
    for index, name in enumerate(files):
        code, _ = run(policy, tree, [name], work, f"{label}-{index:03d}")
        per_file[name] = code == 0
    return per_file


def judge(policy, tree: Path, ids: list[str], work: Path, label: str) -> dict[str, bool]:
    """{id: passed} for the given test ids in `tree`. A pytest id (`file::name`) runs its file; a file id runs
    that file; any other id (a unittest name) runs every test file of the tree. A test that does not report
    counts as failed."""
    patterns = policy["reviewGates"]["quality"]["testFilePatterns"]
    files = {i.split("::", 1)[0] for i in ids if "::" in i}
    files |= {i for i in ids if "::" not in i and (tree / i).is_file()}
    if any("::" not in i and not (tree / i).is_file() for i in ids):
        files |= set(test_files(tree, patterns))
    found = results(policy, tree, sorted(f for f in files if (tree / f).is_file()), work, label)
    return {i: bool(found.get(i, False)) for i in ids}


def apply_test_patch(tree: Path, patch: str, base_files: dict[str, bytes | None]) -> str | None:
    """Put the test files of `patch` back to the base (`base_files`: path -> base content, None when new) and
    apply `patch` in `tree` (a plain directory); None, or why it did not apply."""
    for rel, content in base_files.items():
        path = tree / rel
        if content is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    if not patch.strip():
        return None
    done = subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], cwd=tree, input=patch.encode(),
                          capture_output=True, env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1",
                               # never a repository above the scratch tree: paths stay relative to it
                               "GIT_CEILING_DIRECTORIES": str(tree.parent)})
    if done.returncode:
        return "test_patch does not apply: " + (done.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
    return None


def patch_files(patch: str) -> list[str]:
    """The paths a unified diff touches (both sides, /dev/null left out)."""
    names = []
    for line in patch.splitlines():
        if line.startswith(("--- ", "+++ ")):
            name = line[4:].split("\t")[0].strip()
            if name != "/dev/null":
                name = name[2:] if name[:2] in ("a/", "b/") else name
                if name not in names:
                    names.append(name)
    return names
