"""The Codex adapter with the REAL Codex CLI (pinned, installed by scripts/install-codex.sh), driven by a
scripted model server on 127.0.0.1 that speaks the Responses API: no credentials, no network.

The first tests run `codex exec` directly, with the command line docs/codex-cli.md prescribes; the
pipeline tests below run it through the production adapter (lib/cxo/agents/codex.py)."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cxo.runner import run_issue
from tests.support.agent_clis import required
from tests.support.fake_model_server import ScriptedModelServer, codex_env, codex_provider_args, through_proxy
from tests.support.git_fixtures import GOOD_REPORT, reviewer_policy, write_policy

ROOT = Path(__file__).resolve().parents[2]
CODEX = ROOT / ".tools" / "node_modules" / ".bin" / "codex"

pytestmark = required("codex", "Codex CLI", "scripts/install-codex.sh")



@pytest.fixture
def tmp_path(request):
    """Outside /tmp: with a system bubblewrap on PATH, Codex 0.169's workspace-write sandbox refuses writes
    under /tmp (and its helper aliases refuse a CODEX_HOME there), so these tests, like cxo's own state
    directory, live elsewhere."""
    import re
    import tempfile

    root = Path("/var/tmp/cxo-tests")
    root.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=re.sub(r"\W", "_", request.node.name)[:40] + "-", dir=root))
    yield path
    shutil.rmtree(path, ignore_errors=True)


PATCH = """*** Begin Patch
*** Update File: greeting.txt
@@
-hello
+hello, world
*** End Patch
"""
REPORT = {"summary": "greeting widened", "tests": ["none"], "status": "done"}


def git_repo(path: Path) -> Path:
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "greeting.txt").write_text("hello\n")
    subprocess.run(["git", "-C", str(path), "add", "."], check=True)
    subprocess.run(["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"],
                   check=True)
    return path


def codex_exec(server, repo: Path, tmp_path: Path, prompt: str, extra_env=None, extra_args=(), retries=0):
    """`codex exec` as docs/codex-cli.md prescribes; returns (process, events, last message path)."""
    home = tmp_path / "codex-home"
    home.mkdir(exist_ok=True)
    out = tmp_path / "agent-output"
    out.mkdir(exist_ok=True)
    last = out / "last-message.txt"
    argv = [str(CODEX), "exec", "--json", "--strict-config", "--ephemeral", "--skip-git-repo-check",
            "--cd", str(repo), "--sandbox", "workspace-write", "--add-dir", str(out),
            "--output-last-message", str(last), *codex_provider_args(server.url, retries=retries), *extra_args, "-"]
    env = {**codex_env(home), "CODEX_ORCHESTRATOR_REPORT_FILE": str(out / "report.json"), **(extra_env or {})}
    proc = subprocess.run(argv, input=prompt, capture_output=True, text=True, cwd=repo, env=env, timeout=120)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc, events, last


def test_codex_exec_edits_the_repo_writes_the_report_and_finishes(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_must_not_reach_the_agent")  # in the test's env, not codex's
    repo = git_repo(tmp_path / "repo")
    script = [
        [{"apply_patch": PATCH}],
        [{"shell": ["bash", "-lc", "env > envdump.txt"]}],
        [{"shell": f"cat > \"$CODEX_ORCHESTRATOR_REPORT_FILE\" <<'JSON'\n{json.dumps(REPORT)}\nJSON"}],
        [{"message": "Widened the greeting."}],
    ]
    with ScriptedModelServer(script) as server:
        proc, events, last = codex_exec(server, repo, tmp_path, "Widen the greeting in greeting.txt.")
    assert proc.returncode == 0, proc.stderr
    assert (repo / "greeting.txt").read_text() == "hello, world\n"
    assert json.loads((tmp_path / "agent-output" / "report.json").read_text()) == REPORT
    assert last.read_text().strip() == "Widened the greeting."
    kinds = [e["type"] for e in events]
    assert kinds[0] == "thread.started" and kinds[-1] == "turn.completed" and "turn.started" in kinds
    items = [e["item"]["type"] for e in events if e["type"] == "item.completed"]
    assert items == ["file_change", "command_execution", "command_execution", "agent_message"]
    change = next(e["item"] for e in events if e["type"] == "item.completed")
    assert change["changes"] == [{"path": str(repo / "greeting.txt"), "kind": "update"}]
    assert len(server.requests) == 4 and server.requests[0]["path"] == "/v1/responses"
    first = server.requests[0]["body"]
    assert first["model"] == "gpt-5.5" and first["stream"] is True
    assert first["input"][-1]["content"][0]["text"] == "Widen the greeting in greeting.txt."  # stdin prompt
    assert "Success" in server.output_of("call_1_0")  # apply_patch result came back with its call_id
    assert all("authorization" not in {k.lower() for k in r["headers"]} for r in server.requests)
    dumped = (repo / "envdump.txt").read_text()
    assert "CODEX_ORCHESTRATOR_REPORT_FILE=" in dumped
    assert not [line for line in dumped.splitlines() if "TOKEN" in line.split("=")[0] or "ghp_" in line]


def test_codex_passes_its_whole_env_to_commands_unless_the_default_excludes_are_on(tmp_path):
    """Codex 0.169 forwards every variable it has (tokens too) to the agent's shell; with
    shell_environment_policy.ignore_default_excludes=false it drops *KEY*/*SECRET*/*TOKEN* names."""
    repo = git_repo(tmp_path / "repo")
    leak = {"GITHUB_TOKEN": "ghp_x", "GH_TOKEN": "ghp_y", "OPENAI_API_KEY": "sk-x"}
    for flags, expect_leak in (((), True), (("-c", "shell_environment_policy.ignore_default_excludes=false"), False)):
        script = [[{"shell": "env > envdump.txt"}], [{"message": "ok"}]]
        with ScriptedModelServer(script) as server:
            proc, _, _ = codex_exec(server, repo, tmp_path, "dump env", extra_env=leak, extra_args=flags)
        assert proc.returncode == 0, proc.stderr
        names = {line.split("=")[0] for line in (repo / "envdump.txt").read_text().splitlines()}
        assert (set(leak) <= names) is expect_leak and (set(leak) & names == set()) is not expect_leak
        assert "CODEX_ORCHESTRATOR_REPORT_FILE" in names
        assert all("authorization" not in {k.lower() for k in r["headers"]} for r in server.requests)


def test_codex_exec_exits_non_zero_soon_when_the_model_server_fails(tmp_path):
    repo = git_repo(tmp_path / "repo")
    started = time.monotonic()
    with ScriptedModelServer([], fail_status=500) as server:
        proc, events, last = codex_exec(server, repo, tmp_path, "anything", retries=1)
    assert proc.returncode != 0
    assert time.monotonic() - started < 60
    assert len(server.requests) == 4  # (1 + request_max_retries) × (1 + stream_max_retries) tries
    assert [e["type"] for e in events][-1] == "turn.failed"
    assert (repo / "greeting.txt").read_text() == "hello\n"


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
                                   "codex": codex_policy(server), "agent": through_proxy(server), "reviewGates": {
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
    # Its model calls went through the runner's egress proxy (the sandbox has no other way out).
    assert through_proxy(server)["allowHosts"][0] in " ".join(codex["network"]["allowed"]), codex["network"]
    assert "--sandbox" in codex["command"] and "workspace-write" in codex["command"]
    # Inside cxo's bubblewrap sandbox, with Codex's own sandbox nested in it.
    assert codex["isolation"] == "bubblewrap" and codex["codex_sandbox"] == "workspace-write"
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
                                   "codex": codex_policy(server), "agent": through_proxy(server)})
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


def test_real_codex_plans_a_parent_into_child_issues(target_repo, hub_repo, tmp_path):
    """agent:plan-auto with the real Codex CLI: its planning run (read-only) writes the plan report, cxo turns
    it into marked child issues; the one child is hitl, so the parent then waits on it."""
    plan = {"parent": {"title": "Two parts", "body": "PRD: add subtract."},
            "graph": {"nodes": [{"stableId": "subtract", "title": "Add subtract", "body": "subtract(a, b)",
                                 "afkHitl": "hitl", "ownershipScope": ["app/calc.py"], "dependsOn": [],
                                 "verification": ["pytest"]}], "edges": [], "specGate": "wave-level"}}
    script = [
        [{"shell": f"cat > \"$CODEX_ORCHESTRATOR_REPORT_FILE\" <<'JSON'\n{json.dumps(plan)}\nJSON"}],
        [{"message": "Planned."}],
    ]
    server = ScriptedModelServer(script).start()
    try:
        write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url},
                                   "codex": codex_policy(server), "agent": through_proxy(server)})
        parent = hub_repo.api.ok("POST", "/repos/acme/widgets/issues", {"title": "Two parts",
                                                                        "labels": ["agent:plan-auto"]})["number"]
        final = run_issue(target_repo, parent)
    finally:
        server.stop()
    assert final["status"] == "blocked" and "waiting on" in final["blocked"]["reason"], final.get("blocked")
    issues = hub_repo.api.ok("GET", "/repos/acme/widgets/issues?state=all")
    kids = [i for i in issues if (i.get("body") or "").startswith(
        f"<!-- codex-orchestrator:autonomous-child parent=#{parent} -->")]
    assert [k["title"] for k in kids] == ["Add subtract"]
    assert sorted(lab["name"] for lab in kids[0]["labels"]) == ["agent:child", "agent:manual"]
    first = server.requests[0]["body"]["input"][-1]["content"][0]["text"]
    assert "plan report" in first and "read-only" in first  # the planning prompt, not the implementer's


def test_real_codex_is_stopped_mid_turn_at_the_token_budget_and_its_work_kept(target_repo, hub_repo):
    """Codex prints its usage only at the turn's end (`turn.completed`); cxo reads the `token_count` events codex
    writes to its session file under the per-run CODEX_HOME after each model response, so a budget stops the
    agent in the middle of its turn: here after the second of six model responses (1,050 tokens each)."""
    usage = {"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 200}, "output_tokens": 50,
             "output_tokens_details": {"reasoning_tokens": 10}, "total_tokens": 1050}
    script = [
        [{"shell": "printf '\\n\\ndef multiply(a, b):\\n    return a * b\\n' >> app/calc.py"}],
        *[[{"shell": "sleep 2"}] for _ in range(4)],
        [{"message": "done"}],
    ]
    server = ScriptedModelServer(script, usage=usage).start()
    try:
        write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url},
                                   "codex": codex_policy(server, maxTokens=2000), "agent": through_proxy(server)})
        issue = hub_repo.api.ok("POST", "/repos/acme/widgets/issues", {"title": "Add multiply",
                                                                        "labels": ["agent:auto"]})
        final = run_issue(target_repo, issue["number"])
    finally:
        server.stop()
    assert final["status"] == "blocked" and "token budget exhausted" in final["blocked"]["reason"]
    codex = final["codex"]
    assert codex["budget_stopped"] is True
    assert codex["usage"]["total_tokens"] >= 2000 and codex["usage"]["cached_input_tokens"] >= 400
    assert len(server.requests) < len(script)  # stopped before the turn's end: the final message never came
    events = [json.loads(line)["type"] for line in Path(codex["events_path"]).read_text().splitlines()]
    assert "turn.completed" not in events
    worktree = final["worktree"]["path"]
    shown = subprocess.run(["git", "-C", worktree, "show", f"{codex['kept_sha']}:app/calc.py"], capture_output=True,
                           text=True, check=True).stdout
    assert "def multiply" in shown
    assert hub_repo.api.ok("GET", "/repos/acme/widgets/pulls?state=all") == []
