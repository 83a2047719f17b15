"""The hub's workflow dispatch route (responses checked against GitHub's schema by the hub fixture)."""

import pytest

R = "/repos/acme/widgets/actions/workflows/cxo.yml/dispatches"


def test_a_dispatch_is_recorded_with_its_inputs_and_may_return_the_run(hub_repo):
    assert hub_repo.api.ok("POST", R, {"ref": "main", "inputs": {"tree": "7"}}) in (None, b"", "")
    details = hub_repo.api.ok("POST", R, {"ref": "main", "inputs": {"tree": 8}, "return_run_details": True})
    assert details["workflow_run_id"] == 2 and details["html_url"].endswith("/actions/runs/2")
    recorded = hub_repo.api.admin("GET", "/_hub/dispatches")
    assert [(d["workflow"], d["ref"], d["inputs"]) for d in recorded] == [
        ("cxo.yml", "main", {"tree": "7"}), ("cxo.yml", "main", {"tree": "8"})]


@pytest.mark.parametrize("body", [{}, {"ref": ""}, {"ref": "main", "inputs": {"x": {"nested": 1}}}])
def test_a_dispatch_without_a_ref_or_with_odd_inputs_is_refused(hub_repo, body):
    status, _body = hub_repo.api.call("POST", R, body)[:2]
    assert status == 422
    assert hub_repo.api.admin("GET", "/_hub/dispatches") == []
