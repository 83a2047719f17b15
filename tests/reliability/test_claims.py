"""Race-safe claims with GitHub as the only coordinator: racing runners, stale leases, heartbeats."""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cxo.github.claims import claim_comment, make_claim, parse_claims
from cxo.runner import run_issue
from tests.support.git_fixtures import GOOD_REPORT, git, scripted_agent, write_policy

BIN = Path(sys.executable).parent
R = "/repos/acme/widgets"


def test_eight_racing_runners_make_one_agent_run_one_pr_one_report(hub_repo, tmp_path):
    counter = tmp_path / "agent-runs.txt"
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Race me", "labels": ["agent:auto"]})["number"]
    procs = []
    for n in range(8):
        clone = tmp_path / f"runner-{n}"
        git(tmp_path, "clone", "-q", hub_repo.clone_url, str(clone))
        write_policy(clone, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url},
                             "runner": {"name": f"runner-{n}"}})
        (tmp_path / f"script-{n}").mkdir()
        scripted_agent(clone, tmp_path / f"script-{n}", [{"append": {str(counter): "ran\n"}},
                                                         {"write": {"RACE.md": "won\n"}}, {"report": GOOD_REPORT}])
        env = {**os.environ, "GITHUB_TOKEN": hub_repo.token, "CXO_STATE_DIR": str(tmp_path / f"state-{n}")}
        procs.append(subprocess.Popen([str(BIN / "cxo-run"), "--target", str(clone), "--issue", str(number)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    codes = [p.wait(timeout=180) for p in procs]
    assert sorted(codes) == [0] + [3] * 7, [p.stderr.read()[-500:] for p in procs]
    assert counter.read_text() == "ran\n"
    assert len(hub_repo.api.ok("GET", f"{R}/pulls?state=all")) == 1
    comments = hub_repo.api.ok("GET", f"{R}/issues/{number}/comments")
    assert sum("cxo:report-comment" in c["body"] for c in comments) == 1
    assert len(parse_claims(comments)) == 1  # the losers withdrew theirs
    assert not any("cxo:blocked" in c["body"] for c in comments)
    labels = sorted(lab["name"] for lab in hub_repo.api.ok("GET", f"{R}/issues/{number}")["labels"])
    assert labels == ["agent:auto", "agent:review"]


def stranded_issue(hub_repo, lease_offset: timedelta) -> int:
    """An issue left agent:running by a runner on another host, whose lease ends at now + lease_offset."""
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Stranded",
                                                      "labels": ["agent:auto", "agent:running"]})["number"]
    claimed_at = datetime.now(UTC) - timedelta(hours=1)
    seconds = int((datetime.now(UTC) + lease_offset - claimed_at).total_seconds())
    dead = make_claim("20260101T000000Z-dead00", "crashed-host", "crashed-host", 1, seconds, claimed_at)
    hub_repo.api.ok("POST", f"{R}/issues/{number}/comments", {"body": claim_comment(dead)})
    return number


def test_a_stale_claim_is_taken_over_and_recorded(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"write": {"X.md": "x\n"}}, {"report": GOOD_REPORT}])
    number = stranded_issue(hub_repo, timedelta(minutes=-5))
    final = run_issue(target_repo, number)
    assert final["status"] == "ok", final.get("blocked")
    claims = parse_claims(hub_repo.api.ok("GET", f"{R}/issues/{number}/comments"))
    assert [c["run_id"] for c in claims] == ["20260101T000000Z-dead00", final["run_id"]]
    bodies = [c["body"] for c in hub_repo.api.ok("GET", f"{R}/issues/{number}/comments")]
    assert any("Took over from run `20260101T000000Z-dead00`" in b for b in bodies)


def test_a_live_claim_is_not_taken_over(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"write": {"X.md": "x\n"}}, {"report": GOOD_REPORT}])
    number = stranded_issue(hub_repo, timedelta(minutes=10))
    writes = hub_repo.api.admin("GET", "/_hub/stats")["writes"]
    final = run_issue(target_repo, number)
    assert final["status"] == "blocked" and final["blocked"]["reason"].startswith("not eligible: running")
    assert hub_repo.api.admin("GET", "/_hub/stats")["writes"] == writes


def test_a_live_run_renews_its_lease(target_repo, hub_repo, tmp_path):
    policy = {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url}, "runner": {"leaseSeconds": 30}}
    write_policy(target_repo, policy)
    scripted_agent(target_repo, tmp_path, [{"sleep": 12}, {"write": {"X.md": "x\n"}}, {"report": GOOD_REPORT}])
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Slow", "labels": ["agent:auto"]})["number"]
    started = time.monotonic()
    final = run_issue(target_repo, number)
    assert final["status"] == "ok" and time.monotonic() - started >= 12
    claim = parse_claims(hub_repo.api.ok("GET", f"{R}/issues/{number}/comments"))[0]
    assert claim["lease_expires_at"] > final["claim"]["lease_expires_at"]  # renewed while the agent ran


def test_four_daemons_share_twenty_issues_and_run_each_exactly_once(hub_repo, tmp_path):
    counter = tmp_path / "agent-runs.txt"
    numbers = [hub_repo.api.ok("POST", f"{R}/issues", {"title": f"job {n}", "labels": ["agent:auto"]})["number"]
               for n in range(20)]
    # One repository, one policy (read from its main branch), four hosts with their own clone and state.
    (tmp_path / "script").mkdir()
    procs = []
    for n in range(4):
        clone = tmp_path / f"host-{n}"
        git(tmp_path, "clone", "-q", hub_repo.clone_url, str(clone))
        if n == 0:
            write_policy(clone, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url}})
            scripted_agent(clone, tmp_path / "script", [
                {"append": {str(counter): "$CODEX_ORCHESTRATOR_ISSUE_NUMBER\n"}},
                {"write": {"JOB.md": "$CODEX_ORCHESTRATOR_ISSUE_NUMBER\n"}}, {"report": GOOD_REPORT}])
    for n in range(4):
        clone = tmp_path / f"host-{n}"
        git(clone, "pull", "-q", "--ff-only")
        env = {**os.environ, "GITHUB_TOKEN": hub_repo.token, "CXO_STATE_DIR": str(tmp_path / f"state-{n}")}
        procs.append(subprocess.Popen([str(BIN / "cxo-daemon"), "--target", str(clone), "--once"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read()[-800:]
    ran = counter.read_text().split()
    assert sorted(map(int, ran)) == numbers  # every issue ran, and none twice
    pulls = hub_repo.api.ok("GET", f"{R}/pulls?state=all&per_page=100")
    assert len(pulls) == 20
    for number in numbers:
        labels = sorted(lab["name"] for lab in hub_repo.api.ok("GET", f"{R}/issues/{number}")["labels"])
        assert labels == ["agent:auto", "agent:review"]


def status_reasons(target):
    from cxo import policy as policy_mod
    from cxo.status import collect

    result = collect(policy_mod.load(target))
    return ({i["number"]: i["reason"] for i in result["eligible"]},
            {i["number"]: i["reason"] for i in result["skipped"]})


def test_a_fresh_running_label_without_a_claim_is_skipped_by_status_and_refused_by_run(target_repo, hub_repo,
                                                                                       tmp_path):
    scripted_agent(target_repo, tmp_path, [{"write": {"X.md": "x\n"}}, {"report": GOOD_REPORT}])
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Being claimed",
                                                      "labels": ["agent:auto", "agent:running"]})["number"]
    eligible, skipped = status_reasons(target_repo)
    assert number not in eligible and "without a claim yet" in skipped[number]
    writes = hub_repo.api.admin("GET", "/_hub/stats")["writes"]
    final = run_issue(target_repo, number)
    assert final["status"] == "blocked" and "without a claim yet" in final["blocked"]["reason"]
    assert hub_repo.api.admin("GET", "/_hub/stats")["writes"] == writes


def test_an_old_running_label_without_a_claim_is_eligible_in_status_and_taken_over_by_run(target_repo, hub, hub_repo,
                                                                                          tmp_path):
    scripted_agent(target_repo, tmp_path, [{"write": {"X.md": "x\n"}}, {"report": GOOD_REPORT}])
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Left running",
                                                      "labels": ["agent:auto", "agent:running"]})["number"]
    hub.hub.store.run("UPDATE issues SET updated_at = ? WHERE number = ?", "2020-01-01T00:00:00Z", number)
    eligible, skipped = status_reasons(target_repo)
    assert number not in skipped and "without a claim, unchanged since 2020-01-01T00:00:00Z" in eligible[number]
    final = run_issue(target_repo, number)
    assert final["status"] == "ok", final.get("blocked")
    bodies = [c["body"] for c in hub_repo.api.ok("GET", f"{R}/issues/{number}/comments")]
    assert any("left agent:running without a claim" in b for b in bodies)


def test_status_and_run_agree_on_expired_and_live_claims(target_repo, hub_repo, tmp_path):
    expired = stranded_issue(hub_repo, timedelta(minutes=-5))
    live = stranded_issue(hub_repo, timedelta(minutes=10))
    eligible, skipped = status_reasons(target_repo)
    assert "lease expired" in eligible[expired]
    assert "holds the claim until" in skipped[live] and live not in eligible
