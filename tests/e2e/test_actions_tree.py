"""An agent:plan-auto tree played through the generated cxo.yml: tree step -> child jobs -> dispatch -> tree step …
-> one integration draft PR; every job on a fresh clone whose disk is deleted when it ends."""

import json
import subprocess

from tests.support import actions_player
from tests.support.git_fixtures import GOOD_REPORT, git, scripted_agent, write_policy

R = "/repos/acme/widgets"
MARK = "<!-- codex-orchestrator:autonomous-child parent=#{} -->"


def node(sid, scope, deps=()):
    return {"stableId": sid, "title": f"Child {sid}", "body": f"Build {sid}.", "afkHitl": "afk",
            "ownershipScope": [scope], "dependsOn": list(deps), "verification": ["the file exists"]}


def labels_of(hub_repo, number):
    return sorted(lab["name"] for lab in hub_repo.api.ok("GET", f"{R}/issues/{number}")["labels"])


def test_a_tree_fans_out_over_jobs_and_ends_in_one_integration_pr(hub_repo, tmp_path):
    counter = tmp_path / "counter" / "agent-runs.txt"
    counter.parent.mkdir()
    plan = {"parent": {"title": "Three parts", "body": "Goal: three parts.\n\nAcceptance: each exists."},
            "graph": {"nodes": [node("a", "src/a/**"), node("b", "src/b/**", ["a"]), node("c", "src/c/**")],
                      "edges": [], "specGate": "wave-level"}}
    child = [{"append": {str(counter): "$CODEX_ORCHESTRATOR_ISSUE_NUMBER\n"}},
             {"sh": "mkdir -p out && ls out > out/seen-by-$CODEX_ORCHESTRATOR_ISSUE_NUMBER.txt && "
                    "echo $CODEX_ORCHESTRATOR_ISSUE_NUMBER > out/child-$CODEX_ORCHESTRATOR_ISSUE_NUMBER.txt"},
             {"report": GOOD_REPORT}]
    maintainer = tmp_path / "maintainer"
    git(tmp_path, "clone", "-q", hub_repo.clone_url, str(maintainer))
    write_policy(maintainer, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url}})
    (tmp_path / "script").mkdir()
    scripted_agent(maintainer, tmp_path / "script", [{"role": {"plan": [{"report": plan}], "implement": child}}],
                   extra_policy={"reviewGates": {"quality": {"enabled": False}}})
    write_policy(maintainer, __import__("yaml").safe_load(
        (maintainer / ".codex-orchestrator" / "config.yaml").read_text()))
    parent = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Three parts", "body": "Build three parts.",
                                                      "labels": ["agent:plan-auto"]})["number"]

    runs = actions_player.play_tree(parent, hub_repo.clone_url, hub_repo.token, hub_repo.api, tmp_path / "jobs", 2)

    for jobs in runs:
        for job in jobs:
            assert job.returncode == 0, (job.job, job.label, job.stderr[-2500:])
    issues = hub_repo.api.ok("GET", f"{R}/issues?state=all&per_page=100")
    kids = {i["body"].split("Stable ID: ")[1].split("\n")[0]: i["number"] for i in issues
            if (i.get("body") or "").startswith(MARK.format(parent))}
    assert sorted(kids) == ["a", "b", "c"]
    # Run 1 plans and starts a and c; run 2 merges them and starts b; run 3 merges b and integrates.
    started = [json.loads(jobs[0].outputs["children"]) for jobs in runs]
    assert started == [[kids["a"], kids["c"]], [kids["b"]], []]
    assert sorted(map(int, counter.read_text().split())) == sorted(kids.values())  # each child ran exactly once
    for number in kids.values():
        assert labels_of(hub_repo, number) == ["agent:auto", "agent:child", "agent:review"]
    assert labels_of(hub_repo, parent) == ["agent:plan-auto", "agent:review"]
    (pull,) = hub_repo.api.ok("GET", f"{R}/pulls?state=all")
    assert pull["draft"] is True and pull["head"]["ref"].startswith("agent/tree-")
    for number in [*kids.values(), parent]:
        assert f"Closes #{number}" in pull["body"]
    check = tmp_path / "check"
    subprocess.run(["git", "clone", "-q", "-b", pull["head"]["ref"], hub_repo.clone_url, str(check)], check=True)
    assert sorted(p.name for p in (check / "out").glob("child-*")) == sorted(f"child-{n}.txt" for n in kids.values())
    # b started from the integration branch with a merged (its dependency), on a runner that never saw a.
    assert f"child-{kids['a']}.txt" in (check / "out" / f"seen-by-{kids['b']}.txt").read_text()
    assert not (tmp_path / "jobs").exists() or not any((tmp_path / "jobs").glob("*/checkout"))
    dispatches = hub_repo.api.admin("GET", "/_hub/dispatches")
    assert [d["inputs"] for d in dispatches] == [{"tree": str(parent)}] * 2


def test_a_plan_waits_for_approval_across_workflow_runs_and_an_approve_comment_starts_the_tree(hub_repo, tmp_path):
    """planning.requireApproval in Actions: the plan lives on GitHub (the runner's plan comment), so a later run on a
    fresh clone approves it and creates the children from it without planning again."""
    plans = tmp_path / "counter" / "plans.txt"
    plans.parent.mkdir()
    plan = {"parent": {"title": "Two parts", "body": "Goal: two parts."},
            "graph": {"nodes": [node("a", "src/a/**"), node("b", "src/b/**")], "edges": [], "specGate": "wave-level"}}
    child = [{"sh": "mkdir -p out && echo x > out/child-$CODEX_ORCHESTRATOR_ISSUE_NUMBER.txt"},
             {"report": GOOD_REPORT}]
    maintainer = tmp_path / "maintainer"
    git(tmp_path, "clone", "-q", hub_repo.clone_url, str(maintainer))
    write_policy(maintainer, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url}})
    (tmp_path / "script").mkdir()
    scripted_agent(maintainer, tmp_path / "script",
                   [{"role": {"plan": [{"append": {str(plans): "planned\n"}}, {"report": plan}], "implement": child}}],
                   extra_policy={"reviewGates": {"quality": {"enabled": False}}, "planning": {"requireApproval": True}})
    write_policy(maintainer, __import__("yaml").safe_load(
        (maintainer / ".codex-orchestrator" / "config.yaml").read_text()))
    parent = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Two parts", "body": "Build two parts.",
                                                      "labels": ["agent:plan-auto"]})["number"]

    first = actions_player.play_tree(parent, hub_repo.clone_url, hub_repo.token, hub_repo.api, tmp_path / "w1", 2)
    [[tree_job]] = first
    assert tree_job.returncode == 0, tree_job.stderr[-2000:]
    assert tree_job.outputs["status"] == "awaiting" and json.loads(tree_job.outputs["children"]) == []
    issues = hub_repo.api.ok("GET", f"{R}/issues?state=all&per_page=100")
    assert not [i for i in issues if (i.get("body") or "").startswith(MARK.format(parent))]  # no child yet
    assert "agent:blocked" in labels_of(hub_repo, parent)
    comments = hub_repo.api.ok("GET", f"{R}/issues/{parent}/comments")
    assert any("cxo:plan-approval-state" in c["body"] and "state=awaiting" in c["body"] for c in comments)
    # Nothing happens on the next event while nobody approved.
    idle = actions_player.play_tree(parent, hub_repo.clone_url, hub_repo.token, hub_repo.api, tmp_path / "w2", 2,
                                    first={"tree": ""})
    assert idle == [[]]

    # A maintainer approves (the workflow's token writes as acme here, so the maintainer is a collaborator).
    hub_repo.api.ok("PUT", f"{R}/collaborators/carol", {})
    hub_repo.api.ok("POST", f"{R}/issues/{parent}/comments", {"body": "@cxo approve"}, token="as:carol")
    runs = actions_player.play_tree(parent, hub_repo.clone_url, hub_repo.token, hub_repo.api, tmp_path / "w3", 2,
                                    first={"tree": ""})
    for jobs in runs:
        for job in jobs:
            assert job.returncode == 0, (job.job, job.label, job.stderr[-2500:])
    assert plans.read_text() == "planned\n"  # the approved plan was used: the agent planned once
    issues = hub_repo.api.ok("GET", f"{R}/issues?state=all&per_page=100")
    kids = sorted(i["number"] for i in issues if (i.get("body") or "").startswith(MARK.format(parent)))
    assert len(kids) == 2
    assert labels_of(hub_repo, parent) == ["agent:plan-auto", "agent:review"]
    (pull,) = hub_repo.api.ok("GET", f"{R}/pulls?state=all")
    assert all(f"Closes #{n}" in pull["body"] for n in [*kids, parent])
    comments = hub_repo.api.ok("GET", f"{R}/issues/{parent}/comments")
    assert any("cxo:plan-approval-state" in c["body"] and "state=approved" in c["body"] for c in comments)
