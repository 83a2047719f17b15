"""Operation over time: run records know when a run is over, whoever finished it, so the daemon resumes only runs
that are really interrupted (a finished tree's children, a round run by `cxo-run --issue`, a run another host
finished)."""

from cxo import policy as policy_mod
from cxo.connect import tracker_for
from cxo.daemon import Daemon
from cxo.runner import run_issue
from tests.rounds.test_round_run import R, changes_requested, first_pr, round_script, runner  # noqa: F401
from tests.support.git_fixtures import GOOD_REPORT
from tests.tree.test_tree_run import node, open_parent, tree_agent


def labels_of(hub_repo, number):
    return sorted(lab["name"] for lab in hub_repo.api.ok("GET", f"{R}/issues/{number}")["labels"])


def run_records(target, number):
    root = policy_mod.load(target).state_dir / "runs" / str(number)
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def one_cycle(target):
    said = []
    pol = policy_mod.load(target)
    result = Daemon(pol, tracker_for(pol), say=said.append).cycle()
    return result, said


def test_after_a_finished_tree_the_daemon_resumes_none_of_its_children(target_repo, hub_repo, tmp_path):
    tree_agent(target_repo, tmp_path, [node("a", "src/a/**"), node("b", "src/b/**", ["a"])])
    parent = open_parent(hub_repo)
    assert run_issue(target_repo, parent)["status"] == "ok"
    children = [i["number"] for i in hub_repo.api.ok("GET", f"{R}/issues?state=all") if i["number"] != parent]
    before = {n: labels_of(hub_repo, n) for n in children}
    writes = hub_repo.api.admin("GET", "/_hub/stats")["writes"]
    for _ in range(2):
        result, said = one_cycle(target_repo)
        assert not any("resuming" in line for line in said), said
        assert result["ran"] == []
    assert {n: labels_of(hub_repo, n) for n in children} == before  # never agent:blocked beside agent:review
    assert hub_repo.api.admin("GET", "/_hub/stats")["writes"] == writes
    assert len(hub_repo.api.ok("GET", f"{R}/pulls?state=all")) == 1


def test_after_a_round_run_by_cxo_run_issue_the_daemon_resumes_nothing(runner, hub_repo, tmp_path):  # noqa: F811
    issue, pull, sha = first_pr(hub_repo, runner, tmp_path)
    changes_requested(hub_repo.api, pull, sha)
    round_script(tmp_path, [{"write": {"ROUND.md": "done\n"}}, {"report": GOOD_REPORT}])
    env = run_issue(runner, issue)
    assert env.get("round") and env["status"] == "ok", env.get("blocked")
    records = run_records(runner, issue)
    for _ in range(2):
        result, said = one_cycle(runner)
        assert not any("resuming" in line for line in said), said
    assert run_records(runner, issue) == records  # no stale run record added per cycle


def test_a_run_another_host_finished_is_not_resumed_here(target_repo, hub_repo, tmp_path):
    """This host's run was cut off after its agent; meanwhile another host finished the issue (it is in review):
    the daemon marks the local record finished instead of resuming it."""
    import subprocess
    import sys
    from pathlib import Path

    from tests.support.git_fixtures import scripted_agent

    scripted_agent(target_repo, tmp_path, [{"write": {"F.md": "x\n"}}, {"report": GOOD_REPORT}])
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Elsewhere", "labels": ["agent:auto"]})["number"]
    killed = subprocess.run([str(Path(sys.executable).parent / "cxo-run"), "--target", str(target_repo), "--issue",
                             str(number)], env={**__import__("os").environ, "CXO_TEST_KILL_AT": "runner:after-codex"},
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9
    hub_repo.api.ok("DELETE", f"{R}/issues/{number}/labels/agent:running")
    hub_repo.api.ok("POST", f"{R}/issues/{number}/labels", {"labels": ["agent:review"]})
    result, said = one_cycle(target_repo)
    assert not any("resuming" in line for line in said), said
    root = policy_mod.load(target_repo).state_dir / "runs" / str(number)
    assert any((run / "finished.json").is_file() for run in root.iterdir())


def test_removing_blocked_starts_a_fresh_attempt_and_keeps_the_earlier_work_aside(target_repo, hub_repo, tmp_path):
    from tests.support.git_fixtures import git, scripted_agent

    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Try twice", "labels": ["agent:auto"]})["number"]
    scripted_agent(target_repo, tmp_path, [{"write": {"FIRST.md": "first try\n"}},
                                           {"report": {**GOOD_REPORT, "status": "blocked", "summary": "stuck"}}])
    first = run_issue(target_repo, number)
    assert first["status"] == "blocked"
    hub_repo.api.ok("DELETE", f"{R}/issues/{number}/labels/agent:blocked")
    scripted_agent(target_repo, tmp_path, [{"write": {"SECOND.md": "second try\n"}}, {"report": GOOD_REPORT}])
    second = run_issue(target_repo, number)
    assert second["status"] == "ok", second.get("blocked")
    assert second["gate"]["changes"]["files"] == ["SECOND.md"]  # the first attempt's work is never mixed in
    kept = second["claim"]["earlier_attempt"]
    assert kept == f"{second['worktree']['branch']}-attempt-1"
    assert git(target_repo, "show", f"{kept}:FIRST.md") == "first try\n"
    assert f"refs/heads/{kept}" not in git(tmp_path, "ls-remote", hub_repo.clone_url)  # never pushed
