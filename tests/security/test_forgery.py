"""Forged claims, edited envelopes and option injection from data: none of them moves cxo."""

import json
import os
import subprocess
import sys
from pathlib import Path

from cxo import policy as policy_mod
from cxo.github.claims import claim_comment, done_marker, make_claim
from cxo.runner import run_issue
from tests.support.git_fixtures import GOOD_REPORT, scripted_agent, write_policy

BIN = Path(sys.executable).parent
R = "/repos/acme/widgets"
CHANGE = {"write": {"NOTES.md": "work\n"}}


def exe(name, *args, stdin=None, env=None):
    return subprocess.run([str(BIN / name), *args], input=stdin, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GITHUB_TOKEN": "as:acme", **(env or {})})


def test_claim_and_done_markers_written_by_anyone_but_a_runner_change_nothing(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}])
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Forged", "labels": ["agent:auto"]})["number"]
    forged = make_claim("20990101T000000Z-abcdef", "mallory-runner", "evil", 1, 86400)
    # A stranger freezes the issue with a live-looking claim and tries to end any run with a done marker.
    hub_repo.api.ok("POST", f"{R}/issues/{number}/comments", {"body": claim_comment(forged)}, token="as:mallory")
    final = run_issue(target_repo, number)
    assert final["status"] == "ok", final.get("blocked")
    assert final["publish"]["pull_request"]["draft"] is True
    hub_repo.api.ok("POST", f"{R}/issues/{number}/comments", {"body": done_marker(final["run_id"])},
                    token="as:mallory")
    labels = sorted(lab["name"] for lab in hub_repo.api.ok("GET", f"{R}/issues/{number}")["labels"])
    assert labels == ["agent:auto", "agent:review"]


def test_an_envelope_edited_to_point_at_another_issue_is_refused_before_any_write(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}])
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Real", "labels": ["agent:auto"]})["number"]
    victim = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Victim", "labels": []})["number"]
    final = run_issue(target_repo, number)
    assert final["status"] == "ok", final.get("blocked")
    run_dir = policy_mod.load(target_repo).state_dir / "runs" / str(number) / final["run_id"]
    saved = json.loads((run_dir / "04-gate.json").read_text())
    for edit in ({"issue": {"number": victim}}, {"issue": {"number": victim},
                                                 "claim": {**saved["claim"], "issue": {**saved["claim"]["issue"],
                                                                                       "number": victim}}}):
        tampered = {**saved, **edit}
        out = exe("cxo-publish", stdin=json.dumps(tampered))
        assert out.returncode == 2, out.stderr
        assert "does not match GitHub" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert hub_repo.api.ok("GET", f"{R}/issues/{victim}/comments") == []
    assert hub_repo.api.ok("GET", f"{R}/issues/{victim}")["labels"] == []


def test_policy_values_and_arguments_never_become_git_options_or_paths(target_repo, hub_repo, tmp_path):
    marker = tmp_path / "injected"
    for policy in ({"git": {"remote": f"--upload-pack=touch {marker}"}},
                   {"git": {"baseBranch": f"--upload-pack=touch {marker}"}},
                   {"prompts": {"implement": "../../../../etc/passwd"}}):
        # Committed and pushed: the policy a runner reads (an uncommitted edit only earns a warning).
        write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url}, **policy})
        out = exe("cxo-run", "--target", str(target_repo), "--issue", "1")
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert "config.yaml" in out.stderr  # refused by the policy's own validation, before any request
    assert not marker.exists()
    write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url}})
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "x", "labels": ["agent:auto"]})["number"]
    before = hub_repo.api.admin("GET", "/_hub/stats")["writes"]
    out = exe("cxo-run", "--target", str(target_repo), "--issue", str(number), "--run-id", "../../../tmp/x")
    assert out.returncode == 2 and "--run-id" in out.stderr
    assert hub_repo.api.admin("GET", "/_hub/stats")["writes"] == before
