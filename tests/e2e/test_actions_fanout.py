"""The generated cxo.yml played with its own commands: job 1 lists the matrix, job 2 fans it out over 4 runners."""

from tests.support import actions_player
from tests.support.git_fixtures import GOOD_REPORT, git, scripted_agent, write_policy

R = "/repos/acme/widgets"


def labels_of(hub_repo, number):
    return sorted(lab["name"] for lab in hub_repo.api.ok("GET", f"{R}/issues/{number}")["labels"])


def test_the_workflow_runs_every_eligible_issue_once_on_four_runners(hub_repo, tmp_path):
    counter = tmp_path / "counter" / "agent-runs.txt"
    counter.parent.mkdir()
    eligible = [hub_repo.api.ok("POST", f"{R}/issues", {"title": f"job {n}", "labels": ["agent:auto"]})["number"]
                for n in range(8)]
    unlabelled = hub_repo.api.ok("POST", f"{R}/issues", {"title": "not for cxo"})["number"]
    blocked = hub_repo.api.ok("POST", f"{R}/issues", {"title": "blocked",
                                                       "labels": ["agent:auto", "agent:blocked"]})["number"]
    # The maintainer's checkout: one policy, pushed once; every runner checks out main with it.
    maintainer = tmp_path / "maintainer"
    git(tmp_path, "clone", "-q", hub_repo.clone_url, str(maintainer))
    write_policy(maintainer, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url}})
    (tmp_path / "script").mkdir()
    scripted_agent(maintainer, tmp_path / "script", [
        {"append": {str(counter): "$CODEX_ORCHESTRATOR_ISSUE_NUMBER\n"}},
        {"write": {"JOB.md": "$CODEX_ORCHESTRATOR_ISSUE_NUMBER\n"}}, {"report": GOOD_REPORT}])
    job1 = tmp_path / "job1"
    git(tmp_path, "clone", "-q", hub_repo.clone_url, str(job1))

    results = actions_player.play(job1, hub_repo.clone_url, hub_repo.token, hub_repo.url, tmp_path / "runners", 4)

    assert sorted(r.issue for r in results) == eligible  # the matrix: the eligible issues, nothing else
    for result in results:
        assert result.returncode == 0, result.stderr[-1500:]
    assert sorted(map(int, counter.read_text().split())) == eligible  # each ran, none twice
    pulls = hub_repo.api.ok("GET", f"{R}/pulls?state=all&per_page=100")
    assert len(pulls) == len(eligible)
    for result in results:
        number = result.issue
        (pull,) = [p for p in pulls if p["head"]["ref"].startswith(f"agent/issue-{number}-")]
        assert labels_of(hub_repo, number) == ["agent:auto", "agent:review"]
        # This runner's own GITHUB_OUTPUT and step summary, written by cxo-run.
        assert result.outputs["status"] == "ok" and result.outputs["issue"] == str(number)
        assert result.outputs["pr-url"] == pull["html_url"] and pull["html_url"]
        assert f"cxo review report for #{number}" in result.summary and pull["html_url"] in result.summary
        # What the upload step would upload: the run's state in this runner's RUNNER_TEMP.
        assert result.artifact.is_relative_to(result.runner_temp)
        assert any(result.artifact.glob(f"runs/{number}/*/05-publish.json")), sorted(result.artifact.rglob("*"))
    assert labels_of(hub_repo, unlabelled) == []
    assert labels_of(hub_repo, blocked) == ["agent:auto", "agent:blocked"]
    assert not any(p["head"]["ref"].startswith((f"agent/issue-{unlabelled}-", f"agent/issue-{blocked}-"))
                   for p in pulls)


def test_a_dispatched_issue_number_is_the_whole_matrix_and_a_non_number_fails_job_one(hub_repo, tmp_path):
    clone = tmp_path / "job1"
    git(tmp_path, "clone", "-q", hub_repo.clone_url, str(clone))
    write_policy(clone, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url}})
    assert actions_player.list_matrix(clone, hub_repo.token, hub_repo.url, tmp_path / "t1", requested="7") == [7]
    try:
        actions_player.list_matrix(clone, hub_repo.token, hub_repo.url, tmp_path / "t2", requested="7; id")
    except AssertionError as err:
        assert "issue must be a number" in str(err)
    else:
        raise AssertionError("job 1 accepted a non-number")
