"""The generated workflow's matrix carries every kind of work cxo-status lists: a cxo PR with review feedback
waiting becomes a matrix entry (the `pull_request_review` trigger), and its job runs the PR's round."""

from tests.rounds.test_round_run import RUNNER, changes_requested, first_pr, round_reports, round_script, runner  # noqa: F401
from tests.support import actions_player
from tests.support.git_fixtures import GOOD_REPORT, git


def test_feedback_waiting_on_a_cxo_pr_is_a_matrix_entry_whose_job_runs_the_round(runner, hub_repo,  # noqa: F811
                                                                                   tmp_path):
    issue, pull, sha = first_pr(hub_repo, runner, tmp_path)
    job1 = tmp_path / "job1"
    git(tmp_path, "clone", "-q", hub_repo.clone_url, str(job1))
    assert actions_player.list_matrix(job1, RUNNER, hub_repo.url, tmp_path / "t0") == []  # in review, nothing new
    changes_requested(hub_repo.api, pull, sha)
    round_script(tmp_path, [{"write": {"ROUND.md": "as asked\n"}}, {"report": GOOD_REPORT}])
    assert actions_player.list_matrix(job1, RUNNER, hub_repo.url, tmp_path / "t1") == [issue]
    result = actions_player.run_entry(issue, hub_repo.clone_url, RUNNER, hub_repo.url, tmp_path / "runners")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(round_reports(hub_repo.api, pull)) == 1
    assert actions_player.list_matrix(job1, RUNNER, hub_repo.url, tmp_path / "t2") == []  # handled once
