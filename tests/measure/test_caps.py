"""Spend caps (runner.budget) end to end: a real run spends tokens (the scripted agent reports them), the next new
issue is not started while the day's cap is reached (refused before the claim: nothing on GitHub changes), cxo-status
shows it skipped with the reason and when the cap resets, and with the clock past the reset (CXO_NOW, no sleeping)
it is started and runs to its PR."""

import json
from datetime import timedelta

from cxo import policy as policy_mod
from cxo.connect import tracker_for
from cxo.daemon import Daemon
from cxo.measure.clock import iso, parse
from cxo.measure.spend import USAGE
from cxo.runner import run_issue
from tests.e2e.test_run_auto import CHANGE, comments_of, labels_of, open_issue, run_exe
from tests.support.git_fixtures import GOOD_REPORT, scripted_agent

SPEND = {"stdout": json.dumps({"type": "turn.completed", "usage": {"input_tokens": 900, "cached_input_tokens": 0,
                                                                   "output_tokens": 300}})}


def test_an_issue_past_the_daily_token_cap_waits_for_the_reset_then_runs(target_repo, hub_repo, tmp_path,
                                                                          monkeypatch):
    scripted_agent(target_repo, tmp_path, [CHANGE, SPEND, {"report": GOOD_REPORT}],
                   extra_policy={"runner": {"budget": {"tokensPerDay": 1000, "tokensPerWeek": 100000}}})
    first = open_issue(hub_repo, title="Add multiply")["number"]
    done = run_issue(target_repo, first)
    assert done["publish"]["outcome"] == "review"
    # The spend as GitHub has it: the usage marker in the run's report comment.
    [marker] = [m for c in comments_of(hub_repo, first) for m in USAGE.findall(c["body"])]
    spent_at = parse(json.loads(marker)["at"])
    assert json.loads(marker)["total_tokens"] == 1200
    monkeypatch.setenv("CXO_NOW", iso(spent_at))  # the same UTC day, whenever the test runs
    reset = (spent_at + timedelta(days=1)).replace(hour=0, minute=0, second=0)

    second = open_issue(hub_repo, title="Add multiply again")["number"]
    status = run_exe("cxo-status", "--target", str(target_repo), "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    [held] = [item for item in data["skipped"] if item["number"] == second]
    assert held["reason"] == (f"spend cap reached: 1,200 of 1,000 tokens today (runner.budget.tokensPerDay); "
                              f"resets at {iso(reset)}")
    assert second not in [item["number"] for item in data["eligible"]]
    assert data["budget"]["spent"]["day"]["tokens"] == 1200 and data["budget"]["resets_at"] == iso(reset)
    table = run_exe("cxo-status", "--target", str(target_repo))
    assert f"resets at {iso(reset)}" in table.stdout and f"new issues wait until {iso(reset)}" in table.stdout

    refused = run_issue(target_repo, second)
    assert refused["status"] == "blocked" and refused["blocked"]["step"] == "claim"
    assert refused["blocked"]["reason"] == "not eligible: " + held["reason"]
    # Never half-run: no claim, no label moved, no comment.
    assert comments_of(hub_repo, second) == [] and labels_of(hub_repo, second) == ["agent:auto"]

    # The daemon holds it back too.
    pol = policy_mod.load(target_repo)
    cycle = Daemon(pol, tracker_for(pol), say=lambda m: None).cycle()
    assert cycle["paced"] == [second] and cycle["ran"] == []
    assert labels_of(hub_repo, second) == ["agent:auto"]

    # The next day (UTC) the cap has reset: the same issue starts and runs to its PR.
    monkeypatch.setenv("CXO_NOW", iso(reset + timedelta(seconds=1)))
    status = json.loads(run_exe("cxo-status", "--target", str(target_repo), "--json").stdout)
    assert second in [item["number"] for item in status["eligible"]] and status["budget"]["reached"] == []
    started = run_issue(target_repo, second)
    assert started["status"] == "ok" and started["publish"]["outcome"] == "review"
    assert labels_of(hub_repo, second) == ["agent:auto", "agent:review"]


def test_a_cost_cap_without_prices_is_one_line_and_exit_2(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"report": GOOD_REPORT}],
                   extra_policy={"runner": {"budget": {"costPerDay": 5}}})
    open_issue(hub_repo)
    proc = run_exe("cxo-status", "--target", str(target_repo))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "runner.budget.costPerDay/costPerWeek need runner.prices" in proc.stderr


def test_a_bad_clock_is_one_line_and_exit_2(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"report": GOOD_REPORT}],
                   extra_policy={"runner": {"budget": {"tokensPerDay": 1000}}})
    proc = run_exe("cxo-status", "--target", str(target_repo), env={"CXO_NOW": "tomorrow"})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "CXO_NOW='tomorrow'" in proc.stderr
