"""Feedback rounds that die or race: a SIGKILLed round resumed, two hosts on one round, a lost push."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.rounds.test_round_run import (
    RUNNER,
    R,
    branch_head,
    changes_requested,
    first_pr,
    labels_of,
    report,
    round_reports,
    round_script,
    runner,  # noqa: F401  (fixture)
)

BIN = Path(sys.executable).parent
KILL_POINTS = ["claim:after-label", "runner:after-claim", "runner:after-worktree", "runner:after-codex",
               "runner:after-gate", "round:after-commit", "round:after-push", "round:after-reply",
               "round:before-report", "round:after-report"]


def cxo_run_pr(target, pull, state=None, **env):
    extra = {"XDG_STATE_HOME": str(state)} if state else {}
    return subprocess.run([str(BIN / "cxo-run"), "--target", str(target), "--pr", str(pull)], capture_output=True,
                          text=True, timeout=180, env={**os.environ, "GITHUB_TOKEN": RUNNER, **extra, **env})


def round_actions(tmp_path, counter, ids, pause=0):
    actions = [{"append": {str(counter): "ran\n"}},
               {"append": {"app/calc.py": "\n\nproduct = multiply\n"}}]
    if pause:
        actions.append({"sleep": pause})
    return actions + [report(feedback=[{"id": i, "addressed": True, "note": "done"} for i in ids])]


def one_round(api, pull, first_sha, ids):
    """What one finished round leaves, whatever happened on the way: one round commit, one report, one reply
    per inline comment."""
    commits = [c["sha"] for c in api.ok("GET", f"{R}/pulls/{pull}/commits")]
    assert len(commits) == 2 and commits[0] == first_sha
    assert len(round_reports(api, pull)) == 1
    replies = [c["in_reply_to_id"] for c in api.ok("GET", f"{R}/pulls/{pull}/comments") if c.get("in_reply_to_id")]
    assert sorted(replies) == ids
    return commits[1]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_round_killed_anywhere_is_resumed_to_one_push_and_one_report(point, runner, hub_repo, tmp_path):  # noqa: F811
    api = hub_repo.api
    issue, pull, sha = first_pr(hub_repo, runner, tmp_path)
    changes_requested(api, pull, sha)
    ids = sorted(c["id"] for c in api.ok("GET", f"{R}/pulls/{pull}/comments"))
    counter = tmp_path / "seen" / "round-runs.txt"
    round_script(tmp_path, round_actions(tmp_path, counter, ids))

    killed = cxo_run_pr(runner, pull, CXO_TEST_KILL_AT=point)
    assert killed.returncode == -9, killed.stderr
    resumed = cxo_run_pr(runner, pull)
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(resumed.stdout)
    assert final["round"]["n"] == 1
    pushed = one_round(api, pull, sha, ids)
    assert final["publish"]["pushed_sha"] == pushed
    # A finished agent run is never repeated (only a claim-time death runs it on the resumed run).
    assert counter.read_text().count("ran") == 1
    assert labels_of(api, issue) == ["agent:auto", "agent:review"]
    # Nothing left: the handled feedback is recorded on GitHub.
    assert cxo_run_pr(runner, pull).returncode == 3


def test_two_hosts_racing_on_one_round_run_it_once(runner, hub_repo, tmp_path):  # noqa: F811
    api = hub_repo.api
    issue, pull, sha = first_pr(hub_repo, runner, tmp_path)
    changes_requested(api, pull, sha)
    ids = sorted(c["id"] for c in api.ok("GET", f"{R}/pulls/{pull}/comments"))
    counter = tmp_path / "seen" / "round-runs.txt"
    round_script(tmp_path, round_actions(tmp_path, counter, ids, pause=1))
    # A second host: its own clone and its own state directory; only GitHub is shared.
    other = tmp_path / "host-b"
    subprocess.run(["git", "clone", "-q", hub_repo.clone_url, str(other)], check=True)
    results = {}

    def host(name, target, state):
        results[name] = cxo_run_pr(target, pull, state)

    threads = [threading.Thread(target=host, args=("a", runner, None)),
               threading.Thread(target=host, args=("b", other, tmp_path / "state-b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.returncode for r in results.values())
    assert codes == [0, 3], [r.stderr for r in results.values()]
    one_round(api, pull, sha, ids)
    assert counter.read_text().count("ran") == 1
    assert labels_of(api, issue) == ["agent:auto", "agent:review"]


def test_a_branch_moved_during_the_round_is_never_forced(runner, hub_repo, tmp_path):  # noqa: F811
    """A human pushes while the round is under way (here: while it is down after committing): the round's
    fast-forward push is refused, the round ends blocked, and the human's commit stays the branch head."""
    api = hub_repo.api
    issue, pull, sha = first_pr(hub_repo, runner, tmp_path)
    api.ok("POST", f"{R}/issues/{pull}/comments", {"body": "@cxo rename multiply"}, token="as:carol")
    branch = api.ok("GET", f"{R}/pulls/{pull}")["head"]["ref"]
    round_script(tmp_path, [{"append": {"app/calc.py": "\n# renamed\n"}}, report()])
    assert cxo_run_pr(runner, pull, CXO_TEST_KILL_AT="round:after-commit").returncode == -9
    from cxo.gitutil import token_env

    human = tmp_path / "human"
    subprocess.run(["git", "clone", "-q", "-b", branch, hub_repo.clone_url, str(human)], check=True)
    (human / "LATE.md").write_text("late\n")
    subprocess.run(["git", "add", "-A"], cwd=human, check=True)
    subprocess.run(["git", "commit", "-qm", "late"], cwd=human, check=True)
    subprocess.run(["git", "push", "-q", "origin", branch], cwd=human, check=True,
                   env={**os.environ, **token_env("as:acme")})
    human_sha = branch_head(api, branch)

    resumed = cxo_run_pr(runner, pull)
    assert resumed.returncode == 3, resumed.stderr
    final = json.loads(resumed.stdout)
    assert final["blocked"]["step"] == "publish" and "publish failed" in final["blocked"]["reason"]
    assert branch_head(api, branch) == human_sha
    [rep] = round_reports(api, pull)
    assert "Blocked" in rep["body"]
    assert labels_of(api, issue) == ["agent:auto", "agent:blocked"]


def test_a_host_that_read_the_feedback_before_the_round_finished_withdraws(runner, hub_repo, tmp_path):  # noqa: F811
    """Host B read the PR before host A's round report, and claims after A finished: the claim listing shows A's
    finished claim of the same round, so B withdraws and writes nothing else."""
    from cxo import envelope
    from cxo import policy as policy_mod
    from cxo.connect import tracker_for
    from cxo.rounds.run import run_pull
    from cxo.steps import claim

    api = hub_repo.api
    issue, pull, sha = first_pr(hub_repo, runner, tmp_path)
    changes_requested(api, pull, sha)
    round_script(tmp_path, [{"append": {"app/calc.py": "\nproduct = multiply\n"}}, report()])
    done = run_pull(runner, pull)
    assert done["status"] == "ok", done.get("blocked")
    late = envelope.new(runner, issue)
    late["round"] = done["round"]  # what B read before A's report: the same round
    pol = policy_mod.load(runner)
    before = api.ok("GET", f"{R}/issues/{issue}/comments")
    env = claim.run(late, policy=pol, tracker=tracker_for(pol), say=lambda m: None)
    assert env["status"] == "blocked" and env["blocked"]["details"]["claimed"] is False
    assert "was done by another runner" in env["blocked"]["reason"]
    assert api.ok("GET", f"{R}/issues/{issue}/comments") == before  # its own claim comment was taken back
    assert labels_of(api, issue) == ["agent:auto", "agent:review"]
