"""A runner SIGKILLed at any point: the next `cxo-run --issue N` resumes and ends consistent."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.git_fixtures import GOOD_REPORT, scripted_agent

BIN = Path(sys.executable).parent
R = "/repos/acme/widgets"
# (kill point, agent runs expected in total)
KILL_POINTS = [
    ("claim:after-label", 1), ("runner:after-claim", 1), ("runner:after-worktree", 1), ("agent", 2),
    ("runner:after-codex", 1), ("runner:after-gate", 1), ("publish:after-commit", 1), ("publish:after-push", 1),
    ("publish:after-pr", 1), ("publish:after-add-label", 1), ("publish:after-labels", 1),
]


def cxo_run(target, number, **env):
    return subprocess.run([str(BIN / "cxo-run"), "--target", str(target), "--issue", str(number)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **env})


@pytest.mark.parametrize("point,agent_runs", KILL_POINTS, ids=[p for p, _ in KILL_POINTS])
def test_a_killed_run_is_resumed_to_one_pr_one_report_and_consistent_labels(point, agent_runs, target_repo,
                                                                              hub_repo, tmp_path):
    counter = tmp_path / "agent-runs.txt"
    actions = [{"append": {str(counter): "ran\n"}}, {"write": {"FEATURE.md": "done\n"}}, {"report": GOOD_REPORT}]
    if point == "agent":
        actions.insert(1, {"pause_once": str(tmp_path / "paused-once")})
    scripted_agent(target_repo, tmp_path, actions)
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Survive", "labels": ["agent:auto"]})["number"]

    killed = cxo_run(target_repo, number, CXO_TEST_KILL_AT=point)
    assert killed.returncode == -9, killed.stderr
    resumed = cxo_run(target_repo, number)
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(resumed.stdout)

    assert counter.read_text().count("ran") == agent_runs
    pulls = hub_repo.api.ok("GET", f"{R}/pulls?state=all")
    assert [p["head"]["ref"] for p in pulls] == [final["worktree"]["branch"]]
    comments = hub_repo.api.ok("GET", f"{R}/issues/{number}/comments")
    assert sum("cxo:report-comment" in c["body"] for c in comments) == 1
    assert not any("cxo:blocked" in c["body"] for c in comments)
    labels = sorted(lab["name"] for lab in hub_repo.api.ok("GET", f"{R}/issues/{number}")["labels"])
    assert labels == ["agent:auto", "agent:review"]


def test_restart_starts_a_fresh_run_and_releases_the_old_claim(target_repo, hub_repo, tmp_path):
    counter = tmp_path / "agent-runs.txt"
    scripted_agent(target_repo, tmp_path, [{"append": {str(counter): "ran\n"}}, {"write": {"F.md": "x\n"}},
                                           {"report": GOOD_REPORT}])
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Again", "labels": ["agent:auto"]})["number"]
    assert cxo_run(target_repo, number, CXO_TEST_KILL_AT="runner:after-codex").returncode == -9
    # The worktree of the killed run is still there with the agent's work: a restart is a fresh attempt that
    # keeps it aside on a local branch, by itself (no git worktree remove or branch -D by hand).
    restarted = subprocess.run([str(BIN / "cxo-run"), "--target", str(target_repo), "--issue", str(number),
                                "--restart"], capture_output=True, text=True, timeout=120)
    assert restarted.returncode == 0, restarted.stderr
    assert counter.read_text().count("ran") == 2
    assert "released the claim" in restarted.stderr
    kept = f"agent/issue-{number}-again-attempt-1"
    assert f"kept the earlier attempt's work on local branch {kept}" in restarted.stderr
    shown = subprocess.run(["git", "show", f"{kept}:F.md"], cwd=target_repo, capture_output=True, text=True)
    assert shown.stdout == "x\n", shown.stderr  # the earlier attempt's uncommitted file, committed aside
