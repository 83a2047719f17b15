"""Where the sandbox cannot start, cxo refuses to run an agent (before any write) and says why and what to do;
with agent.isolation: none it runs, and cxo-health and the report say so."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.git_fixtures import GOOD_REPORT, scripted_agent

BIN = Path(sys.executable).parent
R = "/repos/acme/widgets"


def exe(name, *args, env=None):
    return subprocess.run([str(BIN / name), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GITHUB_TOKEN": "as:acme", **(env or {})})


def test_a_sandbox_that_cannot_start_refuses_the_run_before_any_write(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"write": {"X.md": "x\n"}}, {"report": GOOD_REPORT}])
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "x", "labels": ["agent:auto"]})["number"]
    before = hub_repo.api.admin("GET", "/_hub/stats")["writes"]
    broken = {"CXO_BWRAP": "/bin/false"}  # a bwrap that fails, as under Ubuntu 24.04's AppArmor rule
    out = exe("cxo-run", "--target", str(target_repo), "--issue", str(number), env=broken)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "sandbox (bubblewrap) cannot start" in out.stderr and "apparmor" in out.stderr.lower()
    assert "agent.isolation: none" in out.stderr
    assert hub_repo.api.admin("GET", "/_hub/stats")["writes"] == before
    health = exe("cxo-health", "--target", str(target_repo), env=broken)
    assert health.returncode == 1 and "sandbox" in health.stdout and "FAIL" in health.stdout


def test_isolation_none_runs_and_says_so_in_health_and_the_report(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"write": {"X.md": "x\n"}}, {"report": GOOD_REPORT}],
                   extra_policy={"agent": {"isolation": "none"}})
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "x", "labels": ["agent:auto"]})["number"]
    health = exe("cxo-health", "--target", str(target_repo))
    assert "WITHOUT a sandbox" in health.stdout
    out = exe("cxo-run", "--target", str(target_repo), "--issue", str(number))
    assert out.returncode == 0, out.stderr
    pr = hub_repo.api.ok("GET", f"{R}/pulls")[0]
    assert "Isolation: none" in pr["body"]


def test_an_agent_installed_under_tmp_is_refused_with_the_fix_before_any_write(target_repo, hub_repo, tmp_path):
    """The sandbox's /tmp is private and empty: an agent command under /tmp (here a venv-like launcher in the
    test's tmp_path) could only fail obscurely inside it, so cxo names it and the fix instead."""
    from tests.support.git_fixtures import write_policy

    assert str(tmp_path).startswith("/tmp/")
    launcher = tmp_path / "tools" / "agent"
    launcher.parent.mkdir()
    launcher.write_text("#!/bin/sh\nexit 0\n")
    launcher.chmod(0o755)
    write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url},
                               "codex": {"command": str(launcher), "args": []}})
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "x", "labels": ["agent:auto"]})["number"]
    before = hub_repo.api.admin("GET", "/_hub/stats")["writes"]
    out = exe("cxo-run", "--target", str(target_repo), "--issue", str(number))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert f"codex.command: {launcher} is under /tmp" in out.stderr and "agent.readPaths" in out.stderr
    assert hub_repo.api.admin("GET", "/_hub/stats")["writes"] == before
    # Shown to the sandbox through agent.readPaths, the same agent is accepted (and runs).
    write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url},
                               "codex": {"command": str(launcher), "args": []},
                               "agent": {"readPaths": [str(launcher.parent)]}})
    out = exe("cxo-run", "--target", str(target_repo), "--issue", str(number))
    assert "is under /tmp" not in out.stderr and "agent finished with status 0" in out.stderr, out.stderr
