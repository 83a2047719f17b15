"""A child's seed metadata names its dependencies by issue number (`#N`), the stable id beside it."""

import json

from cxo import policy as policy_mod
from cxo.runner import run_issue
from cxo.tree import children
from tests.tree.test_tree_run import R, child_issues, labels_of, node, open_parent, tree_agent


def depends_line(issue: dict) -> str:
    return next(line for line in issue["body"].splitlines() if line.startswith("Depends on:"))


def test_a_childs_metadata_names_its_dependency_by_issue_number(target_repo, hub_repo, tmp_path):
    tree_agent(target_repo, tmp_path, [node("percent-fn", "src/percent/**"),
                                       node("report", "src/report/**", ["percent-fn"])])
    parent = open_parent(hub_repo)
    final = run_issue(target_repo, parent)
    assert final["status"] == "ok", final.get("blocked")
    kids = child_issues(hub_repo, parent)
    dep = kids["percent-fn"]["number"]
    assert depends_line(kids["report"]) == f"Depends on: #{dep} (percent-fn)"
    assert depends_line(kids["percent-fn"]) == "Depends on: none"
    status = next(c["body"] for c in hub_repo.api.ok("GET", f"{R}/issues/{parent}/comments")
                  if "cxo:tree-status" in c["body"])
    assert f"| #{dep} (percent-fn) |" in status  # the status table names it the same way


def test_a_child_made_before_its_dependency_is_updated_with_the_number(target_repo, hub_repo, tmp_path):
    # The dependent comes first in the plan: it is created while its dependency has no issue number yet.
    tree_agent(target_repo, tmp_path, [node("report", "src/report/**", ["percent-fn"]),
                                       node("percent-fn", "src/percent/**")])
    parent = open_parent(hub_repo)
    final = run_issue(target_repo, parent)
    assert final["status"] == "ok", final.get("blocked")
    kids = child_issues(hub_repo, parent)
    assert kids["report"]["number"] < kids["percent-fn"]["number"]
    assert depends_line(kids["report"]) == f"Depends on: #{kids['percent-fn']['number']} (percent-fn)"
    for issue in kids.values():
        assert labels_of(hub_repo, issue["number"]) == ["agent:auto", "agent:child", "agent:review"]
    # Read back from the new bodies, the dependency still orders the run.
    timing = json.loads((policy_mod.load(target_repo).state_dir / "trees" / f"{parent}.json").read_text())["timing"]
    assert timing["percent-fn"]["end"] <= timing["report"]["start"]


def test_parse_reads_the_numbered_old_and_hand_written_forms():
    def issue(deps):
        return {"number": 12, "title": "t", "body": "\n".join([
            children.marker(3), "Body.", "", children.META_HEADING, "Stable ID: report", "AFK/HITL: afk",
            f"Depends on: {deps}", "Ownership:", "- src/**", "Verification:", "- it works"])}

    assert children.parse(issue("#10 (percent-fn), #11 (fmt)")).depends_on == ["percent-fn", "fmt"]
    assert children.parse(issue("percent-fn")).depends_on == ["percent-fn"]  # written before the number was known
    assert children.parse(issue("none")).depends_on == []
    # A bare `#10` a maintainer wrote is resolved through the parent's children when they are given.
    assert children.parse(issue("#10"), {10: "percent-fn"}).depends_on == ["percent-fn"]
    node_ = children.parse(issue("percent-fn"))
    assert "Depends on: #10 (percent-fn)" in children.render_body(node_, 3, {"percent-fn": 10})
    assert "Depends on: percent-fn" in children.render_body(node_, 3)
