"""cxo-run --dry-run, --json, --quiet and the blocked agent's log path: the real executable on the hub."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.git_fixtures import GOOD_REPORT, git, scripted_agent

BIN = Path(sys.executable).parent
R = "/repos/acme/widgets"
CHANGE = {"write": {"app/calc.py": "def add(a, b):\n    return a + b\n\n\ndef multiply(a, b):\n    return a * b\n",
                    "tests/test_multiply.py": "from app.calc import multiply\n\n\ndef test_multiply():\n"
                                              "    assert multiply(6, 7) == 42\n"}}
EXTRA = {"setup": [{"name": "deps", "command": "true", "timeoutSeconds": 60}],
         "checks": [{"name": "tests", "command": f"{sys.executable} -m pytest -q -p no:cacheprovider"}],
         "agent": {"allowHosts": ["pypi.org"]}}


def cxo_run(target, *flags, **env):
    return subprocess.run([str(BIN / "cxo-run"), "--target", str(target), *flags], capture_output=True, text=True,
                          timeout=180, env={**os.environ, **env})


def open_issue(hub_repo, title="Add multiply", labels=("agent:auto",)):
    return hub_repo.api.ok("POST", f"{R}/issues", {"title": title, "body": "Add multiply(a, b) to app/calc.py.",
                                                   "labels": list(labels)})["number"]


def writes(hub_repo) -> int:
    return hub_repo.api.admin("GET", "/_hub/stats")["writes"]


def local_files() -> list[str]:
    """Every path under the user's state home (the state dir, the worktrees, crash logs)."""
    root = Path(os.environ["XDG_STATE_HOME"])
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def labels_of(hub_repo, number):
    return sorted(lab["name"] for lab in hub_repo.api.ok("GET", f"{R}/issues/{number}")["labels"])


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def dry_run(hub_repo, target, *flags, **env):
    """Run `cxo-run --dry-run`, asserting it wrote nothing to GitHub and nothing locally."""
    before, files = writes(hub_repo), local_files()
    out = cxo_run(target, "--dry-run", *flags, **env)
    assert writes(hub_repo) == before, out.stderr
    assert local_files() == files
    return out


def test_dry_run_of_an_auto_issue_shows_the_plan_and_writes_nothing(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}], extra_policy=EXTRA)
    number = open_issue(hub_repo)
    out = dry_run(hub_repo, target_repo, "--issue", str(number))
    assert out.returncode == 0, out.stderr
    policy_commit = git(target_repo, "rev-parse", "origin/main").strip()
    text = out.stdout
    assert "eligibility: eligible (eligible)" in text
    assert "mode:        auto: auto issue" in text
    assert f"branch:      agent/issue-{number}-add-multiply" in text
    assert f"fetches main from {hub_repo.url}/acme/widgets.git into origin/main" in text
    assert f"read from commit {policy_commit}" in text
    assert "gates:       safety -> report -> checks -> tdd -> review -> cleanup -> visual" in text
    from cxo.redact import redact

    assert f"agent:       {redact(sys.executable)} " in text and "fake_agent.py --script" in text
    assert "sandbox:     bubblewrap: " in text
    assert "network:     allowlist (pypi.org)" in text
    assert "  setup:\n    deps: true (timeout 60s)\n  checks:\n    tests: " in text
    assert hub_repo.token not in text + out.stderr  # no secret in what it shows
    assert last_line(out.stderr).endswith(f"would run auto on #{number} on branch agent/issue-{number}-add-multiply "
                                          "(nothing was written)")
    assert labels_of(hub_repo, number) == ["agent:auto"]
    assert not (tmp_path / "xdg-state").exists() or not list((tmp_path / "xdg-state").rglob("runs"))


def test_dry_run_json_is_one_object_on_stdout(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}], extra_policy=EXTRA)
    number = open_issue(hub_repo)
    out = dry_run(hub_repo, target_repo, "--issue", str(number), "--json", "--quiet")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    plan = json.loads(out.stdout)
    assert plan["dry_run"] is True and plan["status"] == "would-run" and plan["refused"] is None
    assert plan["eligibility"] == {"eligible": True, "mode": "auto", "reason": "eligible"}
    assert plan["mode"] == "auto" and plan["branch"] == f"agent/issue-{number}-add-multiply"
    assert plan["base"]["branch"] == "main" and plan["base"]["remote"] == "origin"
    assert plan["policy"]["source"] == git(target_repo, "rev-parse", "origin/main").strip()
    assert plan["policy"]["gates"][0] == "safety"
    from cxo.redact import redact

    assert plan["agent"]["kind"] == "command" and plan["agent"]["command"][0] == redact(sys.executable)
    assert plan["sandbox"]["isolation"] == "bubblewrap" and plan["sandbox"]["usable"] is True
    assert plan["network"] == {"mode": "allowlist", "allow_hosts": ["pypi.org"]}
    assert [s["name"] for s in plan["setup"]] == ["deps"] and [c["name"] for c in plan["checks"]] == ["tests"]
    assert plan["local"]["worktree"].endswith(f"issue-{number}") and plan["local"]["worktree_exists"] is False


def test_dry_run_of_an_ineligible_issue_says_why_and_exits_3(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"report": GOOD_REPORT}])
    number = open_issue(hub_repo, labels=("agent:auto", "agent:manual"))
    out = dry_run(hub_repo, target_repo, "--issue", str(number))
    assert out.returncode == 3, out.stderr
    assert last_line(out.stderr).endswith("would be refused: not eligible: manual: reserved for human work")
    assert "eligibility: not eligible (manual: reserved for human work)" in out.stdout
    plan = json.loads(dry_run(hub_repo, target_repo, "--issue", str(number), "--json").stdout)
    assert plan["status"] == "refused" and plan["refused"].startswith("not eligible: manual")


def test_dry_run_of_a_plan_auto_issue_shows_the_tree_and_its_integration_branch(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"report": GOOD_REPORT}])
    number = open_issue(hub_repo, title="Big feature", labels=("agent:plan-auto",))
    out = dry_run(hub_repo, target_repo, "--issue", str(number), "--json")
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["mode"] == "plan-auto" and plan["branch"] == f"agent/tree-{number}-big-feature"
    assert plan["local"]["worktree"].endswith(f"tree-{number}")


def test_dry_run_of_an_interrupted_run_shows_the_resume(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}])
    number = open_issue(hub_repo)
    killed = cxo_run(target_repo, "--issue", str(number), CXO_TEST_KILL_AT="runner:after-worktree")
    assert killed.returncode == -9, killed.stderr
    out = dry_run(hub_repo, target_repo, "--issue", str(number), "--json")
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["mode"] == "resume" and plan["resume"]["steps_done"] == ["claim", "worktree"]
    assert plan["steps"] == ["codex", "gate", "publish"]
    assert plan["local"]["worktree_exists"] is True
    assert plan["run_id"] == plan["resume"]["run_id"]
    restart = json.loads(dry_run(hub_repo, target_repo, "--issue", str(number), "--json", "--restart").stdout)
    assert restart["restart"] == {"releases_run": plan["run_id"]}


def test_dry_run_of_an_issue_in_review_with_feedback_shows_the_round(target_repo, hub_repo, tmp_path):
    """Also: --json --quiet on a real run prints the summary object alone."""
    api = hub_repo.api
    api.ok("PUT", f"{R}/collaborators/carol", {})
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}], extra_policy={"checks": []})
    number = open_issue(hub_repo)
    ran = cxo_run(target_repo, "--issue", str(number), "--json", "--quiet")
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""
    summary = json.loads(ran.stdout)
    assert summary["status"] == "ok" and summary["issue"] == number and summary["blocked"] is None
    pull = api.ok("GET", f"{R}/pulls")[0]
    assert summary["pr_url"] == pull["html_url"] and summary["pr_number"] == pull["number"]
    assert summary["labels"] == ["agent:auto", "agent:review"]
    assert Path(summary["paths"]["run_dir"]).is_dir() and summary["run_id"] in summary["paths"]["run_dir"]
    assert Path(summary["paths"]["worktree"]).is_dir()

    nothing = dry_run(hub_repo, target_repo, "--issue", str(number))
    assert nothing.returncode == 3
    assert "would be refused: not eligible: review" in last_line(nothing.stderr)
    api.ok("POST", f"{R}/issues/{pull['number']}/comments", {"body": "@cxo please also handle negatives"},
           token="as:carol")
    for flags in (("--issue", str(number)), ("--pr", str(pull["number"]))):
        out = dry_run(hub_repo, target_repo, *flags, "--json")
        assert out.returncode == 0, out.stderr
        plan = json.loads(out.stdout)
        assert plan["mode"] == "feedback-round" and plan["pull"]["number"] == pull["number"]
        assert plan["pull"]["round"] == 1 and plan["branch"] == pull["head"]["ref"]
        assert plan["issue"]["number"] == number


def test_dry_run_bad_input_exits_2_without_a_write(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"report": GOOD_REPORT}])
    number = open_issue(hub_repo)
    out = dry_run(hub_repo, target_repo, "--issue", str(number), "--continue")
    assert out.returncode == 2 and "has no earlier run on this host" in out.stderr
    out = dry_run(hub_repo, target_repo, "--pr", str(number))  # an issue, not a pull request: not found
    assert out.returncode == 6 and "not found" in out.stderr
    out = cxo_run(target_repo, "--issue", "x", "--dry-run")
    assert out.returncode == 2 and "is not an issue number" in out.stderr


def test_quiet_keeps_only_the_final_line_and_a_blocked_run_names_its_agent_log(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"exit": 3}])
    number = open_issue(hub_repo)
    out = cxo_run(target_repo, "--issue", str(number), "--quiet")
    assert out.returncode == 3, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2, out.stderr
    assert lines[0].endswith("blocked at codex: agent exited with status 3")
    env = json.loads(out.stdout)  # without --json: the envelope, as before
    log = env["codex"]["log_path"]
    assert lines[1].endswith(f"agent log: {log}") and Path(log).is_file()


def test_a_blocked_run_names_its_agent_log_last_and_in_its_json(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"exit": 3}])
    number = open_issue(hub_repo)
    out = cxo_run(target_repo, "--issue", str(number), "--json")
    assert out.returncode == 3, out.stderr
    summary = json.loads(out.stdout)
    assert summary["status"] == "blocked"
    assert summary["blocked"] == {"step": "codex", "reason": "agent exited with status 3"}
    assert summary["labels"] == ["agent:auto", "agent:blocked"]
    assert "running the agent" in out.stderr  # progress stays on stderr
    assert last_line(out.stderr).endswith(f"agent log: {summary['paths']['agent_log']}")
