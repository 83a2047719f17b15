"""agent.attempts read into per-attempt policy views: the agent each attempt runs, and its share of the budget."""

from types import SimpleNamespace

import pytest

from cxo import agents
from cxo.attempts import specs
from cxo.attempts.choose import choose
from cxo.policy import load
from tests.support.git_fixtures import write_policy

SPECS = [{"kind": "claude", "model": "claude-sonnet-4-5"}, {"kind": "gemini", "command": "/opt/gemini/bin/gemini"},
         {"kind": "codex", "model": "gpt-5-codex"}, {"kind": "command", "command": "my-agent", "args": ["--go"]}]


@pytest.fixture
def policy(git_repo):
    write_policy(git_repo, {"codex": {"command": "seed-agent", "args": ["--seed"], "maxTokens": 1000},
                            "agent": {"attempts": SPECS}}, publish=False)
    return load(git_repo)


def test_each_spec_overrides_the_policys_agent_for_its_attempt(policy):
    views = [specs.view(policy, spec, specs.share(1000, 4), k) for k, spec in enumerate(specs.agent_specs(policy), 1)]
    assert [specs.describe(v) for v in views] == [
        {"kind": "claude", "model": "claude-sonnet-4-5", "command": "claude"},
        {"kind": "gemini", "model": None, "command": "/opt/gemini/bin/gemini"},
        {"kind": "codex", "model": "gpt-5-codex", "command": "seed-agent"},
        {"kind": "command", "model": None, "command": "my-agent"}]
    assert agents.settings(views[3], "command")["args"] == ["--go"]
    assert {v["codex"]["maxTokens"] for v in views} == {250}
    assert policy["codex"]["args"] == ["--seed"] and policy["agent"]["kind"] == "codex"  # the policy is unchanged


def test_attempts_on_the_command_line_win_and_take_the_list_in_turn(policy):
    assert specs.count(policy) == 4
    assert [s["kind"] for s in specs.agent_specs(policy, SimpleNamespace(attempts=6))] == [
        "claude", "gemini", "codex", "command", "claude", "gemini"]
    assert specs.share(None, 3) is None and specs.share(10, 3) == 3


def test_the_winner_is_the_passing_attempt_with_fewest_findings_then_smallest_diff_then_least_time():
    def item(k, passed=True, findings=0, diff=10, seconds=1.0):
        return {"k": k, "passed": passed, "findings": findings, "diff_lines": diff, "agent_seconds": seconds}

    assert choose([item(1, passed=False), item(2, passed=False)]) == (None, "none of the 2 attempts passed every gate")
    assert choose([item(1, findings=0, passed=False), item(2, findings=5)])[0] == 2
    assert choose([item(1, findings=2, diff=1), item(2, findings=1, diff=99)])[0] == 2
    assert choose([item(1, diff=30), item(2, diff=12, seconds=9.0), item(3, diff=12, seconds=3.0)])[0] == 3
    won, why = choose([item(1), item(2)])
    assert won == 1 and why.endswith("the earliest of equally good attempts")


def test_the_dry_run_shows_the_attempts_and_writes_nothing(target_repo, hub_repo, tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    from tests.attempts.test_best_of import open_issue
    from tests.support.git_fixtures import GOOD_REPORT, scripted_agent

    scripted_agent(target_repo, tmp_path, [{"report": GOOD_REPORT}], maxTokens=900)
    path = target_repo / ".codex-orchestrator" / "config.yaml"
    policy = yaml.safe_load(path.read_text())
    policy["agent"]["attempts"] = [{"kind": "claude", "model": "claude-sonnet-4-5"}, {"kind": "codex"}]
    write_policy(target_repo, policy)
    number = open_issue(hub_repo)["number"]
    run = [str(Path(sys.executable).parent / "cxo-run"), "--target", str(target_repo), "--issue", str(number),
           "--dry-run"]
    out = subprocess.run(run + ["--attempts", "3"], capture_output=True, text=True, env=os.environ, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "  attempts:    best of 3, 2 at a time, 300 tokens each: claude claude-sonnet-4-5, codex, claude " \
           "claude-sonnet-4-5\n" in out.stdout
    plan = json.loads(subprocess.run(run + ["--json"], capture_output=True, text=True, env=os.environ,
                                     timeout=120).stdout)
    assert plan["attempts"]["n"] == 2 and [a["kind"] for a in plan["attempts"]["agents"]] == ["claude", "codex"]
    assert hub_repo.api.ok("GET", f"/repos/acme/widgets/issues/{number}/comments") == []
