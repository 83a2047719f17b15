"""The Claude Code adapter with the REAL Claude Code CLI (pinned, installed by scripts/install-agents.sh), driven
by a scripted model server on 127.0.0.1 that speaks the Anthropic Messages API: a fake key, no network.

Every test goes through the pipeline (cxo.runner.run_issue on the embedded hub) with agent.kind: claude, inside
cxo's bubblewrap sandbox, the model calls through the runner's egress proxy."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cxo.runner import run_issue
from tests.rounds.test_round_run import runner  # noqa: F401  (fixture)
from tests.support.agent_clis import required
from tests.support.fake_anthropic_server import ScriptedAnthropicServer
from tests.support.git_fixtures import GOOD_REPORT, reviewer_policy, write_policy

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = ROOT / ".tools" / "node_modules" / ".bin" / "claude"
MODEL = "claude-sonnet-4-5"

pytestmark = required("claude", "Claude Code CLI", "scripts/install-agents.sh")

APPROVE = json.dumps({"verdict": "approve", "summary": "Looks right.", "findings": []})
MULTIPLY = "printf '\\n\\ndef multiply(a, b):\\n    return a * b\\n' >> app/calc.py"


def report_action(report: dict) -> dict:
    return {"bash": f"cat > \"$CODEX_ORCHESTRATOR_REPORT_FILE\" <<'JSON'\n{json.dumps(report)}\nJSON"}


def first_path(output: str) -> str:
    """The first absolute path a tool result starts a line with (Claude Code appends reminders to results)."""
    return next(line.strip() for line in output.splitlines() if line.startswith("/"))


@pytest.fixture
def model(monkeypatch):
    """Starts a scripted server (`model(script, **kw)`); the runner's environment points Claude Code at it with
    ANTHROPIC_BASE_URL and a fake ANTHROPIC_API_KEY, as a user's would."""
    servers = []

    def start(script, **kw):
        server = ScriptedAnthropicServer(script, **kw).start()
        servers.append(server)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-key")
        return server

    yield start
    for server in servers:
        server.stop()


def policy(hub_repo, reviewer=None, **codex) -> dict:
    # No agent.allowHosts: the sandbox reaches the scripted server only because ANTHROPIC_BASE_URL's host is
    # allowlisted for the claude kind.
    return {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url},
            "codex": {"timeoutSeconds": 120, "idleTimeoutSeconds": 60, **codex},
            "agent": {"kind": "claude", "network": "allowlist", "claude": {"command": str(CLAUDE), "model": MODEL}},
            "reviewGates": {"reviewer": reviewer, "quality": {
                "testCommand": f"{sys.executable} -m pytest -q -p no:cacheprovider ${{tests}}"}}}


def test_claude_code_implements_and_reviews_and_the_pipeline_opens_a_draft_pr(target_repo, hub_repo, tmp_path,
                                                                             model, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", hub_repo.token)
    report = {**GOOD_REPORT, "summary": "multiply via real claude"}
    test_file = "from app.calc import multiply\n\n\ndef test_multiply():\n    assert multiply(6, 7) == 42\n"
    script = [
        # implement: a shell edit; a new file with the Write tool (it takes an absolute path: the worktree's comes
        # from the `pwd` the agent ran); the report
        [{"bash": MULTIPLY}],
        # no GitHub token and no model key in the agent's shell (the key by name or by value)
        [{"bash": "env | grep -c -e GITHUB_TOKEN -e ANTHROPIC_API_KEY -e sk-ant- "
                  "> agent-token-count.txt || true; pwd"}],
        lambda server: [{"write": [first_path(server.output_of("toolu_2_0")) + "/tests/test_multiply.py", test_file]}],
        [report_action(report)],
        [{"message": "Implemented multiply."}],
        # review (read-only): its shell is refused; its verdict goes to the report directory with Write
        [{"bash": "touch reviewer-was-here.txt"}],
        [{"write_report": APPROVE}],
        [{"message": "Approved."}],
    ]
    server = model(script)
    write_policy(target_repo, policy(hub_repo))
    issue = hub_repo.api.ok("POST", "/repos/acme/widgets/issues", {"title": "Add multiply", "labels": ["agent:auto"]})
    final = run_issue(target_repo, issue["number"])
    assert final["status"] == "ok", final.get("blocked")
    section = final["codex"]
    assert section["agent"] == "claude" and section["report"]["summary"] == "multiply via real claude"
    assert section["isolation"] == "bubblewrap"
    assert server.url.split("//")[1] in " ".join(section["network"]["allowed"]), section["network"]
    command = section["command"]
    assert command[1:6] == ["-p", "--output-format", "stream-json", "--verbose", "--add-dir"]
    assert command[command.index("--permission-mode") + 1] == "acceptEdits"
    events = [json.loads(line) for line in Path(section["events_path"]).read_text().splitlines()]
    assert events[0]["type"] == "system" and events[0]["model"] == MODEL and events[-1]["type"] == "result"
    assert Path(section["last_message_path"]).read_text() == "Implemented multiply."
    assert section["usage"]["total_tokens"] >= 10  # five responses, 1 in + 1 out each
    first = server.requests[0]
    assert first["headers"].get("x-api-key") == "sk-ant-test-not-a-key" and first["body"]["model"] == MODEL
    assert "Add multiply" in server.prompt(0)
    # The reviewer: a fresh session with cxo's review prompt, Bash refused, the verdict written.
    review = next(n for n in range(len(server.requests)) if "read-only copy" in server.prompt(n))
    assert review == 5
    refused = server.output_of("toolu_6_0")
    assert "needs approval" in refused or "haven't granted" in refused, refused
    verdict = next(v for v in final["gate"]["verdicts"] if v["gate"] == "review")
    assert verdict["verdict"] == "pass" and "Looks right." in verdict["summary"], verdict
    clone = tmp_path / "check"
    pr = hub_repo.api.ok("GET", "/repos/acme/widgets/pulls")[0]
    subprocess.run(["git", "clone", "-q", "-b", pr["head"]["ref"], hub_repo.clone_url, str(clone)], check=True)
    assert "def multiply" in (clone / "app" / "calc.py").read_text()
    assert (clone / "tests" / "test_multiply.py").read_text() == test_file
    assert (clone / "agent-token-count.txt").read_text().strip() == "0"
    assert not (clone / "reviewer-was-here.txt").exists()
    tdd = next(v for v in final["gate"]["verdicts"] if v["gate"] == "tdd")
    assert tdd["verdict"] == "pass" and tdd["evidence"][0]["base"] == "fail"



PLAN = {"parent": {"title": "Two parts", "body": "PRD: add subtract."},
        "graph": {"nodes": [{"stableId": "subtract", "title": "Add subtract", "body": "subtract(a, b)",
                             "afkHitl": "hitl", "ownershipScope": ["app/calc.py"], "dependsOn": [],
                             "verification": ["pytest"]}], "edges": [], "specGate": "wave-level"}}


def test_claude_code_plans_a_parent_into_child_issues(target_repo, hub_repo, model):
    """agent:plan-auto with Claude Code: its planning run writes the plan report, cxo turns it into marked child
    issues; the one child is hitl, so the parent then waits on it."""
    server = model([[report_action(PLAN)], [{"message": "Planned."}]])
    write_policy(target_repo, policy(hub_repo))
    parent = hub_repo.api.ok("POST", "/repos/acme/widgets/issues", {"title": "Two parts",
                                                                    "labels": ["agent:plan-auto"]})["number"]
    final = run_issue(target_repo, parent)
    assert final["status"] == "blocked" and "waiting on" in final["blocked"]["reason"], final.get("blocked")
    issues = hub_repo.api.ok("GET", "/repos/acme/widgets/issues?state=all")
    kids = [i for i in issues if (i.get("body") or "").startswith(
        f"<!-- codex-orchestrator:autonomous-child parent=#{parent} -->")]
    assert [k["title"] for k in kids] == ["Add subtract"]
    assert "plan report" in server.prompt(0) and "read-only" in server.prompt(0)  # the planning prompt
    assert len(server.requests) == 2


def test_claude_code_is_stopped_at_the_token_budget_and_its_work_kept(target_repo, hub_repo, model):
    """Each assistant event carries its model response's usage (1,000 in + 200 cache reads + 1 out at the
    stream's start): a 2,000-token budget stops Claude Code after the second of six responses, mid-turn."""
    usage = {"input_tokens": 1000, "output_tokens": 50, "cache_read_input_tokens": 200}
    script = [[{"bash": MULTIPLY}], *[[{"bash": "sleep 2"}] for _ in range(4)], [{"message": "done"}]]
    server = model(script, usage=usage)
    write_policy(target_repo, policy(hub_repo, maxTokens=2000))
    issue = hub_repo.api.ok("POST", "/repos/acme/widgets/issues", {"title": "Add multiply", "labels": ["agent:auto"]})
    final = run_issue(target_repo, issue["number"])
    assert final["status"] == "blocked" and "token budget exhausted" in final["blocked"]["reason"], final["blocked"]
    section = final["codex"]
    assert section["budget_stopped"] is True and section["agent"] == "claude"
    assert section["usage"]["total_tokens"] >= 2000 and section["usage"]["cached_input_tokens"] >= 400
    assert section["usage"]["input_tokens"] >= 2400  # Anthropic's input + cache reads, as cxo counts input
    assert len(server.requests) < len(script)
    events = [json.loads(line)["type"] for line in Path(section["events_path"]).read_text().splitlines()]
    assert "result" not in events  # stopped before the turn's end
    shown = subprocess.run(["git", "-C", final["worktree"]["path"], "show", f"{section['kept_sha']}:app/calc.py"],
                           capture_output=True, text=True, check=True).stdout
    assert "def multiply" in shown
    assert hub_repo.api.ok("GET", "/repos/acme/widgets/pulls?state=all") == []


def test_claude_code_is_on_the_pinned_version():
    out = subprocess.run([str(CLAUDE), "--version"], capture_output=True, text=True, check=True).stdout
    pinned = (ROOT / "scripts" / "install-agents.sh").read_text().split("CXO_CLAUDE_VERSION:-")[1].split("}")[0]
    assert out.split()[0] == pinned


def test_a_model_server_that_refuses_makes_claude_code_exit_non_zero_and_the_run_block(target_repo, hub_repo,
                                                                                      model):
    server = model([], fail_status=400)  # a client error: Claude Code does not retry it
    write_policy(target_repo, policy(hub_repo))
    issue = hub_repo.api.ok("POST", "/repos/acme/widgets/issues", {"title": "x", "labels": ["agent:auto"]})
    final = run_issue(target_repo, issue["number"])
    assert final["status"] == "blocked"
    assert final["blocked"]["reason"] == "agent exited with status 1"
    assert server.requests and hub_repo.api.ok("GET", "/repos/acme/widgets/pulls?state=all") == []


def test_claude_code_performs_one_feedback_round(runner, hub_repo, tmp_path, model):  # noqa: F811
    """A review asks for changes on cxo's PR; the round's agent is Claude Code, given the reviewers' words."""
    from cxo.rounds.run import run_pull
    from tests.rounds.test_round_run import R, changes_requested, first_pr, round_reports

    api = hub_repo.api
    issue, pull, sha = first_pr(hub_repo, runner, tmp_path)
    review = changes_requested(api, pull, sha)
    ids = sorted(c["id"] for c in api.ok("GET", f"{R}/pulls/{pull}/comments"))
    report = {**GOOD_REPORT, "summary": "product added, negative case tested",
              "feedback": [{"id": ids[0], "addressed": True, "note": "added product"},
                           {"id": ids[1], "addressed": True, "note": "tested -1 * 2"},
                           {"id": review["id"], "addressed": True}]}
    server = model([
        [{"bash": "printf '\\n\\nproduct = multiply\\n' >> app/calc.py"}],
        [{"bash": "printf '\\n\\ndef test_negative():\\n    assert multiply(-1, 2) == -2\\n' "
                  ">> tests/test_multiply.py"}],
        [report_action(report)],
        [{"message": "Round done."}],
    ])
    write_policy(runner, {**policy(hub_repo, reviewer=reviewer_policy("approve")), "checks": [
        {"name": "tests", "command": f"{sys.executable} -m pytest -q -p no:cacheprovider"}]})
    env = run_pull(runner, pull)
    assert env["status"] == "ok", env.get("blocked")
    assert env["codex"]["agent"] == "claude" and env["codex"]["isolation"] == "bubblewrap"
    assert "call it `product`" in server.prompt(0) and "test a negative number too" in server.prompt(0)
    assert env["codex"]["usage"]["total_tokens"] > 0
    commits = [c["sha"] for c in api.ok("GET", f"{R}/pulls/{pull}/commits")]
    assert commits[0] == sha and commits[-1] == env["publish"]["pushed_sha"] and len(commits) == 2
    replies = [c for c in api.ok("GET", f"{R}/pulls/{pull}/comments") if c.get("in_reply_to_id")]
    assert sorted(c["in_reply_to_id"] for c in replies) == ids
    [rep] = round_reports(api, pull)
    assert "tokens" in rep["body"]
