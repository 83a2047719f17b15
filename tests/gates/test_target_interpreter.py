"""`python` in checks and tdd runs is the target project's interpreter (its venv first on the user's PATH),
not the one cxo runs on: a target whose tests import a package only its own venv has still passes."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cxo import policy as policy_mod
from cxo.gates.base import GateContext, run_one
from cxo.gates.checks import ChecksGate
from cxo.gates.tdd import TddGate
from cxo.gitutil import collect_changes
from tests.support.git_fixtures import commit_all, git, write, write_policy

POLICY = {"checks": [{"name": "tests", "command": "python -m unittest"}],
          "reviewGates": {"quality": {"testCommand": "python -m unittest ${tests}"}}}
NEW_TEST = ("import unittest\n\nimport onlyhere\n\nfrom app.calc import triple\n\n\n"
            "class TripleTest(unittest.TestCase):\n    def test_triple(self):\n"
            "        self.assertEqual(triple(onlyhere.SEVEN), 21)\n")


@pytest.fixture(scope="module")
def target_venv(tmp_path_factory) -> Path:
    """A venv of the target's own, with `onlyhere`, a tiny local package cxo's interpreter does not have."""
    root = tmp_path_factory.mktemp("target-venv")
    # A wheel written by hand: the fresh venv installs it offline, with no build backend.
    wheel = root / "onlyhere-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("onlyhere/__init__.py", "SEVEN = 7\n")
        zf.writestr("onlyhere-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: onlyhere\nVersion: 1.0\n")
        zf.writestr("onlyhere-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                    "Tag: py3-none-any\n")
        zf.writestr("onlyhere-1.0.dist-info/RECORD", "")
    venv = root / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, env=env)
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index",
                           str(wheel)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv


def activate(monkeypatch, venv: Path) -> None:
    """What `source venv/bin/activate` does to the runner's environment."""
    monkeypatch.setenv("PATH", f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("VIRTUAL_ENV", str(venv))


def target_change(repo: Path) -> str:
    write(repo, "app/calc.py", "def add(a, b):\n    return a + b\n")
    write(repo, "tests/__init__.py", "")
    git(repo, "rm", "-q", "tests/test_calc.py")  # a pytest-style test: this target uses unittest
    write_policy(repo, POLICY)
    base = commit_all(repo, "unittest target")
    write(repo, "app/calc.py", "def add(a, b):\n    return a + b\n\n\ndef triple(a):\n    return 3 * a\n")
    write(repo, "tests/test_triple.py", NEW_TEST)
    return base


def run_gate(gate, repo: Path, base: str) -> dict:
    pol = policy_mod.load(repo, infer_repo=False)
    ctx = GateContext(worktree=repo, base=base, head=None, policy=pol, changes=collect_changes(repo, base, "HEAD"),
                      run_dir=repo.parent / f"run-{gate.name}", say=lambda m: None)
    return run_one(gate, ctx)


def test_cxo_interpreter_lacks_the_target_package():
    assert subprocess.run([sys.executable, "-c", "import onlyhere"], capture_output=True).returncode != 0


def test_checks_and_tdd_use_the_target_venv_on_path(git_repo, target_venv, monkeypatch):
    activate(monkeypatch, target_venv)
    base = target_change(git_repo)
    checks = run_gate(ChecksGate(), git_repo, base)
    assert checks["verdict"] == "pass", checks
    tdd = run_gate(TddGate(), git_repo, base)
    assert tdd["verdict"] == "pass", tdd
    assert tdd["evidence"][0]["base"] == "fail" and tdd["evidence"][0]["head"] == "pass"


def test_without_the_target_venv_the_same_checks_fail(git_repo, target_venv):
    # cxo's own venv first on PATH (tests/conftest.py), as before this change: `onlyhere` is missing.
    base = target_change(git_repo)
    checks = run_gate(ChecksGate(), git_repo, base)
    assert checks["verdict"] == "fail", checks
    assert "onlyhere" in Path(checks["logs"][0]).read_text()
