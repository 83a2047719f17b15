"""PR upkeep in the poll (lib/cxo/rounds/upkeep.py): the daemon runs an update round when a cxo PR's base moved
into conflict and a CI fix round when a trusted check failed; cxo-status says why; an idle poll is free."""

from cxo import policy as policy_mod
from cxo import status
from cxo.connect import tracker_for
from cxo.daemon import Daemon
from tests.rounds.test_ci_rounds import check_run, ci_reports
from tests.rounds.test_round_run import first_pr, report, round_script, runner
from tests.rounds.test_update_rounds import RESOLVED, conflicting_base, update_reports

__all__ = ["runner"]


def test_the_daemon_keeps_a_pr_mergeable_and_green_and_idles_for_free(runner, hub_repo, tmp_path):
    api = hub_repo.api
    issue, pull, sha = first_pr(hub_repo, runner, tmp_path)
    pol = policy_mod.load(runner)
    daemon = Daemon(pol, tracker_for(pol), say=lambda line: None)
    assert daemon.cycle()["rounds"] == []
    # The base moves into conflict: cxo-status says so, the daemon runs the update round.
    conflicting_base(hub_repo, tmp_path)
    [item] = status.collect(pol)["feedback"]
    assert item["eligible"] and item["reason"] == "the base moved: 1 file(s) in conflict"
    assert {"kind": "round", "number": issue, "pull": pull} in status.collect(pol)["work"]
    round_script(tmp_path, [{"write": {"app/calc.py": RESOLVED}}, report(summary="merged")])
    assert daemon.cycle()["rounds"] == [pull]
    assert len(update_reports(api, pull)) == 1
    # Then Actions fails on the new head: a CI fix round.
    head = api.ok("GET", f"/repos/acme/widgets/pulls/{pull}")["head"]["sha"]
    check_run(api, head, "tests", "failure")
    round_script(tmp_path, [{"append": {"app/calc.py": "\nproduct = multiply\n"}}, report(summary="fixed")])
    assert daemon.cycle()["rounds"] == [pull]
    assert len(ci_reports(api, pull)) == 1
    # Nothing moves any more: the next cycles start nothing and, once the ETags are known, cost no rate limit.
    new_head = api.ok("GET", f"/repos/acme/widgets/pulls/{pull}")["head"]["sha"]
    check_run(api, new_head, "tests", "success")
    assert daemon.cycle()["rounds"] == []
    before = api.admin("GET", "/_hub/stats")
    for _ in range(2):
        assert daemon.cycle()["rounds"] == []
    assert api.admin("GET", "/_hub/stats")["billable"] == before["billable"]
