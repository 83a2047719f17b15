"""agent.network through the real pipeline: allowlist reaches a listed loopback server through the runner's proxy and
is refused the hub (the runner's own loopback service), refused hosts are listed in the PR report; none reaches
nothing; open is today's network with a warning in the report."""

import shlex
from pathlib import Path

import pytest

from cxo.runner import run_issue
from tests.support.git_fixtures import GOOD_REPORT, scripted_agent
from tests.support.http_servers import hello_server

R = "/repos/acme/widgets"


@pytest.fixture
def allowed_server():
    with hello_server() as port:
        yield f"127.0.0.1:{port}"


def fetch(url: str) -> str:
    """A shell line for the agent: fetch `url` with Python's urllib (which honours HTTP_PROXY), print the outcome."""
    code = ("import sys, urllib.request\ntry:\n    print('GOT', urllib.request.urlopen(sys.argv[1], timeout=10).read()"
            ".decode().strip())\nexcept Exception as exc:\n    print('FAILED', type(exc).__name__, exc)")
    return f"python3 -c {shlex.quote(code)} {url}"


def attempt(target, hub_repo, tmp_path, allowed_server, network):
    loot = "\"$(dirname \"$CODEX_ORCHESTRATOR_REPORT_FILE\")/net.txt\""
    script = [{"sh": f"( {fetch('http://' + allowed_server + '/')}; {fetch(hub_repo.url + '/rate_limit')} ) "
                     f"> {loot} 2>&1"}, {"write": {"NET.md": "x\n"}}, {"report": GOOD_REPORT}]
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": f"Net {network}", "labels": ["agent:auto"]})["number"]
    scripted_agent(target, tmp_path, script, extra_policy={
        "agent": {"network": network, "allowHosts": [allowed_server]},
        "reviewGates": {"quality": {"enabled": False}}})
    final = run_issue(target, number)
    lines = (Path(final["codex"]["report_path"]).parent / "net.txt").read_text().splitlines()
    return final, lines


def test_allowlist_reaches_a_listed_host_only_and_the_report_names_the_refused(target_repo, hub_repo, tmp_path,
                                                                              allowed_server):
    final, lines = attempt(target_repo, hub_repo, tmp_path, allowed_server, "allowlist")
    assert lines[0] == f"GOT hello from {allowed_server.split(':')[1]}", lines
    assert lines[1].startswith("FAILED") and "403" in lines[1], lines  # the hub: the runner's loopback service
    assert final["status"] == "ok", final.get("blocked")
    record = final["codex"]["network"]
    hub_port = int(hub_repo.url.rsplit(":", 1)[1])
    assert any(r["port"] == hub_port for r in record["refused"]), record
    assert allowed_server in " ".join(record["allowed"]), record
    body = hub_repo.api.ok("GET", f"{R}/pulls/{final['publish']['pull_request']['number']}")["body"]
    assert "host(s) refused" in body and f"127.0.0.1:{hub_port}" in body


def test_none_reaches_nothing(target_repo, hub_repo, tmp_path, allowed_server):
    final, lines = attempt(target_repo, hub_repo, tmp_path, allowed_server, "none")
    assert all(line.startswith("FAILED") for line in lines[:2]), lines
    assert final["codex"]["network"] is None


def test_open_is_the_runners_network_with_a_warning_in_the_report(target_repo, hub_repo, tmp_path, allowed_server):
    final, lines = attempt(target_repo, hub_repo, tmp_path, allowed_server, "open")
    assert lines[0] == f"GOT hello from {allowed_server.split(':')[1]}" and lines[1].startswith("GOT"), lines
    body = hub_repo.api.ok("GET", f"{R}/pulls/{final['publish']['pull_request']['number']}")["body"]
    assert "Network: open" in body


def test_a_proxy_that_cannot_start_fails_the_run_before_the_agent(target_repo, hub_repo, tmp_path, allowed_server,
                                                                   monkeypatch):
    from cxo.agents.sandbox import egress

    def broken(*args, **kwargs):
        raise egress.EgressError("the proxy exited at once (test)")

    monkeypatch.setattr(egress, "start", broken)
    marker = tmp_path / "agent-ran"
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "No proxy", "labels": ["agent:auto"]})["number"]
    scripted_agent(target_repo, tmp_path, [{"append": {str(marker): "ran\n"}}, {"report": GOOD_REPORT}])
    final = run_issue(target_repo, number)
    assert final["status"] == "blocked" and "proxy" in final["blocked"]["reason"], final.get("blocked")
    assert not marker.exists(), "the agent ran without its proxy"
