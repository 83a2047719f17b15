"""The daemon runs feedback rounds like issues: one round per feedback, idle PRs cost no rate limit."""

from cxo import policy as policy_mod
from cxo.connect import tracker_for
from cxo.daemon import Daemon
from tests.rounds.test_round_run import (
    R,
    changes_requested,
    first_pr,
    labels_of,
    report,
    round_reports,
    round_script,
    runner,  # noqa: F401  (fixture)
)


def test_the_daemon_runs_a_round_once_then_polls_for_free(runner, hub_repo, tmp_path):  # noqa: F811
    api = hub_repo.api
    issue, pull, sha = first_pr(hub_repo, runner, tmp_path, feedback={"maxRounds": 1})
    pol = policy_mod.load(runner)
    said = []
    daemon = Daemon(pol, tracker_for(pol), say=said.append)
    assert daemon.cycle()["rounds"] == []  # no feedback yet
    changes_requested(api, pull, sha)
    round_script(tmp_path, [{"append": {"app/calc.py": "\nproduct = multiply\n"}}, report()])
    assert daemon.cycle()["rounds"] == [pull]
    assert any(f"PR #{pull}: review" in line for line in said), said
    assert len(round_reports(api, pull)) == 1
    assert labels_of(api, issue) == ["agent:auto", "agent:review"]
    # Handled: the next cycles run nothing and, once the ETags are known, cost no rate limit.
    assert daemon.cycle()["rounds"] == []
    before = api.admin("GET", "/_hub/stats")
    for _ in range(2):
        assert daemon.cycle()["rounds"] == []
    assert api.admin("GET", "/_hub/stats")["billable"] == before["billable"]
    # More feedback past feedback.maxRounds: the daemon has cxo say so once, then leaves the PR alone.
    api.ok("POST", f"{R}/issues/{pull}/comments", {"body": "@cxo once more"}, token="as:carol")
    assert daemon.cycle()["rounds"] == [pull]
    assert daemon.cycle()["rounds"] == []
    notices = [c for c in api.ok("GET", f"{R}/issues/{pull}/comments") if "cxo:feedback-stopped" in c["body"]]
    assert len(notices) == 1
