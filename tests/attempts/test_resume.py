"""A best-of-N run killed (SIGKILL) part-way: resumed before it chose its attempt, it blocks with a clear reason;
resumed after, it publishes the chosen attempt once. Also the token budget shared by the attempts."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from cxo.runner import run_issue
from tests.attempts.test_best_of import calc, comments_of, labels_of, open_issue, pulls, seed, seeded_agent

BIN = Path(sys.executable).parent


def cxo_run(target, number, *extra, **env):
    return subprocess.run([str(BIN / "cxo-run"), "--target", str(target), "--issue", str(number), "--json", *extra],
                          capture_output=True, text=True, timeout=180, env={**os.environ, **env})


def test_killed_before_the_choice_the_resumed_run_blocks_saying_retry(target_repo, hub_repo, tmp_path):
    seeds = tmp_path / "seeds"
    seeded_agent(target_repo, tmp_path, seeds)
    number = open_issue(hub_repo)["number"]
    seed(seeds, number, [1, 2])
    killed = cxo_run(target_repo, number, "--attempts", "2", CXO_TEST_KILL_AT="runner:after-worktree")
    assert killed.returncode == -9, killed.stderr

    resumed = cxo_run(target_repo, number)  # no --attempts: the saved run says it is a best-of-N one
    assert resumed.returncode == 3, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["blocked"]["step"] == "run"
    assert summary["blocked"]["reason"].startswith("a best-of-N run was interrupted before it chose its attempt: retry")
    assert pulls(hub_repo) == []
    assert labels_of(hub_repo, number) == ["agent:auto", "agent:blocked"]
    assert sum("best-of-N run was interrupted" in b for b in comments_of(hub_repo, number)) == 1


def test_killed_after_the_choice_the_resumed_run_publishes_the_winner_once(target_repo, hub_repo, tmp_path):
    seeds = tmp_path / "seeds"
    seeded_agent(target_repo, tmp_path, seeds)
    number = open_issue(hub_repo)["number"]
    seed(seeds, number, [2])
    killed = cxo_run(target_repo, number, "--attempts", "2", CXO_TEST_KILL_AT="attempts:after-choice")
    assert killed.returncode == -9, killed.stderr
    assert pulls(hub_repo) == []

    resumed = cxo_run(target_repo, number)
    assert resumed.returncode == 0, resumed.stderr
    prs = pulls(hub_repo)
    assert len(prs) == 1 and "### Attempts (best of 2)" in prs[0]["body"]
    clone = tmp_path / "published"
    subprocess.run(["git", "clone", "-q", "-b", prs[0]["head"]["ref"], hub_repo.clone_url, str(clone)], check=True)
    assert (clone / "app" / "calc.py").read_text() == calc("    # attempt 2\n")
    assert labels_of(hub_repo, number) == ["agent:auto", "agent:review"]


def test_the_token_budget_is_split_between_the_attempts(target_repo, hub_repo, tmp_path):
    """codex.maxTokens 1,000 over 2 attempts: 500 each. An agent reporting 600 tokens is stopped at its share,
    though it would fit the whole budget; the usage marker counts both attempts."""
    usage = json.dumps({"usage": {"input_tokens": 400, "cached_input_tokens": 0, "output_tokens": 200}})
    seeds = tmp_path / "seeds"
    script = seeded_agent(target_repo, tmp_path, seeds, maxTokens=1000)
    actions = json.loads(script.read_text())
    script.write_text(json.dumps([{"stdout": usage}, {"sleep": 5}, *actions]))
    number = open_issue(hub_repo)["number"]
    seed(seeds, number, [1, 2])
    final = run_issue(target_repo, number, args=SimpleNamespace(attempts=2))

    assert final["status"] == "blocked"
    section = final["attempts"]
    assert (section["max_tokens"], section["max_tokens_each"]) == (1000, 500)
    for item in section["items"]:
        assert item["step"] == "codex" and "token budget exhausted (codex.maxTokens 500)" in item["reason"]
        assert item["reason"].endswith("A best-of-N attempt is not continued: its share of the budget is spent")
        assert item["usage"]["total_tokens"] == 600
    blocked = next(b for b in comments_of(hub_repo, number) if "cxo:blocked" in b)
    assert '"total_tokens":1200' in blocked  # the run's usage marker: both attempts' spend


def test_sigterm_during_the_attempts_stops_every_agent_and_ends_blocked(target_repo, hub_repo, tmp_path):
    """SIGTERM reaches the runner's main thread only: it stops the agents the attempt threads run (each in its own
    process group) and ends the run blocked, nothing published."""
    import time

    from tests.support.git_fixtures import GOOD_REPORT, scripted_agent

    started = tmp_path / "started"
    started.mkdir()
    scripted_agent(target_repo, tmp_path, [{"append": {str(started / "count"): "started\n"}}, {"sleep": 40},
                                           {"write": {"F.md": "done\n"}}, {"report": GOOD_REPORT}])
    number = open_issue(hub_repo)["number"]
    run = subprocess.Popen([str(BIN / "cxo-run"), "--target", str(target_repo), "--issue", str(number), "--json",
                            "--attempts", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        count = started / "count"
        while not count.exists() or count.read_text().count("started") < 2:  # both agents are running
            assert run.poll() is None, run.communicate()
            time.sleep(0.2)
        run.terminate()
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 3, err
    assert json.loads(out)["blocked"]["reason"].startswith("interrupted during the attempts (SIGINT/SIGTERM)")
    final = json.loads((Path(json.loads(out)["paths"]["run_dir"]) / "05-publish.json").read_text())
    items = final["attempts"]["items"]
    assert [i["step"] for i in items] == ["codex", "codex"]
    assert all("killed by signal" in i["reason"] for i in items), [i["reason"] for i in items]
    assert pulls(hub_repo) == [] and labels_of(hub_repo, number) == ["agent:auto", "agent:blocked"]
