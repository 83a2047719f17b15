"""A failing attempt is never published: over random pass/fail patterns of 2 or 3 attempts (Hypothesis, a few
examples, each a real best-of-N run on the hub), the run publishes iff some attempt passed, and what it pushed is
exactly a passing attempt's tree."""

import subprocess
from types import SimpleNamespace

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cxo.runner import run_issue
from tests.attempts.test_best_of import open_issue, pulls, seed, seeded_agent
from tests.support.git_fixtures import git


@example(pattern=[False, False])  # nothing passes: nothing published
@example(pattern=[True, False, True])  # a failing attempt between two passing ones
@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pattern=st.lists(st.booleans(), min_size=2, max_size=3))
def test_published_iff_an_attempt_passed_and_only_a_passing_attempts_tree(pattern, target_repo, hub_repo, tmp_path):
    seeds = tmp_path / "seeds"
    if not (tmp_path / "agent-script.json").exists():
        seeded_agent(target_repo, tmp_path, seeds)
    issue = open_issue(hub_repo, title=f"Add multiply {''.join('p' if p else 'f' for p in pattern)}")
    passing = [k for k, ok in enumerate(pattern, 1) if ok]
    seed(seeds, issue["number"], passing)
    final = run_issue(target_repo, issue["number"], args=SimpleNamespace(attempts=len(pattern)))

    items = final["attempts"]["items"]
    assert [i["passed"] for i in items] == pattern
    pull = next((p for p in pulls(hub_repo) if p["head"]["ref"] == final["worktree"]["branch"]), None)
    assert (pull is not None) == any(pattern) == (final["status"] == "ok")
    status, _, ref = hub_repo.api.call("GET", f"/repos/acme/widgets/git/ref/heads/{final['worktree']['branch']}")
    if not any(pattern):
        assert status == 404 and final["blocked"]["step"] == "run"
        return
    pushed = ref["object"]["sha"]
    assert pushed == final["publish"]["pushed_sha"]
    subprocess.run(["git", "fetch", "-q", hub_repo.clone_url, pushed], cwd=target_repo, check=True)
    pushed_tree = git(target_repo, "rev-parse", f"{pushed}^{{tree}}").strip()
    trees = {i["k"]: git(target_repo, "rev-parse", f"{i['branch']}^{{tree}}").strip() for i in items}
    winner = final["attempts"]["winner"]
    assert winner in passing and pushed_tree == trees[winner]
    # Every attempt wrote a different file: the pushed tree is no failing attempt's work.
    assert f"# attempt {winner}\n" in git(target_repo, "show", f"{pushed}:app/calc.py")
