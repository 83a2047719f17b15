"""visual gate and the built-in proof command: screenshots the runner saw being made, in real Chromium."""

import json
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cxo import policy as policy_mod
from cxo.gates.base import GateContext, run_one
from cxo.gates.visual import VisualGate
from cxo.gitutil import collect_changes
from cxo.schemas import errors as schema_errors
from tests.support.git_fixtures import git, write, write_policy

BIN = Path(sys.executable).parent
PNG = "import base64,os,pathlib; pathlib.Path(os.environ['CODEX_ORCHESTRATOR_PROOF_DIR'], '{name}').write_bytes(" \
      "base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='))"


def context(repo, visual, report=None, labels=()):
    copies = repo.parent / "copies"  # where the proof command may leave what the test reads back
    copies.mkdir(exist_ok=True)
    write_policy(repo, {"reviewGates": {"visualProof": visual}, "agent": {"writePaths": [str(copies)]}})
    base = git(repo, "rev-parse", "HEAD").strip()
    write(repo, "web/index.html", "<h1>new page</h1>\n")
    return GateContext(worktree=repo, base=base, head=None, policy=policy_mod.load(repo, infer_repo=False),
                       changes=collect_changes(repo, base), run_dir=repo.parent / "run", report=report,
                       issue={"number": 12, "title": "UI", "labels": list(labels)}, say=lambda m: None)


def checked(result):
    assert schema_errors("gate-verdict", result) == []
    return result


def test_a_command_that_exits_0_without_screenshots_fails(git_repo):
    result = checked(run_one(VisualGate(), context(git_repo, {"runnerValidationCommand": "true"})))
    assert result["verdict"] == "fail" and "made 0 new screenshot(s)" in result["summary"]


def test_a_command_that_writes_screenshots_passes_with_seed_environment(git_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("LOGIN_EMAIL", "qa@example.com")
    monkeypatch.setenv("GITHUB_TOKEN", "never-passed")
    env_file = tmp_path / "copies" / "proof-env.json"
    command = (f"{sys.executable} -c \"{PNG.format(name='home.png')}\" && "
               f"{sys.executable} -c 'import json,os; print(json.dumps(dict(os.environ)))' > {env_file}")
    result = checked(run_one(VisualGate(), context(git_repo, {"runnerValidationCommand": command,
                                                              "envPassthrough": ["LOGIN_EMAIL"]})))
    assert result["verdict"] == "pass", result
    assert [e["screenshot"] for e in result["evidence"]] == [".codex-orchestrator/proofs/issue-12/home.png"]
    seen = json.loads(env_file.read_text())
    assert seen["CODEX_ORCHESTRATOR_ISSUE_NUMBER"] == "12" and seen["LOGIN_EMAIL"] == "qa@example.com"
    assert "web/index.html" in seen["CODEX_ORCHESTRATOR_CHANGED_FILES"].splitlines()
    assert str(git_repo) not in seen["CODEX_ORCHESTRATOR_PLAYWRIGHT_PROFILE_DIR"]
    assert "GITHUB_TOKEN" not in seen


def test_screenshots_outside_the_proof_dir_are_rejected(git_repo):
    write(git_repo, "shots/elsewhere.png", "not proof")
    report = {"artifacts": [{"path": "shots/elsewhere.png"}]}
    command = f"{sys.executable} -c \"{PNG.format(name='ok.png')}\""
    result = checked(run_one(VisualGate(), context(git_repo, {"runnerValidationCommand": command}, report)))
    assert result["verdict"] == "fail" and "outside the proof dir" in result["summary"]


def test_ui_label_alone_makes_the_gate_apply_and_no_command_fails(git_repo):
    ctx = context(git_repo, {}, labels=["frontend"])
    result = checked(run_one(VisualGate(), ctx))
    assert result["verdict"] == "fail" and "configure reviewGates.visualProof" in result["summary"]


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian's chromium is not installed "
                    "(apt-get install chromium; .ci/run does)")
def test_the_builtin_proof_takes_a_real_screenshot_in_headless_chromium(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><body style='background:#2a6'><h1>cxo proof</h1></body></html>")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        proc = subprocess.run([str(BIN / "cxo-proof"), "--worktree", str(site), "--out", str(tmp_path / "shots"),
                               "--url", url], capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr
    shot = Path(json.loads(proc.stdout)[0]["path"])
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    assert shutil.which("git")
