"""Fixtures for the feedback tests: the runner with a login of its own."""

import pytest

from cxo import policy as policy_mod
from cxo.connect import tracker_for

R = "/repos/acme/widgets"
RUNNER = "as:cxo-runner"


@pytest.fixture
def runner_env(target_repo, hub_repo, monkeypatch):
    """The runner uses its own login (cxo-runner, a collaborator); acme is the repository's owner."""
    monkeypatch.setenv("GITHUB_TOKEN", RUNNER)
    hub_repo.api.ok("PUT", f"{R}/collaborators/cxo-runner", {})
    hub_repo.api.ok("PUT", f"{R}/collaborators/carol", {})
    pol = policy_mod.load(target_repo)
    return pol, tracker_for(pol)
