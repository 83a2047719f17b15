"""The tdd gate with real git and real pytest: the runner proves red→green itself."""

import json
import subprocess
import sys
from pathlib import Path

from cxo import policy as policy_mod
from cxo.gates.base import GateContext, run_one
from cxo.gates.tdd import TddGate
from cxo.gitutil import collect_changes
from cxo.schemas import errors as schema_errors
from tests.support.git_fixtures import commit_all, git, write, write_policy

BIN = Path(sys.executable).parent
TEST_COMMAND = f"{sys.executable} -m pytest -q -p no:cacheprovider ${{tests}}"
NEW_TEST = "from app.calc import multiply\n\n\ndef test_multiply():\n    assert multiply(6, 7) == 42\n"
MULTIPLY = "def add(a, b):\n    return a + b\n\n\ndef multiply(a, b):\n    return a * b\n"


def gate(repo, base, head=None):
    write_policy(repo, {"reviewGates": {"quality": {"testCommand": TEST_COMMAND}}})
    pol = policy_mod.load(repo, infer_repo=False)
    ctx = GateContext(worktree=repo, base=base, head=head, policy=pol,
                      changes=collect_changes(repo, base, head or "HEAD"), run_dir=repo.parent / "run",
                      say=lambda m: None)
    result = run_one(TddGate(), ctx)
    assert schema_errors("gate-verdict", result) == []
    return result


def base_of(repo):
    return git(repo, "rev-parse", "HEAD").strip()


def test_a_real_red_green_change_passes(git_repo):
    base = base_of(git_repo)
    write(git_repo, "app/calc.py", MULTIPLY)
    write(git_repo, "tests/test_multiply.py", NEW_TEST)  # uncommitted and untracked: the working tree counts
    result = gate(git_repo, base)
    assert result["verdict"] == "pass", result
    # The new test cannot even import multiply on the base (pytest exit 2): red, as test-first wants it.
    assert result["evidence"][0] | {"base_log": "", "head_log": ""} == {
        "file": "tests/test_multiply.py", "base": "fail", "head": "pass", "base_exit": 2, "head_exit": 0,
        "base_log": "", "head_log": ""}
    assert all(Path(p).is_file() for p in result["logs"])
    assert git(git_repo, "worktree", "list").count("\n") == 1  # the scratch worktree is gone


def test_a_new_test_that_already_passes_on_the_base_is_rejected(git_repo):
    base = base_of(git_repo)
    write(git_repo, "app/calc.py", "def add(a, b):\n    return b + a\n")
    write(git_repo, "tests/test_more.py", "from app.calc import add\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n")
    result = gate(git_repo, base)
    assert result["verdict"] == "fail" and "passes without the change" in result["findings"][0]["message"]


def test_a_runtime_change_without_a_test_change_is_rejected(git_repo):
    base = base_of(git_repo)
    write(git_repo, "app/calc.py", MULTIPLY)
    result = gate(git_repo, base)
    assert result["verdict"] == "fail" and result["summary"].startswith("runtime change without a test change")


def test_a_test_failing_on_base_and_head_is_rejected(git_repo):
    base = base_of(git_repo)
    write(git_repo, "app/calc.py", "def add(a, b):\n    return a + b\n\n\ndef multiply(a, b):\n    return a + b\n")
    write(git_repo, "tests/test_multiply.py", NEW_TEST)
    result = gate(git_repo, base)
    assert result["verdict"] == "fail"
    assert result["evidence"][0]["base"] == "fail" and result["evidence"][0]["head"] == "fail"


def test_docs_and_tests_only_changes_are_exempt(git_repo):
    base = base_of(git_repo)
    write(git_repo, "docs/guide.md", "# guide\n")
    write(git_repo, "tests/test_extra.py", "def test_x():\n    assert True\n")
    result = gate(git_repo, base)
    assert result["verdict"] == "skip" and "no runtime files" in result["summary"]


def test_alone_on_a_committed_range_gives_the_same_verdict(git_repo):
    base = base_of(git_repo)
    write(git_repo, "app/calc.py", MULTIPLY)
    write(git_repo, "tests/test_multiply.py", NEW_TEST)
    head = commit_all(git_repo, "multiply")
    git(git_repo, "checkout", "-q", base)  # the worktree is elsewhere: the gate must use --head itself
    inside = gate(git_repo, base, head)
    proc = subprocess.run([str(BIN / "cxo-gate"), "tdd", "--worktree", str(git_repo), "--base", base, "--head", head],
                          capture_output=True, text=True)
    alone = json.loads(proc.stdout)
    assert proc.returncode == 0 and alone["verdict"] == inside["verdict"] == "pass"

    def strip(v):
        return {**v, "duration_seconds": 0, "logs": [], "evidence": [
            {k: x for k, x in e.items() if not k.endswith("_log")} for e in v["evidence"]]}

    assert strip(alone) == strip(inside)


DATA_TEST = ("from pathlib import Path\n\nfrom app.calc import multiply\n\n\ndef test_products():\n"
             "    for line in (Path(__file__).parent / 'data' / 'products.txt').read_text().splitlines():\n"
             "        a, b, product = map(int, line.split())\n        assert multiply(a, b) == product\n")


def test_a_data_file_under_tests_is_a_fixture_laid_but_not_run(git_repo):
    """The data file and the .pem fixture fail 'on both base and head' when run as tests: only the file the test
    runner collects (testFilePatterns) is run, with the fixtures laid over the base beside it."""
    base = base_of(git_repo)
    write(git_repo, "app/calc.py", MULTIPLY)
    write(git_repo, "tests/test_products.py", DATA_TEST)
    write(git_repo, "tests/data/products.txt", "6 7 42\n2 3 6\n")
    write(git_repo, "tests/certs/server.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    result = gate(git_repo, base)
    assert result["verdict"] == "pass", result
    assert [(e["file"], e["base"], e["head"]) for e in result["evidence"]] == [("tests/test_products.py", "fail",
                                                                                 "pass")]
    assert result["summary"] == "red→green proven by the runner for 1 test file(s)"
    # red on the base for the runtime's sake (no multiply), not for a missing fixture
    assert "cannot import name 'multiply'" in Path(result["evidence"][0]["base_log"]).read_text()


def test_fixtures_alone_prove_nothing_a_runtime_change_needs_a_test(git_repo):
    """A changed data file under tests/ is run by no test runner: it cannot show red→green, so a runtime change
    with only fixtures fails (requireTestChange), and skips where the policy does not require a test."""
    base = base_of(git_repo)
    write(git_repo, "app/calc.py", MULTIPLY)
    write(git_repo, "tests/data/products.txt", "6 7 42\n")
    result = gate(git_repo, base)
    assert result["verdict"] == "fail", result
    assert "tests/data/products.txt" in result["summary"] and "testFilePatterns" in result["summary"]


def test_test_file_patterns_come_from_the_policy(git_repo):
    base = base_of(git_repo)
    write(git_repo, "app/calc.py", MULTIPLY)
    write(git_repo, "tests/check_multiply.py", NEW_TEST)  # not a default pattern: a fixture
    assert gate(git_repo, base)["verdict"] == "fail"
    write_policy(git_repo, {"reviewGates": {"quality": {"testCommand": TEST_COMMAND,
                                                        "testFilePatterns": ["check_*.py"]}}})
    pol = policy_mod.load(git_repo, infer_repo=False)
    ctx = GateContext(worktree=git_repo, base=base, head=None, policy=pol,
                      changes=collect_changes(git_repo, base, "HEAD"), run_dir=git_repo.parent / "run",
                      say=lambda m: None)
    result = run_one(TddGate(), ctx)
    assert result["verdict"] == "pass" and [e["file"] for e in result["evidence"]] == ["tests/check_multiply.py"]


def test_the_default_test_file_patterns_are_what_test_runners_collect():
    from cxo.globs import match

    patterns = policy_mod.defaults()["reviewGates"]["quality"]["testFilePatterns"]
    runs = ["tests/test_a.py", "app/a_test.py", "web/a.test.ts", "web/a.test.jsx", "web/a.spec.js", "web/a.spec.tsx",
            "pkg/a_test.go", "src/test/java/CalcTest.java", "spec/calc_spec.rb", "test_a.py"]
    fixtures = ["tests/data/conjunctions.txt", "tests/certs/server.pem", "tests/conftest.py", "tests/__init__.py",
                "tests/helpers.py", "tests/data/test_input.json", "web/a.test.css", "tests/testdata/a.go"]
    assert [p for p in runs if not match(p, patterns)] == []
    assert [p for p in fixtures if match(p, patterns)] == []
