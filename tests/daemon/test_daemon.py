"""cxo-daemon: conditional polling, oldest first, max runs, clean stop, and worktree cleanup."""

import signal
import subprocess
import sys
import time
from pathlib import Path

from cxo import policy as policy_mod
from cxo.connect import tracker_for
from cxo.daemon import Daemon
from cxo.runner import run_issue
from tests.support.git_fixtures import GOOD_REPORT, scripted_agent

BIN = Path(sys.executable).parent
R = "/repos/acme/widgets"
CHANGE = {"write": {"CHANGES.md": "done\n"}}


def new_issue(hub_repo, title, labels=("agent:auto",)):
    return hub_repo.api.ok("POST", f"{R}/issues", {"title": title, "labels": list(labels)})["number"]


def labels_of(hub_repo, number):
    return sorted(lab["name"] for lab in hub_repo.api.ok("GET", f"{R}/issues/{number}")["labels"])


def test_idle_cycles_cost_no_rate_limit(target_repo, hub_repo):
    new_issue(hub_repo, "waiting for a human", ("agent:auto", "agent:manual"))
    pol = policy_mod.load(target_repo)
    daemon = Daemon(pol, tracker_for(pol), say=lambda m: None)
    assert daemon.cycle()["ran"] == []
    before = hub_repo.api.admin("GET", "/_hub/stats")
    for _ in range(3):
        assert daemon.cycle()["eligible"] == []
    after = hub_repo.api.admin("GET", "/_hub/stats")
    assert after["billable"] == before["billable"]
    assert after["not_modified"] - before["not_modified"] == 3


def test_daemon_runs_oldest_first_and_stops_at_max_runs(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}])
    first, second, third = (new_issue(hub_repo, f"task {n}") for n in range(3))
    proc = subprocess.run([str(BIN / "cxo-daemon"), "--target", str(target_repo), "--once", "--max-runs", "2"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert labels_of(hub_repo, first) == ["agent:auto", "agent:review"]
    assert labels_of(hub_repo, second) == ["agent:auto", "agent:review"]
    assert labels_of(hub_repo, third) == ["agent:auto"]
    assert proc.stderr.index(f"running issue #{first}") < proc.stderr.index(f"running issue #{second}")


def test_sigterm_ends_the_current_run_blocked_and_exits_130(target_repo, hub_repo, tmp_path):
    started = tmp_path / "agent-started"
    scripted_agent(target_repo, tmp_path, [{"write": {str(started): "yes"}}, {"sleep": 60}])
    number = new_issue(hub_repo, "slow")
    proc = subprocess.Popen([str(BIN / "cxo-daemon"), "--target", str(target_repo), "--interval-seconds", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started.exists(), "the agent never started"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert labels_of(hub_repo, number) == ["agent:auto", "agent:blocked"]
    comments = hub_repo.api.ok("GET", f"{R}/issues/{number}/comments")
    assert any("interrupted" in c["body"] for c in comments)


def test_cleanup_removes_only_merged_clean_inactive_worktrees(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}])
    merged, unmerged, dirty_merged = (new_issue(hub_repo, f"work {n}") for n in range(3))
    paths, prs = {}, {}
    for number in (merged, unmerged, dirty_merged):
        final = run_issue(target_repo, number)
        assert final["status"] == "ok", final.get("blocked")
        paths[number] = final["worktree"]["path"]
        prs[number] = final["publish"]["pull_request"]["number"]
    for number in (merged, dirty_merged):
        hub_repo.api.ok("PUT", f"{R}/pulls/{prs[number]}/merge", {})
    Path(paths[dirty_merged], "scratch.txt").write_text("local notes\n")
    blocked_issue = new_issue(hub_repo, "blocked one")
    scripted_agent(target_repo, tmp_path, [{"write": {"half-done.txt": "wip\n"}}, {"exit": 1}])
    blocked = run_issue(target_repo, blocked_issue)
    pol = policy_mod.load(target_repo)
    said = []
    result = Daemon(pol, tracker_for(pol), say=said.append).cycle()["cleanup"]
    assert result["removed"] == [paths[merged]]
    kept_merged = [m for m in said if m.startswith("kept merged worktree")]
    assert len(kept_merged) == 1 and paths[dirty_merged] in kept_merged[0]
    assert f"PR #{prs[dirty_merged]} merged" in kept_merged[0] and "uncommitted or untracked" in kept_merged[0]
    summary = next(m for m in said if m.startswith("kept 3 worktree(s)"))
    assert Path(paths[unmerged]).name in summary and "is not merged" in summary
    reasons = {k["path"]: k["reason"] for k in result["kept"]}
    assert reasons[paths[unmerged]].endswith("is not merged")
    assert reasons[paths[dirty_merged]] == "uncommitted or untracked changes"
    assert reasons[blocked["worktree"]["path"]] == "uncommitted or untracked changes"
    assert not Path(paths[merged]).exists() and Path(paths[dirty_merged]).exists()


def test_concurrency_runs_issues_side_by_side(target_repo, hub_repo, tmp_path):
    log = tmp_path / "overlap.log"
    scripted_agent(target_repo, tmp_path, [{"append": {str(log): "start $CODEX_ORCHESTRATOR_ISSUE_NUMBER\n"}},
                                           {"sleep": 1.5}, CHANGE,
                                           {"append": {str(log): "end $CODEX_ORCHESTRATOR_ISSUE_NUMBER\n"}},
                                           {"report": GOOD_REPORT}])
    numbers = [new_issue(hub_repo, f"parallel {n}") for n in range(2)]
    proc = subprocess.run([str(BIN / "cxo-daemon"), "--target", str(target_repo), "--once", "--concurrency", "2"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    events = log.read_text().split("\n")
    assert [e.split()[0] for e in events if e][:2] == ["start", "start"]  # both started before either ended
    for number in numbers:
        assert labels_of(hub_repo, number) == ["agent:auto", "agent:review"]
