"""cxo-run in GitHub Actions: job summary, step outputs and annotations, in a fake Actions environment."""

import os
import re
import subprocess
import sys
from pathlib import Path

from cxo import actions
from tests.e2e.test_run_auto import CHANGE, open_issue, pulls
from tests.support.actions_player import parse_output_file
from tests.support.git_fixtures import GOOD_REPORT, scripted_agent

BIN = Path(sys.executable).parent


def parse_commands(stderr: str) -> list[tuple[str, dict, str]]:
    found = []
    for line in stderr.splitlines():
        match = re.fullmatch(r"::([a-z]+)(?: ([^:]*))?::(.*)", line)
        if match:
            props = dict(pair.split("=", 1) for pair in (match.group(2) or "").split(",") if pair)
            props = {k: v.replace("%3A", ":").replace("%2C", ",").replace("%25", "%") for k, v in props.items()}
            found.append((match.group(1), props, match.group(3).replace("%0A", "\n").replace("%25", "%")))
    return found


def actions_run(target, number, tmp_path, github_actions="true"):
    summary, output = tmp_path / "step-summary.md", tmp_path / "output.txt"
    summary.write_text("")
    output.write_text("earlier=1\n")
    env = {**os.environ, "GITHUB_TOKEN": "as:acme", "GITHUB_ACTIONS": github_actions,
           "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    proc = subprocess.run([str(BIN / "cxo-run"), "--target", str(target), "--issue", str(number)],
                          capture_output=True, text=True, env=env, timeout=300)
    return proc, summary.read_text(), output.read_text()


def test_a_reviewed_run_sets_the_outputs_and_writes_the_report_to_the_job_summary(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}])
    issue = open_issue(hub_repo)
    proc, summary, output = actions_run(target_repo, issue["number"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    (pr,) = pulls(hub_repo)
    values = parse_output_file(output)
    assert values["earlier"] == "1"  # appended, never overwritten
    assert values["status"] == "ok" and values["pr-url"] == pr["html_url"] and pr["html_url"]
    assert values["issue"] == str(issue["number"]) and values["blocked-reason"] == ""
    assert f"cxo review report for #{issue['number']}" in summary and pr["html_url"] in summary
    assert "| safety | ✅ pass" in summary
    assert [c for c in parse_commands(proc.stderr) if c[0] == "error"] == []


def test_a_blocked_run_annotates_the_reason_and_the_offending_file(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"write": {".env": "DB_PASSWORD=hunter2\n"}},
                                           {"report": GOOD_REPORT}])
    issue = open_issue(hub_repo)
    proc, summary, output = actions_run(target_repo, issue["number"], tmp_path)
    assert proc.returncode == 3, proc.stderr
    values = parse_output_file(output)
    assert values["status"] == "blocked" and values["pr-url"] == "" and values["blocked-step"] == "gate"
    assert "denied path" in values["blocked-reason"]
    errors = [c for c in parse_commands(proc.stderr) if c[0] == "error"]
    assert errors[0][1] == {"title": f"cxo #{issue['number']}: run blocked"} and "denied path" in errors[0][2]
    assert ("error", ".env") in {(level, props.get("file")) for level, props, _ in errors}
    assert "cxo blocked run `" in summary and "**Step:** `gate`" in summary
    assert "hunter2" not in proc.stderr + summary + output
    assert pulls(hub_repo) == []


def test_outside_actions_nothing_is_written(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}])
    issue = open_issue(hub_repo)
    proc, summary, output = actions_run(target_repo, issue["number"], tmp_path, github_actions="")
    assert proc.returncode == 0, proc.stderr
    assert summary == "" and output == "earlier=1\n" and parse_commands(proc.stderr) == []


def test_multi_line_values_use_a_heredoc_the_value_cannot_end():
    value = "line one\nghadelimiter_x\nstatus=forged"
    text = actions.output_lines({"status": "blocked", "blocked-reason": value, "pr-url": ""})
    assert parse_output_file(text) == {"status": "blocked", "blocked-reason": value, "pr-url": ""}
    assert "\nstatus=forged\n" in text and text.count("status=") == 2  # inside the heredoc, not a line of its own


def test_agent_text_in_a_finding_cannot_start_a_workflow_command():
    env = {"status": "blocked", "issue": {"number": 5}, "run_id": "r",
           "blocked": {"step": "gate", "reason": "review failed\n::add-mask::x\n::error::forged"},
           "gate": {"verdicts": [{"gate": "review", "verdict": "fail", "summary": "s",
                                  "findings": [{"file": "a.py", "line": 1, "message": "bad\n::warning::forged"}]}]}}
    lines = "".join(actions.annotations(env)).splitlines()
    assert len(lines) == 2 and all(line.startswith("::error ") for line in lines)
    assert not any(line.startswith(("::add-mask", "::warning", "::error::")) for line in lines)
