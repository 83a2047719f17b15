"""planning.requireApproval on the hub: the plan is posted and waits; approve / replan / the label / an edit."""

import pytest

from cxo import policy as policy_mod
from cxo.connect import tracker_for
from cxo.github.commands import apply_issue_commands
from cxo.runner import run_issue
from tests.support.git_fixtures import scripted_agent
from tests.tree.test_tree_run import CHILD, R, child_issues, labels_of, node, open_parent, plan_report

RUNNER = "as:cxo-runner"
REASON = "plan awaits approval: comment `@cxo approve` or add the label agent:plan-approved"
TWO = [node("a", "src/a/**"), node("b", "src/b/**", ["a"])]


@pytest.fixture
def runner(target_repo, hub_repo, monkeypatch):
    """The runner has its own login (cxo-runner, a collaborator): acme, the owner, is the maintainer."""
    monkeypatch.setenv("GITHUB_TOKEN", RUNNER)
    hub_repo.api.ok("PUT", f"{R}/collaborators/cxo-runner", {})
    return target_repo


def approval_agent(target, tmp_path, nodes=TWO):
    counts = tmp_path / "counts"
    counts.mkdir(exist_ok=True)
    plan = [{"append": {str(counts / "plans"): "x\n"}}, {"read_prompt": str(counts / "prompt")},
            {"report": plan_report(nodes)}]
    scripted_agent(target, tmp_path, [{"role": {"plan": plan, "implement": CHILD}}],
                   extra_policy={"reviewGates": {"quality": {"enabled": False}},
                                 "planning": {"requireApproval": True}})
    return counts


def plans(counts) -> int:
    path = counts / "plans"
    return len(path.read_text().split()) if path.exists() else 0


def plan_comments(hub_repo, parent):
    return [c for c in hub_repo.api.ok("GET", f"{R}/issues/{parent}/comments") if "cxo:plan-approval " in c["body"]]


def comment(hub_repo, parent, body, token="as:acme"):
    return hub_repo.api.ok("POST", f"{R}/issues/{parent}/comments", {"body": body}, token=token)["id"]


def daemon_commands(target):
    pol = policy_mod.load(target)
    tracker = tracker_for(pol)
    return apply_issue_commands(pol, tracker, tracker.list_issues())


def posted_and_waiting(target, hub_repo, parent, counts, runs):
    final = run_issue(target, parent)
    assert final["status"] == "blocked" and final["blocked"]["reason"] == REASON, final.get("blocked")
    assert child_issues(hub_repo, parent) == {}
    assert labels_of(hub_repo, parent) == ["agent:blocked", "agent:plan-auto"]
    [posted] = plan_comments(hub_repo, parent)
    assert "state=awaiting" in posted["body"] and "```mermaid" in posted["body"]
    assert "`src/b/**`" in posted["body"] and "Child b" in posted["body"]
    assert plans(counts) == runs
    assert hub_repo.api.ok("GET", f"{R}/pulls?state=all") == []
    return posted


def test_the_plan_waits_and_an_owners_approve_runs_the_stored_plan(runner, hub_repo, tmp_path):
    counts = approval_agent(runner, tmp_path)
    parent = open_parent(hub_repo)
    posted_and_waiting(runner, hub_repo, parent, counts, 1)
    assert run_issue(runner, parent)["blocked"]["reason"].startswith("not eligible: blocked")

    comment(hub_repo, parent, "Looks right. @cxo approve")
    done = daemon_commands(runner)
    assert [(d["issue"], d["command"], d["action"], d["done"]) for d in done] == [(parent, "approve", "unblock", True)]
    assert labels_of(hub_repo, parent) == ["agent:plan-auto"]
    final = run_issue(runner, parent)
    assert final["status"] == "ok", final.get("blocked")
    assert plans(counts) == 1  # the approved plan was used: the planner did not run again
    assert sorted(child_issues(hub_repo, parent)) == ["a", "b"]
    assert len(hub_repo.api.ok("GET", f"{R}/pulls?state=all")) == 1
    [posted] = plan_comments(hub_repo, parent)
    assert "state=approved" in posted["body"]
    assert daemon_commands(runner) == []  # handled once


def test_an_untrusted_approve_is_ignored(runner, hub_repo, tmp_path):
    counts = approval_agent(runner, tmp_path)
    parent = open_parent(hub_repo)
    posted_and_waiting(runner, hub_repo, parent, counts, 1)
    comment(hub_repo, parent, "@cxo approve", token="as:stranger")
    done = daemon_commands(runner)
    assert [(d["command"], d["action"], d["done"]) for d in done] == [("approve", "ignore-untrusted", False)]
    assert labels_of(hub_repo, parent) == ["agent:blocked", "agent:plan-auto"]
    # Even with the blocked label taken off by hand, the run does not count the stranger's approval.
    hub_repo.api.ok("DELETE", f"{R}/issues/{parent}/labels/agent:blocked")
    final = run_issue(runner, parent)
    assert final["status"] == "blocked" and final["blocked"]["reason"] == REASON
    assert child_issues(hub_repo, parent) == {} and plans(counts) == 1


def test_replan_plans_again_with_the_guidance_and_waits_again(runner, hub_repo, tmp_path):
    counts = approval_agent(runner, tmp_path)
    parent = open_parent(hub_repo)
    first = posted_and_waiting(runner, hub_repo, parent, counts, 1)
    approval_agent(runner, tmp_path, [node("only", "src/only/**")])
    comment(hub_repo, parent, "@cxo replan only one part please")
    assert [d["action"] for d in daemon_commands(runner)] == ["unblock"]
    final = run_issue(runner, parent)
    assert final["status"] == "blocked" and final["blocked"]["reason"] == REASON
    assert plans(counts) == 2
    prompt = (counts / "prompt").read_text()
    assert "re-planning guidance" in prompt and "only one part please" in prompt
    [posted] = plan_comments(hub_repo, parent)
    assert posted["id"] == first["id"] and posted["body"] != first["body"] and "Child only" in posted["body"]
    assert child_issues(hub_repo, parent) == {}
    assert labels_of(hub_repo, parent) == ["agent:blocked", "agent:plan-auto"]


def test_the_approval_label_approves(runner, hub_repo, tmp_path):
    counts = approval_agent(runner, tmp_path)
    parent = open_parent(hub_repo)
    posted_and_waiting(runner, hub_repo, parent, counts, 1)
    hub_repo.api.ok("POST", f"{R}/issues/{parent}/labels", {"labels": ["agent:plan-approved"]})
    assert [d["action"] for d in daemon_commands(runner)] == ["unblock"]
    final = run_issue(runner, parent)
    assert final["status"] == "ok", final.get("blocked")
    assert plans(counts) == 1 and sorted(child_issues(hub_repo, parent)) == ["a", "b"]


def test_an_edit_of_the_parent_after_the_plan_asks_for_approval_again(runner, hub_repo, tmp_path):
    counts = approval_agent(runner, tmp_path)
    parent = open_parent(hub_repo)
    first = posted_and_waiting(runner, hub_repo, parent, counts, 1)
    comment(hub_repo, parent, "@cxo approve")
    hub_repo.api.ok("POST", f"{R}/issues/{parent}/labels", {"labels": ["agent:plan-approved"]})
    hub_repo.api.ok("PATCH", f"{R}/issues/{parent}", {"body": "Build five parts, and a sixth."})
    daemon_commands(runner)
    final = run_issue(runner, parent)
    assert final["status"] == "blocked" and final["blocked"]["reason"] == REASON
    assert plans(counts) == 2 and child_issues(hub_repo, parent) == {}
    [posted] = plan_comments(hub_repo, parent)
    assert "state=awaiting" in posted["body"] and posted["body"] != first["body"]
    assert "agent:plan-approved" not in labels_of(hub_repo, parent)  # the old approval no longer counts


def test_cxo_plan_by_hand_posts_the_plan_and_after_approval_creates_the_children_from_it(runner, hub_repo,
                                                                                         tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    counts = approval_agent(runner, tmp_path)
    parent = open_parent(hub_repo)
    b = Path(sys.executable).parent
    chain = f"{b}/cxo-claim --target {runner} --issue {parent} | {b}/cxo-worktree | {b}/cxo-plan"

    def sh(command):
        return subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True,
                              env={**os.environ, "GITHUB_TOKEN": RUNNER}, timeout=180)

    waiting = sh(f"{chain} | {b}/cxo-publish")
    assert waiting.returncode == 3, waiting.stderr[-2000:]  # blocked: the plan waits
    assert json.loads(waiting.stdout)["blocked"]["reason"] == REASON
    assert child_issues(hub_repo, parent) == {} and len(plan_comments(hub_repo, parent)) == 1
    assert labels_of(hub_repo, parent) == ["agent:blocked", "agent:plan-auto"]
    comment(hub_repo, parent, "@cxo approve")
    daemon_commands(runner)  # the command pass takes agent:blocked off the approved parent
    approved = sh(chain)
    assert approved.returncode == 0, approved.stderr[-2000:]
    assert sorted(json.loads(approved.stdout)["plan"]["children"]) == ["a", "b"]
    assert sorted(child_issues(hub_repo, parent)) == ["a", "b"] and plans(counts) == 1  # planned once
    assert "state=approved" in plan_comments(hub_repo, parent)[0]["body"]
