"""agent:plan-auto end to end on the hub: planning, child issues, dependency order, scopes, one integration PR."""

import json
import subprocess

import pytest

from cxo import policy as policy_mod
from cxo.runner import run_issue
from tests.support.git_fixtures import GOOD_REPORT, scripted_agent

R = "/repos/acme/widgets"
MARK = "<!-- codex-orchestrator:autonomous-child parent=#{} -->"


def node(sid, scope, deps=(), afk="afk"):
    return {"stableId": sid, "title": f"Child {sid}", "body": f"Build {sid}.", "afkHitl": afk,
            "ownershipScope": [scope], "dependsOn": list(deps), "verification": ["the file exists"]}


DIAMOND = [node("a", "src/a/**"), node("b", "src/b/**", ["a"]), node("c", "src/c/**", ["a"]),
           node("d", "src/d/**", ["b", "c"]), node("e", "src/b/**")]


def plan_report(nodes, prd="Goal: build the five parts.\n\nAcceptance: every part exists."):
    return {"parent": {"title": "Five parts", "body": prd}, "graph": {"nodes": nodes, "edges": [],
                                                                     "specGate": "wave-level"}}


CHILD = [{"sh": "mkdir -p out && echo $CODEX_ORCHESTRATOR_ISSUE_NUMBER > "
                "out/child-$CODEX_ORCHESTRATOR_ISSUE_NUMBER.txt"}, {"sleep": 1}, {"report": GOOD_REPORT}]


def tree_agent(target, tmp_path, nodes, child=CHILD, **extra):
    return scripted_agent(target, tmp_path, [{"role": {"plan": [{"report": plan_report(nodes)}],
                                                       "implement": child}}],
                          extra_policy={"reviewGates": {"quality": {"enabled": False}}, **extra})


def open_parent(hub_repo, body="Build five parts, please."):
    return hub_repo.api.ok("POST", f"{R}/issues", {"title": "Five parts", "body": body,
                                                   "labels": ["agent:plan-auto"]})["number"]


def labels_of(hub_repo, number):
    return sorted(lab["name"] for lab in hub_repo.api.ok("GET", f"{R}/issues/{number}")["labels"])


def child_issues(hub_repo, parent):
    issues = hub_repo.api.ok("GET", f"{R}/issues?state=all&per_page=100")
    return {i["body"].split("Stable ID: ")[1].split("\n")[0]: i for i in issues
            if (i.get("body") or "").startswith(MARK.format(parent))}


def test_a_diamond_plan_runs_in_dependency_order_with_scopes_apart_and_opens_one_integration_pr(
        target_repo, hub_repo, tmp_path):
    tree_agent(target_repo, tmp_path, DIAMOND)
    parent = open_parent(hub_repo)
    final = run_issue(target_repo, parent)
    assert final["status"] == "ok", final.get("blocked")

    kids = child_issues(hub_repo, parent)
    assert sorted(kids) == ["a", "b", "c", "d", "e"]
    for sid, issue in kids.items():
        assert labels_of(hub_repo, issue["number"]) == ["agent:auto", "agent:child", "agent:review"], sid
    subs = hub_repo.api.ok("GET", f"{R}/issues/{parent}/sub_issues")
    assert sorted(i["number"] for i in subs) == sorted(i["number"] for i in kids.values())
    blockers = hub_repo.api.ok("GET", f"{R}/issues/{kids['d']['number']}/dependencies/blocked_by")
    assert sorted(i["number"] for i in blockers) == sorted([kids["b"]["number"], kids["c"]["number"]])

    timing = json.loads((policy_mod.load(target_repo).state_dir / "trees" / f"{parent}.json").read_text())["timing"]
    for before, after in (("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")):
        assert timing[before]["end"] <= timing[after]["start"], (before, after)
    b, e = timing["b"], timing["e"]
    assert b["end"] <= e["start"] or e["end"] <= b["start"], "children sharing a scope ran at the same time"

    pulls = hub_repo.api.ok("GET", f"{R}/pulls?state=all")
    assert len(pulls) == 1 and pulls[0]["draft"] is True
    pr = pulls[0]
    assert pr["head"]["ref"] == final["worktree"]["branch"] and pr["head"]["ref"].startswith("agent/tree-")
    for issue in list(kids.values()) + [{"number": parent}]:
        assert f"Closes #{issue['number']}" in pr["body"]
    clone = tmp_path / "check"
    subprocess.run(["git", "clone", "-q", "-b", pr["head"]["ref"], hub_repo.clone_url, str(clone)], check=True)
    assert sorted(p.name for p in (clone / "out").iterdir()) == sorted(
        f"child-{i['number']}.txt" for i in kids.values())
    assert labels_of(hub_repo, parent) == ["agent:plan-auto", "agent:review"]
    assert "| gates |" in pr["body"] and "merged" in pr["body"]
    for issue in kids.values():  # each child's report comment links the integration PR
        bodies = [c["body"] for c in hub_repo.api.ok("GET", f"{R}/issues/{issue['number']}/comments")]
        assert sum(f"Integration draft PR: #{pr['number']}" in b for b in bodies) == 1
    comments = hub_repo.api.ok("GET", f"{R}/issues/{parent}/comments")
    assert sum("cxo:tree-status" in c["body"] for c in comments) == 1  # one status comment, edited in place
    assert sum("cxo:tree-prd" in c["body"] for c in comments) == 1
    status = next(c["body"] for c in comments if "cxo:tree-status" in c["body"])
    assert "```mermaid" in status and "classDef merged" in status
    assert hub_repo.api.ok("GET", f"{R}/issues/{parent}")["body"] == "Build five parts, please."  # kept

    # Running the finished tree again changes nothing.
    before = hub_repo.api.admin("GET", "/_hub/stats")["writes"]
    again = run_issue(target_repo, parent)
    assert again["status"] == "blocked" and "review" in again["blocked"]["reason"]
    assert hub_repo.api.admin("GET", "/_hub/stats")["writes"] == before


def test_invalid_plans_block_the_parent_with_every_error_and_create_nothing(target_repo, hub_repo, tmp_path):
    bad = [node("a", "src/a/**", ["a"]), node("b", "src/b/**", ["zzz"]), node("b", "src/x/**"),
           {**node("c", "src/c/**"), "ownershipScope": []}, {**node("d", "src/d/**"), "verification": []}]
    tree_agent(target_repo, tmp_path, bad)
    parent = open_parent(hub_repo)
    final = run_issue(target_repo, parent)
    assert final["status"] == "blocked"
    reason = final["blocked"]["reason"]
    for expected in ("depends on itself", "unknown node 'zzz'", "duplicate stableId 'b'", "'c' has no ownershipScope",
                     "'d' has no verification"):
        assert expected in reason, expected
    assert child_issues(hub_repo, parent) == {}
    assert labels_of(hub_repo, parent) == ["agent:blocked", "agent:plan-auto"]


def test_a_plan_without_nodes_or_with_an_empty_id_is_refused(target_repo, hub_repo, tmp_path):
    tree_agent(target_repo, tmp_path, [])
    parent = open_parent(hub_repo)
    assert "the plan has no nodes" in run_issue(target_repo, parent)["blocked"]["reason"]
    tree_agent(target_repo, tmp_path, [node("", "src/a/**")])
    parent = open_parent(hub_repo)
    assert "empty stableId" in run_issue(target_repo, parent)["blocked"]["reason"]
    assert child_issues(hub_repo, parent) == {}


def test_a_cycle_and_a_foreign_issue_number_are_refused(target_repo, hub_repo, tmp_path):
    other = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Unrelated", "body": "leave me"})["number"]
    tree_agent(target_repo, tmp_path, [node("a", "src/a/**", ["b"]), node("b", "src/b/**", ["a"])])
    parent = open_parent(hub_repo)
    assert "dependency cycle" in run_issue(target_repo, parent)["blocked"]["reason"]
    tree_agent(target_repo, tmp_path, [{**node("a", "src/a/**"), "issueNumber": other}])
    parent = open_parent(hub_repo)
    final = run_issue(target_repo, parent)
    assert f"names #{other}, which is not a child" in final["blocked"]["reason"]
    assert hub_repo.api.ok("GET", f"{R}/issues/{other}")["body"] == "leave me"
    assert hub_repo.api.ok("GET", f"{R}/issues/{other}/comments") == []


def test_a_planning_run_that_edits_files_blocks_the_parent(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"role": {"plan": [{"write": {"sneaky.txt": "x"}},
                                                              {"report": plan_report(DIAMOND)}]}}])
    parent = open_parent(hub_repo)
    final = run_issue(target_repo, parent)
    assert final["status"] == "blocked" and "planning is read-only" in final["blocked"]["reason"]
    assert child_issues(hub_repo, parent) == {}


def test_a_blocked_child_stops_its_dependents_not_its_siblings_and_a_rerun_completes(target_repo, hub_repo,
                                                                                      tmp_path):
    flag = tmp_path / "flags"
    flag.mkdir()
    # Child c fails while the flag file is missing; after the maintainer "fixes" it, the rerun passes.
    child = [{"check": f"test -e {flag}/fixed || [ \"$CODEX_ORCHESTRATOR_ISSUE_NUMBER\" != \"$(cat {flag}/c)\" ] "
                    "|| exit 7"}] + CHILD
    tree_agent(target_repo, tmp_path, DIAMOND, child=child, agent={"readPaths": [str(flag)]})
    parent = open_parent(hub_repo)
    # The plan is made first; learn c's number from a dry planning of the same graph: children are created in order.
    next_number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "spacer"})["number"] + 1
    (flag / "c").write_text(str(next_number + 2))  # a, b, c, d, e are created in this order
    final = run_issue(target_repo, parent)
    assert final["status"] == "blocked", final
    kids = child_issues(hub_repo, parent)
    assert sorted(kids) == ["a", "b", "c", "d", "e"], final["blocked"]
    assert kids["c"]["number"] == next_number + 2
    assert labels_of(hub_repo, kids["c"]["number"]) == ["agent:auto", "agent:blocked", "agent:child"]
    for sid in ("a", "b", "e"):
        assert "agent:review" in labels_of(hub_repo, kids[sid]["number"]), sid
    assert labels_of(hub_repo, kids["d"]["number"]) == ["agent:auto", "agent:child"]  # never started
    assert f"#{kids['d']['number']} waits on c" in final["blocked"]["reason"]
    assert hub_repo.api.ok("GET", f"{R}/pulls?state=all") == []

    (flag / "fixed").write_text("yes")
    for number in (kids["c"]["number"], parent):  # the maintainer unblocks
        hub_repo.api.ok("DELETE", f"{R}/issues/{number}/labels/agent:blocked")
    final = run_issue(target_repo, parent)
    assert final["status"] == "ok", final.get("blocked")
    assert len(hub_repo.api.ok("GET", f"{R}/pulls?state=all")) == 1
    assert len(child_issues(hub_repo, parent)) == 5  # no duplicates


def test_two_children_that_conflict_block_the_second_naming_the_file(target_repo, hub_repo, tmp_path):
    write_same = [{"sh": "echo $CODEX_ORCHESTRATOR_ISSUE_NUMBER > shared.txt"}, {"report": GOOD_REPORT}]
    tree_agent(target_repo, tmp_path, [node("x", "src/x/**"), node("y", "src/y/**")], child=write_same)
    parent = open_parent(hub_repo)
    final = run_issue(target_repo, parent)
    assert final["status"] == "blocked"
    kids = child_issues(hub_repo, parent)
    blocked = [sid for sid in kids if "agent:blocked" in labels_of(hub_repo, kids[sid]["number"])]
    assert len(blocked) == 1
    comments = hub_repo.api.ok("GET", f"{R}/issues/{kids[blocked[0]]['number']}/comments")
    assert any("merge conflict in shared.txt" in c["body"] for c in comments)
    assert hub_repo.api.ok("GET", f"{R}/pulls?state=all") == []


def test_a_hitl_child_waits_and_a_replan_updates_children_by_stable_id(target_repo, hub_repo, tmp_path):
    import argparse

    counts = tmp_path / "counts"
    counts.mkdir()
    child = [{"append": {str(counts / "runs"): "$CODEX_ORCHESTRATOR_ISSUE_NUMBER\n"}}] + CHILD
    tree_agent(target_repo, tmp_path, [node("a", "src/a/**"), node("b", "src/b/**", ["a"], afk="hitl")], child=child)
    parent = open_parent(hub_repo)
    final = run_issue(target_repo, parent)
    kids = child_issues(hub_repo, parent)
    assert final["status"] == "blocked" and f"waiting on #{kids['b']['number']}" in final["blocked"]["reason"]
    assert labels_of(hub_repo, kids["b"]["number"]) == ["agent:child", "agent:manual"]

    # The maintainer unblocks and asks for a new plan: b is now afk, c is new.
    tree_agent(target_repo, tmp_path, [node("a", "src/a/**"), node("b", "src/b/**", ["a"]),
                                       node("c", "src/c/**", ["b"])], child=child)
    hub_repo.api.ok("DELETE", f"{R}/issues/{parent}/labels/agent:blocked")
    final = run_issue(target_repo, parent, args=argparse.Namespace(replan=True))
    assert final["status"] == "ok", final.get("blocked")
    again = child_issues(hub_repo, parent)
    assert sorted(again) == ["a", "b", "c"]
    assert again["a"]["number"] == kids["a"]["number"] and again["b"]["number"] == kids["b"]["number"]
    runs = (counts / "runs").read_text().split()
    assert runs.count(str(kids["a"]["number"])) == 1  # merged children are not run again
    assert "agent:manual" not in labels_of(hub_repo, kids["b"]["number"])


KILL_POINTS = ["runner:after-claim", "runner:after-worktree", "tree:after-plan", "runner:after-codex",
               "tree:after-merge", "tree:after-push", "tree:after-pr"]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_tree_run_killed_at_any_step_ends_with_one_pr_and_no_duplicates(point, target_repo, hub_repo, tmp_path):
    import os
    import sys
    from pathlib import Path

    tree_agent(target_repo, tmp_path, [node("a", "src/a/**"), node("b", "src/b/**", ["a"])],
               child=[{"sh": "mkdir -p out && echo x > out/child-$CODEX_ORCHESTRATOR_ISSUE_NUMBER.txt"},
                      {"report": GOOD_REPORT}])
    parent = open_parent(hub_repo)
    run = [str(Path(sys.executable).parent / "cxo-run"), "--target", str(target_repo), "--issue", str(parent)]
    env = {**os.environ, "GITHUB_TOKEN": "as:acme"}
    killed = subprocess.run(run, capture_output=True, text=True, timeout=180, env={**env, "CXO_TEST_KILL_AT": point})
    assert killed.returncode == -9, killed.stderr[-2000:]
    resumed = subprocess.run(run, capture_output=True, text=True, timeout=180, env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert len(hub_repo.api.ok("GET", f"{R}/pulls?state=all")) == 1
    assert sorted(child_issues(hub_repo, parent)) == ["a", "b"]
    comments = hub_repo.api.ok("GET", f"{R}/issues/{parent}/comments")
    for marker in ("cxo:tree-status", "cxo:tree-prd", "cxo:report-comment"):
        assert sum(marker in c["body"] for c in comments) == 1, marker
    assert labels_of(hub_repo, parent) == ["agent:plan-auto", "agent:review"]
    for issue in child_issues(hub_repo, parent).values():
        assert labels_of(hub_repo, issue["number"]) == ["agent:auto", "agent:child", "agent:review"]


def test_cxo_status_shows_each_tree_with_its_children_and_what_they_wait_on(target_repo, hub_repo, tmp_path):
    import os
    import sys
    from pathlib import Path

    tree_agent(target_repo, tmp_path, [node("a", "src/a/**"), node("b", "src/b/**", ["a"], afk="hitl"),
                                       node("c", "src/c/**", ["b"])])
    parent = open_parent(hub_repo)
    run_issue(target_repo, parent)  # a merges, b waits for a human, c waits on b
    kids = child_issues(hub_repo, parent)
    exe = str(Path(sys.executable).parent / "cxo-status")
    env = {**os.environ, "GITHUB_TOKEN": "as:acme"}
    out = subprocess.run([exe, "--target", str(target_repo), "--json"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    tree = json.loads(out.stdout)["trees"][0]
    states = {k["stable_id"]: (k["state"], k["waits_on"]) for k in tree["children"]}
    assert tree["parent"] == parent
    assert states == {"a": ("merged", []), "b": ("waiting", []), "c": ("pending", ["b"])}
    text = subprocess.run([exe, "--target", str(target_repo)], capture_output=True, text=True, env=env).stdout
    assert f"tree #{parent}" in text and f"#{kids['c']['number']} c: pending, waits on b" in text


def test_the_tree_steps_chain_by_hand_with_cxo_plan_and_cxo_tree(target_repo, hub_repo, tmp_path):
    import os
    import sys
    from pathlib import Path

    tree_agent(target_repo, tmp_path, DIAMOND)
    parent = open_parent(hub_repo)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "GITHUB_TOKEN": "as:acme"}
    chain = (f"{bin_dir}/cxo-claim --target {target_repo} --issue {parent} | {bin_dir}/cxo-worktree | "
             f"{bin_dir}/cxo-plan | {bin_dir}/cxo-tree")
    out = subprocess.run(["bash", "-o", "pipefail", "-c", chain], capture_output=True, text=True, env=env,
                         timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    final = json.loads(out.stdout)
    kids = child_issues(hub_repo, parent)
    assert final["plan"]["children"] == {sid: issue["number"] for sid, issue in kids.items()}
    items = {i["stable_id"]: i["state"] for i in final["children"]["items"]}
    assert items == {sid: "pending" for sid in "abcde"}
    # a and e start first (no dependencies; scopes apart); b, c, d wait for a.
    assert final["children"]["startable"] == [kids["a"]["number"], kids["e"]["number"]]
    assert final["steps_done"] == ["claim", "worktree", "plan"]


def test_a_whole_tree_chained_by_hand_ends_in_one_integration_pr(target_repo, hub_repo, tmp_path):
    import os
    import sys
    from pathlib import Path

    tree_agent(target_repo, tmp_path, [node("a", "src/a/**"), node("b", "src/b/**", ["a"])])
    parent = open_parent(hub_repo)
    b = Path(sys.executable).parent
    env = {**os.environ, "GITHUB_TOKEN": "as:acme"}

    def sh(command):
        out = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, env=env,
                             timeout=180)
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout)

    parent_env = tmp_path / "parent.json"
    planned = sh(f"{b}/cxo-claim --target {target_repo} --issue {parent} | {b}/cxo-worktree | {b}/cxo-plan "
                 f"| tee {parent_env}")
    for sid in ("a", "b"):  # in dependency order, as cxo-tree's "startable" says
        startable = sh(f"{b}/cxo-tree < {parent_env}")["children"]["startable"]
        number = planned["plan"]["children"][sid]
        assert startable == [number]
        merged = sh(f"{b}/cxo-claim --target {target_repo} --issue {number} --tree-parent {parent} | {b}/cxo-worktree"
                    f" | {b}/cxo-codex | {b}/cxo-gate | {b}/cxo-integrate")
        assert merged["integrate"]["integration_branch"] == planned["worktree"]["branch"]
    published = sh(f"{b}/cxo-publish < {parent_env}")
    assert published["publish"]["pull_request"]["draft"] is True
    assert len(hub_repo.api.ok("GET", f"{R}/pulls?state=all")) == 1
    assert labels_of(hub_repo, parent) == ["agent:plan-auto", "agent:review"]
