"""The Codex adapter with the REAL Codex CLI (pinned, installed by scripts/install-codex.sh), driven by a
scripted model server on 127.0.0.1 that speaks the Responses API: no credentials, no network."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cxo.runner import run_issue
from tests.support.fake_model_server import ScriptedModelServer, codex_provider_args
from tests.support.git_fixtures import GOOD_REPORT, reviewer_policy, write_policy

ROOT = Path(__file__).resolve().parents[2]
CODEX = ROOT / ".tools" / "node_modules" / ".bin" / "codex"

pytestmark = pytest.mark.skipif(not CODEX.exists(), reason="the pinned Codex CLI is not installed: run "
                                "scripts/install-codex.sh (CI does)")


def codex_policy(server, **extra):
    return {"command": str(CODEX), "args": None, "extraArgs": codex_provider_args(server.url),
            "timeoutSeconds": 120, "idleTimeoutSeconds": 60, **extra}


def test_real_codex_edits_the_worktree_and_the_pipeline_opens_a_draft_pr(target_repo, hub_repo, tmp_path):
    report = json.dumps({**GOOD_REPORT, "summary": "multiply via real codex"})
    script = [
        [{"shell": "printf '\\n\\ndef multiply(a, b):\\n    return a * b\\n' >> app/calc.py"}],
        [{"shell": "printf 'from app.calc import multiply\\n\\n\\ndef test_multiply():\\n"
                   "    assert multiply(6, 7) == 42\\n' > tests/test_multiply.py"}],
        [{"shell": "env | grep -c GITHUB_TOKEN > agent-token-count.txt || true"}],
        [{"shell": f"cat > \"$CODEX_ORCHESTRATOR_REPORT_FILE\" <<'JSON'\n{report}\nJSON"}],
        [{"message": "Implemented multiply."}],
    ]
    server = ScriptedModelServer(script).start()
    try:
        write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url},
                                   "codex": codex_policy(server), "reviewGates": {
                                       "reviewer": reviewer_policy("approve"),
                                       "quality": {"testCommand": f"{sys.executable} -m pytest -q "
                                                                  "-p no:cacheprovider ${tests}"}}})
        issue = hub_repo.api.ok("POST", "/repos/acme/widgets/issues", {"title": "Add multiply",
                                                                        "labels": ["agent:auto"]})
        final = run_issue(target_repo, issue["number"])
    finally:
        server.stop()
    assert final["status"] == "ok", final.get("blocked")
    codex = final["codex"]
    assert codex["agent"] == "codex" and codex["report"]["summary"] == "multiply via real codex"
    assert "--sandbox" in codex["command"] and "workspace-write" in codex["command"]
    events = [json.loads(line)["type"] for line in Path(codex["events_path"]).read_text().splitlines()]
    assert "thread.started" in events and "turn.completed" in events
    assert Path(codex["last_message_path"]).read_text().strip() == "Implemented multiply."
    assert "Add multiply" in server.requests[0]["body"]["input"][-1]["content"][0]["text"]  # our prompt
    clone = tmp_path / "check"
    pr = hub_repo.api.ok("GET", "/repos/acme/widgets/pulls")[0]
    subprocess.run(["git", "clone", "-q", "-b", pr["head"]["ref"], hub_repo.clone_url, str(clone)], check=True)
    assert "def multiply" in (clone / "app" / "calc.py").read_text()
    assert (clone / "agent-token-count.txt").read_text().strip() == "0"  # the agent's shell had no token
    tdd = next(v for v in final["gate"]["verdicts"] if v["gate"] == "tdd")
    assert tdd["verdict"] == "pass" and tdd["evidence"][0]["base"] == "fail"  # red→green of the agent's test


def test_a_model_server_that_fails_makes_codex_exit_non_zero_and_the_run_block(target_repo, hub_repo):
    server = ScriptedModelServer([], fail_status=500).start()
    try:
        write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url},
                                   "codex": codex_policy(server)})
        issue = hub_repo.api.ok("POST", "/repos/acme/widgets/issues", {"title": "x", "labels": ["agent:auto"]})
        final = run_issue(target_repo, issue["number"])
    finally:
        server.stop()
    assert final["status"] == "blocked"
    assert final["blocked"]["reason"].startswith("agent exited with status")
    assert hub_repo.api.ok("GET", "/repos/acme/widgets/pulls?state=all") == []


def test_codex_is_on_the_pinned_version():
    out = subprocess.run([str(CODEX), "--version"], capture_output=True, text=True, check=True).stdout
    pinned = (ROOT / "scripts" / "install-codex.sh").read_text().split('CXO_CODEX_VERSION:-')[1].split("}")[0]
    assert out.strip().endswith(pinned)
    assert shutil.which("node")
