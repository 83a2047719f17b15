"""cxo-worktrees: what cxo keeps on this machine, listed with size and age, discarded or pruned on request."""

import json
import os
import subprocess
import sys
from pathlib import Path

from cxo import policy as policy_mod
from cxo.runner import run_issue
from tests.support.git_fixtures import GOOD_REPORT, git, scripted_agent

BIN = Path(sys.executable).parent
R = "/repos/acme/widgets"


def worktrees(target, *args):
    return subprocess.run([str(BIN / "cxo-worktrees"), "--target", str(target), *args], capture_output=True,
                          text=True, env={**os.environ, "GITHUB_TOKEN": "as:acme"}, timeout=120)


def blocked_twice(target, hub_repo, tmp_path):
    """An issue blocked, unblocked and blocked again: a kept tree and one earlier attempt's branch."""
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Keep me", "labels": ["agent:auto"]})["number"]
    scripted_agent(target, tmp_path, [{"write": {"WIP.md": "half done\n"}},
                                      {"report": {**GOOD_REPORT, "status": "blocked", "summary": "stuck"}}])
    assert run_issue(target, number)["status"] == "blocked"
    hub_repo.api.ok("DELETE", f"{R}/issues/{number}/labels/agent:blocked")
    assert run_issue(target, number)["status"] == "blocked"
    return number


def test_list_shows_kept_trees_and_attempts_and_discard_removes_them(target_repo, hub_repo, tmp_path):
    number = blocked_twice(target_repo, hub_repo, tmp_path)
    listed = worktrees(target_repo, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    (tree,) = [t for t in found["worktrees"] if t["issue"] == number]
    assert tree["clean"] is False and tree["bytes"] > 0 and tree["branch"].startswith(f"agent/issue-{number}-")
    assert [a["branch"] for a in found["attempts"]] == [f"{tree['branch']}-attempt-1"]
    table = worktrees(target_repo, "list").stdout
    assert f"#{number}" in table and "uncommitted work" in table and "kept, not pushed" in table

    gone = worktrees(target_repo, "discard", str(number))
    assert gone.returncode == 0, gone.stderr
    assert not Path(tree["path"]).exists()
    assert git(target_repo, "branch", "--list", f"agent/issue-{number}-*").strip() == ""
    assert json.loads(worktrees(target_repo, "list", "--json").stdout) == {"worktrees": [], "attempts": []}
    again = worktrees(target_repo, "discard", str(number))
    assert again.returncode == 6 and "nothing kept" in again.stderr and len(again.stderr.splitlines()) == 1


def test_discard_refuses_while_a_run_holds_the_issue(target_repo, hub_repo, tmp_path):
    from cxo.recovery import IssueLock

    number = blocked_twice(target_repo, hub_repo, tmp_path)
    lock = IssueLock(policy_mod.load(target_repo), number)
    assert lock.acquire()
    try:
        refused = worktrees(target_repo, "discard", str(number))
    finally:
        lock.release()
    assert refused.returncode == 2 and "a run on this host is working on it" in refused.stderr
    assert json.loads(worktrees(target_repo, "list", "--json").stdout)["worktrees"]


def test_prune_removes_a_merged_clean_tree_and_keeps_the_rest(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"write": {"DONE.md": "done\n"}}, {"report": GOOD_REPORT}])
    merged = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Merge me", "labels": ["agent:auto"]})["number"]
    env = run_issue(target_repo, merged)
    hub_repo.api.ok("PUT", f"{R}/pulls/{env['publish']['pull_request']['number']}/merge", {})
    kept = blocked_twice(target_repo, hub_repo, tmp_path)
    pruned = worktrees(target_repo, "prune")
    assert pruned.returncode == 0, pruned.stderr
    left = {t["issue"] for t in json.loads(worktrees(target_repo, "list", "--json").stdout)["worktrees"]}
    assert left == {kept}
