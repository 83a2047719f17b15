"""Runs against a hub that fails 20% of API requests (errors and lost responses): no duplicate writes."""

import pytest

from cxo.github.claims import earliest_live, finished_runs, parse_claims
from cxo.runner import run_issue
from tests.support.git_fixtures import GOOD_REPORT, scripted_agent

R = "/repos/acme/widgets"


def test_thirty_runs_under_injected_faults_end_published_or_cleanly_blocked(target_repo, hub_repo, tmp_path,
                                                                            monkeypatch):
    monkeypatch.setenv("CXO_RETRY_BASE_SECONDS", "0.01")
    scripted_agent(target_repo, tmp_path, [{"write": {"CHANGE.md": "change\n"}}, {"report": GOOD_REPORT}])
    numbers = [hub_repo.api.ok("POST", f"{R}/issues", {"title": f"task {n}", "labels": ["agent:auto"]})["number"]
               for n in range(30)]
    hub_repo.api.admin("POST", "/_hub/faults", {"error_rate": 0.1, "drop_rate": 0.1, "seed": 7})
    outcomes = []
    for number in numbers:
        try:
            outcomes.append(run_issue(target_repo, number)["status"])
        except Exception as exc:  # a run may fail; it must not leave duplicates or a stranded claim
            outcomes.append(f"error: {exc}")
    hub_repo.api.admin("POST", "/_hub/faults", {})
    faults = hub_repo.api.admin("GET", "/_hub/stats")["faults"]
    assert faults["errors"] > 10 and faults["dropped"] > 5  # the faults really happened

    pulls = hub_repo.api.ok("GET", f"{R}/pulls?state=all&per_page=100")
    heads = [p["head"]["ref"] for p in pulls]
    assert len(heads) == len(set(heads))  # at most one PR per branch
    for number, outcome in zip(numbers, outcomes, strict=True):
        comments = hub_repo.api.ok("GET", f"{R}/issues/{number}/comments")
        labels = sorted(lab["name"] for lab in hub_repo.api.ok("GET", f"{R}/issues/{number}")["labels"])
        reports = sum("cxo:report-comment" in c["body"] for c in comments)
        blocked = sum("cxo:blocked" in c["body"] for c in comments)
        assert reports <= 1 and blocked <= 1
        assert len(parse_claims(comments)) == 1, f"#{number}: claim comments {len(parse_claims(comments))}"
        assert earliest_live(parse_claims(comments), finished=finished_runs(comments)) is None
        if outcome == "ok":
            assert labels == ["agent:auto", "agent:review"] and reports == 1
        else:
            assert labels == ["agent:auto", "agent:blocked"] and blocked == 1, (number, outcome, labels)
    assert outcomes.count("ok") >= 25, outcomes


@pytest.mark.parametrize("drop", [1.0])
def test_a_lost_claim_comment_is_found_not_posted_twice(target_repo, hub_repo, tmp_path, drop):
    from cxo import envelope
    from cxo import policy as policy_mod
    from cxo.steps import claim

    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "lossy", "labels": ["agent:auto"]})["number"]
    pol = policy_mod.load(target_repo)
    from cxo.connect import tracker_for

    tracker = tracker_for(pol)
    real_create = tracker.create_comment

    def lossy_create(n, body):
        hub_repo.api.admin("POST", "/_hub/faults", {"drop_rate": drop})
        try:
            return real_create(n, body)
        finally:
            hub_repo.api.admin("POST", "/_hub/faults", {})

    tracker.create_comment = lossy_create
    env = claim.run(envelope.new(target_repo, number), policy=pol, say=lambda m: None, tracker=tracker)
    assert env["status"] == "ok"
    assert len(parse_claims(hub_repo.api.ok("GET", f"{R}/issues/{number}/comments"))) == 1
