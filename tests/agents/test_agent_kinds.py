"""The registry of agent kinds (lib/cxo/agents/__init__.py) and what the Claude Code and Gemini CLI adapters read
and write without running their CLI: the policy's choice, command lines, egress hosts, the per-run homes and the
usage readers fed with event lines as the pinned CLIs print them (tests/agents/test_*_cli_real.py run them)."""

import json
import re
from pathlib import Path

import pytest

from cxo import agents
from cxo.agents import claude, gemini
from cxo.agents.base import AgentSpec
from cxo.agents.sandbox import allow_hosts
from cxo.errors import CxoError
from cxo.policy import checks as policy_checks
from cxo.policy import defaults


def policy(kind=None, args=None, **agent) -> dict:
    data = defaults()
    data["codex"]["args"] = args
    if kind:
        data["agent"]["kind"] = kind
    data["agent"].update(agent)
    return data


def spec(tmp_path: Path, **kw) -> AgentSpec:
    out = tmp_path / "out"
    return AgentSpec(worktree=tmp_path / "tree", prompt_path=tmp_path / "prompt.md", report_path=out / "report.json",
                     issue_number=7, branch_name="b", state_dir=tmp_path, run_dir=tmp_path,
                     log_path=tmp_path / "agent.log", **kw)


def test_the_kind_comes_from_the_policy_and_codex_args_always_mean_command():
    assert agents.kind_of(policy()) == "codex"
    assert agents.kind_of(policy("claude")) == "claude" and agents.kind_of(policy("gemini")) == "gemini"
    # A seed repository's policy (codex.args given) runs its command, whatever agent.kind says.
    assert agents.kind_of(policy("claude", args=["--x"])) == "command"
    assert agents.adapter("claude") is claude and agents.adapter("gemini") is gemini
    with pytest.raises(ValueError):
        agents.adapter("copilot")


def test_claude_and_gemini_take_their_command_and_model_from_their_own_section():
    data = policy("claude", claude={"command": "/opt/claude", "model": "m1", "extraArgs": ["--x"]})
    got = agents.settings(data, "claude")
    assert (got["command"], got["model"], got["extraArgs"]) == ("/opt/claude", "m1", ["--x"])
    assert got["timeoutSeconds"] == data["codex"]["timeoutSeconds"]  # the shared limits stay
    assert agents.command_of(data) == ("agent.claude.command", "/opt/claude")
    assert agents.command_of(policy()) == ("codex.command", "codex")


def test_agent_kind_command_without_codex_args_is_refused_in_one_line():
    with pytest.raises(CxoError) as caught:
        policy_checks.check_values(policy("command"), "config.yaml")
    assert "agent.kind" in caught.value.message and "codex.args" in caught.value.message
    policy_checks.check_values(policy("command", args=["-m", "agent"]), "config.yaml")


def test_each_kind_allowlists_its_model_host_and_its_base_url_host(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://gateway.example:8443/anthropic")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9999")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert allow_hosts(policy("claude")) == ["api.anthropic.com", "gateway.example:8443"]
    assert allow_hosts(policy("gemini")) == ["generativelanguage.googleapis.com", "127.0.0.1:9999"]
    assert "api.anthropic.com" not in allow_hosts(policy()) and "api.openai.com" in allow_hosts(policy())
    assert allow_hosts(policy("claude", args=["x"])) == []  # a command agent: agent.allowHosts only


def test_claude_command_lines_for_the_implementer_and_the_reviewer(tmp_path):
    settings = {"command": "claude", "model": "claude-sonnet-4-5", "extraArgs": ["--max-turns", "40"]}
    argv = claude.argv_for(settings, spec(tmp_path))
    assert argv[:7] == ["claude", "-p", "--output-format", "stream-json", "--verbose", "--add-dir",
                        str(tmp_path / "out")]
    assert argv[argv.index("--permission-mode") + 1] == "acceptEdits"
    assert "Bash" in argv[argv.index("--allowedTools") + 1].split(",")
    assert argv[-4:] == ["--model", "claude-sonnet-4-5", "--max-turns", "40"]
    review = claude.argv_for(settings, spec(tmp_path), read_only=True)
    assert review[review.index("--permission-mode") + 1] == "default"
    tools = review[review.index("--allowedTools") + 1].split(",")
    assert "Bash" not in tools and f"Edit(/{tmp_path / 'out'}/**)" in tools


def test_gemini_reviewer_rule_allows_writing_the_report_directory_only(tmp_path):
    report_dir = tmp_path / "run.1" / "out"
    rule = gemini.read_only_policy(report_dir)
    pattern = json.loads(re.search(r"argsPattern = (.*)", rule).group(1))
    # The CLI matches it against the call's arguments as compact JSON with sorted keys.
    def args(path):
        return json.dumps({"content": "{}", "file_path": path}, separators=(",", ":"))
    assert re.search(pattern, args(f"{report_dir}/verdict.json"))
    assert not re.search(pattern, args(f"{tmp_path}/run.1/tree/app.py"))
    assert not re.search(pattern, args(f"{tmp_path}/runX1/out/verdict.json"))  # '.' is no wildcard
    argv = gemini.argv_for({"command": "gemini", "model": None}, spec(tmp_path, env={"HOME": str(tmp_path / "h")}),
                           read_only=True)
    assert argv[argv.index("--approval-mode") + 1] == "default"
    assert argv[argv.index("--policy") + 1] == str(tmp_path / "h" / ".gemini" / "cxo-read-only.toml")
    assert gemini.argv_for({"command": "gemini"}, spec(tmp_path))[-2:] == ["--approval-mode", "yolo"]


def test_per_run_homes_carry_a_login_but_nothing_else(tmp_path):
    user = tmp_path / "user"
    (user / ".claude").mkdir(parents=True)
    (user / ".claude" / ".credentials.json").write_text("{}")
    (user / ".claude" / "history.jsonl").write_text("secret history")
    home = claude.prepare_home(tmp_path / "run", {}, source={"HOME": str(user)})
    assert sorted(p.name for p in home.iterdir()) == [".credentials.json"]
    (user / ".gemini").mkdir()
    (user / ".gemini" / "settings.json").write_text(json.dumps({"security": {"auth": {"selectedType": "oauth"}}}))
    (user / ".gemini" / "oauth_creds.json").write_text("{}")
    with_key = gemini.prepare_home(tmp_path / "g1", {}, source={"HOME": str(user), "GEMINI_API_KEY": "k"})
    settings = json.loads((with_key / ".gemini" / "settings.json").read_text())
    assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert settings["privacy"]["usageStatisticsEnabled"] is False
    assert not (with_key / ".gemini" / "oauth_creds.json").exists()
    logged_in = gemini.prepare_home(tmp_path / "g2", {}, source={"HOME": str(user)})
    assert json.loads((logged_in / ".gemini" / "settings.json").read_text())["security"]["auth"]["selectedType"] \
        == "oauth"
    assert (logged_in / ".gemini" / "oauth_creds.json").is_file()


# Lines as claude 2.1.332 prints them (shortened): the same API message may come in two assistant events.
CLAUDE_LINES = [
    {"type": "system", "subtype": "init", "model": "claude-sonnet-4-5"},
    {"type": "assistant", "message": {"id": "msg_1", "usage": {"input_tokens": 100, "output_tokens": 1,
                                                               "cache_read_input_tokens": 50,
                                                               "cache_creation_input_tokens": 10}}},
    {"type": "assistant", "message": {"id": "msg_1", "usage": {"input_tokens": 100, "output_tokens": 1,
                                                               "cache_read_input_tokens": 50,
                                                               "cache_creation_input_tokens": 10}}},
    {"type": "user", "message": {"content": [{"type": "tool_result", "content": "ok"}]}},
    {"type": "assistant", "message": {"id": "msg_2", "usage": {"input_tokens": 100, "output_tokens": 1,
                                                               "cache_read_input_tokens": 50}}},
]
CLAUDE_RESULT = {"type": "result", "subtype": "success", "usage": {"input_tokens": 200, "output_tokens": 30,
                                                                   "cache_read_input_tokens": 100,
                                                                   "cache_creation_input_tokens": 10}}


def test_claude_usage_counts_each_message_once_and_takes_the_result_total():
    meter = claude.meter(limit=400, config_home=None)
    for line in CLAUDE_LINES:
        meter.feed(json.dumps(line) + "\n")
    # msg_1: 100 + 10 written + 50 read in, 1 out; msg_2: 150 in, 1 out
    assert meter.usage() == {"input_tokens": 310, "cached_input_tokens": 100, "output_tokens": 2,
                             "total_tokens": 312}
    assert not meter.exhausted()
    meter.feed(json.dumps(CLAUDE_RESULT))
    assert meter.usage() == {"input_tokens": 310, "cached_input_tokens": 100, "output_tokens": 30,
                             "total_tokens": 340}
    meter.feed("not json\n")
    meter.feed(json.dumps({"type": "result", "usage": {"input_tokens": 500}}))
    assert meter.exhausted()


def test_gemini_usage_reads_the_chat_records_while_it_runs_and_the_result_at_the_end(tmp_path):
    chats = tmp_path / ".gemini" / "tmp" / "tree" / "chats"
    chats.mkdir(parents=True)
    record = {"id": "a", "type": "gemini", "tokens": {"input": 100, "output": 10, "cached": 50, "thoughts": 0,
                                                        "tool": 0, "total": 110}}
    session = chats / "session-1.jsonl"
    # As gemini 0.61.0 writes them: a record is written again (same id) when its tool calls are added.
    session.write_text("\n".join(json.dumps(r) for r in [{"sessionId": "s"}, record, {"$set": {"x": 1}}, record])
                       + "\n" + json.dumps({**record, "id": "b"})[:20])  # the last line is still being written
    meter = gemini.meter(limit=300, config_home=tmp_path)
    meter.poll()
    assert meter.usage() == {"input_tokens": 100, "cached_input_tokens": 50, "output_tokens": 10,
                             "total_tokens": 110}
    with open(session, "a") as handle:
        handle.write(json.dumps({**record, "id": "b"})[20:] + "\n")
    meter.poll()
    assert meter.usage()["total_tokens"] == 220 and not meter.exhausted()
    meter.feed(json.dumps({"type": "result", "status": "success", "stats": {
        "total_tokens": 330, "input_tokens": 300, "output_tokens": 30, "cached": 150, "input": 150}}))
    assert meter.usage() == {"input_tokens": 300, "cached_input_tokens": 150, "output_tokens": 30,
                             "total_tokens": 330}
    assert meter.exhausted()


def test_progress_notes_name_the_tool_and_its_target():
    assert claude.describe(json.dumps({"type": "assistant", "message": {"content": [
        {"type": "tool_use", "name": "Bash", "input": {"command": "pytest -q"}}]}})) == "assistant Bash `pytest -q`"
    assert claude.describe(json.dumps(CLAUDE_RESULT)) == "result success"
    assert gemini.describe(json.dumps({"type": "tool_use", "tool_name": "write_file",
                                       "parameters": {"file_path": "a.py"}})) == "tool_use write_file `a.py`"
    assert gemini.describe("Warning: 256-color support not detected.") == "Warning: 256-color support not detected."


def test_the_dry_run_shows_the_claude_command_line_and_its_model_host(target_repo, hub_repo, monkeypatch):
    """`cxo-run --dry-run --json` with agent.kind: claude: the command cxo would start and the hosts the egress
    proxy would let through (Anthropic's API and ANTHROPIC_BASE_URL's host), from the real executable."""
    import os
    import subprocess
    import sys

    from tests.support.git_fixtures import write_policy

    write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url},
                               "agent": {"kind": "claude", "claude": {"command": sys.executable, "model": "m1"}}})
    number = hub_repo.api.ok("POST", "/repos/acme/widgets/issues", {"title": "Add multiply",
                                                                    "labels": ["agent:auto"]})["number"]
    out = subprocess.run([str(Path(__file__).resolve().parents[2] / "bin" / "cxo-run"), "--target", str(target_repo),
                          "--dry-run", "--json", "--quiet", "--issue", str(number)], capture_output=True, text=True,
                         timeout=180, env={**os.environ, "ANTHROPIC_BASE_URL": "https://gw.example:8443",
                                           "ANTHROPIC_API_KEY": "sk-ant-secret-value"})
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    agent = plan["agent"]
    assert agent["kind"] == "claude" and agent["command"][1:5] == ["-p", "--output-format", "stream-json",
                                                                  "--verbose"]
    assert agent["command"][-2:] == ["--model", "m1"]
    assert plan["network"]["allow_hosts"] == ["api.anthropic.com", "gw.example:8443"]
    assert "sk-ant-secret-value" not in out.stdout + out.stderr
