"""agent:auto end to end: real hub, real git, real agent processes (tests/support/fake_agent.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cxo.runner import run_issue
from tests.support.git_fixtures import GOOD_REPORT, scripted_agent

BIN = Path(sys.executable).parent


def state_dir(target):
    from cxo import policy

    return policy.load(target).state_dir


def open_issue(hub_repo, title="Add multiply", labels=("agent:auto",)):
    return hub_repo.api.ok("POST", "/repos/acme/widgets/issues",
                           {"title": title, "body": "Add multiply(a, b) to app/calc.py.", "labels": list(labels)})


def labels_of(hub_repo, number):
    return sorted(lab["name"] for lab in hub_repo.api.ok("GET", f"/repos/acme/widgets/issues/{number}")["labels"])


def comments_of(hub_repo, number):
    return hub_repo.api.ok("GET", f"/repos/acme/widgets/issues/{number}/comments")


def pulls(hub_repo):
    return hub_repo.api.ok("GET", "/repos/acme/widgets/pulls?state=all")


def branch_exists(hub_repo, branch):
    status, _, _ = hub_repo.api.call("GET", f"/repos/acme/widgets/git/ref/heads/{branch}")
    return status == 200


CHANGE = {"write": {"app/calc.py": "def add(a, b):\n    return a + b\n\n\ndef multiply(a, b):\n    return a * b\n",
                    "tests/test_multiply.py": "from app.calc import multiply\n\n\ndef test_multiply():\n"
                                              "    assert multiply(6, 7) == 42\n"}}


def test_happy_path_opens_a_draft_pr_with_the_change_and_moves_to_review(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}],
                   extra_policy={"checks": [{"name": "tests", "command": f"{sys.executable} -m pytest -q "
                                                                        "-p no:cacheprovider"}]})
    issue = open_issue(hub_repo)
    final = run_issue(target_repo, issue["number"])

    assert final["status"] == "ok", final.get("blocked")
    assert final["publish"]["outcome"] == "review"
    prs = pulls(hub_repo)
    assert len(prs) == 1
    pr = prs[0]
    assert pr["draft"] is True
    assert pr["head"]["ref"] == final["worktree"]["branch"] == f"agent/issue-{issue['number']}-add-multiply"
    assert f"Closes #{issue['number']}" in pr["body"]
    assert "| checks | ✅ pass" in pr["body"]
    # The branch on the hub really holds the agent's change.
    clone = tmp_path / "check"
    subprocess.run(["git", "clone", "-q", "-b", pr["head"]["ref"], hub_repo.clone_url, str(clone)], check=True)
    assert "def multiply" in (clone / "app" / "calc.py").read_text()
    assert labels_of(hub_repo, issue["number"]) == ["agent:auto", "agent:review"]
    bodies = [c["body"] for c in comments_of(hub_repo, issue["number"])]
    assert sum("cxo:report-comment" in b for b in bodies) == 1
    assert sum("cxo:claim" in b for b in bodies) == 1
    # Every step's envelope was saved for replay.
    run_dir = state_dir(target_repo) / "runs" / str(issue["number"]) / final["run_id"]
    assert sorted(p.name for p in run_dir.glob("0*.json")) == [
        "01-claim.json", "02-worktree.json", "03-codex.json", "04-gate.json", "05-publish.json"]


BLOCKED_CASES = {
    "agent exits non-zero": ([CHANGE, {"exit": 3}], {}, "agent exited with status 3"),
    "agent times out": ([{"sleep": 30}], {"timeoutSeconds": 1}, "agent timed out"),
    "no report": ([CHANGE], {}, "no completion report"),
    "malformed report": ([CHANGE, {"report_text": "{not json"}], {}, "malformed completion report"),
    "report nested 100,000 deep": ([CHANGE, {"report_text": "[" * 100_000 + "]" * 100_000}], {},
                                   "malformed completion report"),
    "report misses a field": ([CHANGE, {"report": {"status": "completed"}}], {}, "malformed completion report"),
    "secret file": ([CHANGE, {"write": {".env": "DB_PASSWORD=hunter2\n"}}, {"report": GOOD_REPORT}], {},
                    "denied path"),
    "symlink out of the worktree": ([CHANGE, {"symlink": {"leak": "/etc/passwd"}}, {"report": GOOD_REPORT}], {},
                                    "points outside the worktree"),
    "needs promotion": ([{"report": {**GOOD_REPORT, "status": "needs-promotion",
                                     "promotion": {"reason": "which rounding?"}}}], {}, "which rounding?"),
    "no changes": ([{"report": GOOD_REPORT}], {}, "no changes"),
}


@pytest.mark.parametrize("case", sorted(BLOCKED_CASES))
def test_blocked_runs_publish_nothing_and_keep_the_worktree(case, target_repo, hub_repo, tmp_path):
    actions, codex, reason = BLOCKED_CASES[case]
    scripted_agent(target_repo, tmp_path, actions, **codex)
    issue = open_issue(hub_repo)
    final = run_issue(target_repo, issue["number"])
    assert_blocked(final, hub_repo, issue["number"], reason)


def assert_blocked(final, hub_repo, number, reason):
    assert final["status"] == "blocked"
    assert reason in final["blocked"]["reason"]
    assert final["publish"]["outcome"] == "blocked"
    assert pulls(hub_repo) == []
    assert not branch_exists(hub_repo, final["worktree"]["branch"])
    assert labels_of(hub_repo, number) == ["agent:auto", "agent:blocked"]
    blocked = [c["body"] for c in comments_of(hub_repo, number) if "cxo:blocked" in c["body"]]
    assert len(blocked) == 1 and reason in blocked[0]
    assert Path(final["worktree"]["path"]).is_dir()
    assert final["worktree"]["path"] in blocked[0] or "~" in blocked[0]


def test_local_commit_is_blocked_when_policy_forbids_it(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"git": ["add", "-A"]}, {"git": ["commit", "-qm", "agent"]},
                                           {"report": GOOD_REPORT}],
                   extra_policy={"git": {"allowLocalCommits": False}})
    issue = open_issue(hub_repo)
    assert_blocked(run_issue(target_repo, issue["number"]), hub_repo, issue["number"], "local commits are not allowed")


def test_local_commits_are_published_when_allowed(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"git": ["add", "-A"]},
                                           {"git": ["commit", "-qm", "Add multiply <!-- hidden --> helper"]},
                                           {"write": {"NOTES.md": "later\n"}}, {"report": GOOD_REPORT}])
    issue = open_issue(hub_repo)
    final = run_issue(target_repo, issue["number"])
    assert final["status"] == "ok", final.get("blocked")
    assert len(final["gate"]["changes"]["commits"]) == 1
    sha = final["gate"]["changes"]["commits"][0]["sha"]
    body = pulls(hub_repo)[0]["body"]
    assert "### Local commits by the agent (1)" in body
    assert f"- `{sha[:10]}` Add multiply helper" in body and "hidden" not in body
    assert "NOTES.md" in final["gate"]["changes"]["untracked"]
    assert final["publish"]["commit_created"] is True


def test_failing_check_blocks(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}],
                   extra_policy={"checks": [{"name": "lint", "command": "echo style problem >&2; exit 1"}]})
    issue = open_issue(hub_repo)
    final = run_issue(target_repo, issue["number"])
    assert_blocked(final, hub_repo, issue["number"], "failing check(s): lint (exit 1)")


def test_the_blocked_comment_replays_from_the_real_state_dir_shown_with_a_tilde(target_repo, hub_repo, tmp_path,
                                                                                 monkeypatch):
    # runner.stateDir is null by default: the hint named `None/runs/...`; it names the state dir cxo really uses.
    monkeypatch.setenv("HOME", str(tmp_path))  # the state dir (XDG_STATE_HOME) is then under the home directory
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}],
                   extra_policy={"checks": [{"name": "lint", "command": "exit 1"}]})
    issue = open_issue(hub_repo)
    final = run_issue(target_repo, issue["number"])
    assert final["status"] == "blocked"
    body = next(c["body"] for c in comments_of(hub_repo, issue["number"]) if "cxo:blocked" in c["body"])
    where = state_dir(target_repo)
    shown = "~/" + str(where.relative_to(tmp_path))
    assert f"`cxo-gate < {shown}/runs/{issue['number']}/{final['run_id']}/03-codex.json`" in body
    assert "None/" not in body and str(tmp_path) not in body


def test_the_agent_never_sees_the_github_token(target_repo, hub_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("GH_TOKEN", "gh-token-must-not-leak")
    dump = tmp_path / "agent-env.json"
    scripted_agent(target_repo, tmp_path, [CHANGE, {"env_dump": str(dump)}, {"report": GOOD_REPORT}])
    issue = open_issue(hub_repo)
    assert run_issue(target_repo, issue["number"])["status"] == "ok"
    seen = json.loads(dump.read_text())
    assert hub_repo.token not in json.dumps(seen)
    assert "gh-token-must-not-leak" not in json.dumps(seen)
    assert not {"GITHUB_TOKEN", "GH_TOKEN"} & set(seen)
    assert seen["HOME"] != os.environ["HOME"]
    assert seen["CODEX_ORCHESTRATOR_REPORT_FILE"].endswith("agent-output/report.json")


def test_ineligible_issue_is_refused_without_any_write(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}])
    issue = open_issue(hub_repo, labels=("agent:auto", "agent:manual"))
    before = hub_repo.api.admin("GET", "/_hub/stats")["writes"]
    final = run_issue(target_repo, issue["number"])
    assert final["status"] == "blocked" and "manual" in final["blocked"]["reason"]
    assert hub_repo.api.admin("GET", "/_hub/stats")["writes"] == before
    assert comments_of(hub_repo, issue["number"]) == []


def run_exe(name, *args, stdin=None, env=None):
    # An in-process run took the token out of os.environ (as every cxo process does): hand it over again.
    return subprocess.run([str(BIN / name), *args], input=stdin, capture_output=True, text=True,
                          env={**os.environ, "GITHUB_TOKEN": "as:acme", **(env or {})}, timeout=120)


def test_publish_twice_makes_one_pr_and_one_report_comment_and_steps_replay(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}])
    issue = open_issue(hub_repo)
    final = run_issue(target_repo, issue["number"])
    run_dir = state_dir(target_repo) / "runs" / str(issue["number"]) / final["run_id"]
    worktree_again = run_exe("cxo-worktree", stdin=(run_dir / "01-claim.json").read_text())
    assert worktree_again.returncode == 0, worktree_again.stderr
    replayed = json.loads(worktree_again.stdout)["worktree"]
    assert replayed["reused"] is True  # the clean worktree on its branch is reused, not overwritten
    same = ("path", "branch", "base_branch", "remote", "base_sha")
    assert {k: replayed[k] for k in same} == {k: final["worktree"][k] for k in same}
    assert replayed["head_sha"] == final["publish"]["pushed_sha"]  # now holding the published commit
    again = run_exe("cxo-publish", stdin=(run_dir / "04-gate.json").read_text())
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["publish"]["pull_request"]["number"] == final["publish"]["pull_request"]["number"]
    assert len(pulls(hub_repo)) == 1
    bodies = [c["body"] for c in comments_of(hub_repo, issue["number"])]
    assert sum("cxo:report-comment" in b for b in bodies) == 1


def strip_volatile(verdicts):
    return [{k: v for k, v in verdict.items() if k not in ("duration_seconds", "evidence", "logs")}
            for verdict in verdicts]


def test_gate_replayed_from_its_saved_envelope_gives_the_same_verdicts(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"write": {".env": "X=1\n"}}, {"report": GOOD_REPORT}])
    issue = open_issue(hub_repo)
    final = run_issue(target_repo, issue["number"])
    assert final["blocked"]["step"] == "gate"
    run_dir = state_dir(target_repo) / "runs" / str(issue["number"]) / final["run_id"]
    saved_gate = json.loads((run_dir / "04-gate.json").read_text())["gate"]
    replay = run_exe("cxo-gate", stdin=(run_dir / "03-codex.json").read_text())
    assert replay.returncode == 0, replay.stderr
    replayed = json.loads(replay.stdout)
    assert replayed["status"] == "blocked"
    assert strip_volatile(replayed["gate"]["verdicts"]) == strip_volatile(saved_gate["verdicts"])
    assert replayed["gate"]["changes"] == saved_gate["changes"]
    # A blocked envelope passes through a later step untouched.
    passed = run_exe("cxo-codex", stdin=replay.stdout)
    assert json.loads(passed.stdout) == replayed


def test_a_shell_pipe_of_the_steps_behaves_like_cxo_run(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}])
    issue = open_issue(hub_repo)
    pipe = (f"{BIN}/cxo-claim --target {target_repo} --issue {issue['number']} | {BIN}/cxo-worktree | "
            f"{BIN}/cxo-codex | {BIN}/cxo-gate | {BIN}/cxo-publish")
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", pipe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    final = json.loads(proc.stdout)
    assert final["steps_done"] == ["claim", "worktree", "codex", "gate", "publish"]
    assert [p["head"]["ref"] for p in pulls(hub_repo)] == [final["worktree"]["branch"]]
    assert labels_of(hub_repo, issue["number"]) == ["agent:auto", "agent:review"]


def test_cxo_run_exit_status_is_3_when_blocked(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"exit": 1}])
    issue = open_issue(hub_repo)
    proc = run_exe("cxo-run", "--target", str(target_repo), "--issue", str(issue["number"]))
    assert proc.returncode == 3
    assert json.loads(proc.stdout)["blocked"]["reason"] == "agent exited with status 1"


def test_files_written_by_the_runners_checks_are_not_published(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}],
                   extra_policy={"checks": [{"name": "build", "command": "echo artefact > build-output.txt"}]})
    issue = open_issue(hub_repo)
    final = run_issue(target_repo, issue["number"])
    assert final["status"] == "ok", final.get("blocked")
    clone = tmp_path / "published"
    subprocess.run(["git", "clone", "-q", "-b", final["worktree"]["branch"], hub_repo.clone_url, str(clone)],
                   check=True)
    assert (clone / "tests" / "test_multiply.py").is_file()
    assert not (clone / "build-output.txt").exists()
    assert not list(clone.rglob("__pycache__"))


def test_a_reviewer_requesting_changes_blocks_with_its_findings_in_the_comment(target_repo, hub_repo, tmp_path):
    from tests.support.git_fixtures import reviewer_policy

    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}],
                   extra_policy={"reviewGates": {"reviewer": reviewer_policy("request-changes")}})
    issue = open_issue(hub_repo)
    final = run_issue(target_repo, issue["number"])
    assert_blocked(final, hub_repo, issue["number"], "the reviewer requests changes")
    comment = next(c["body"] for c in comments_of(hub_repo, issue["number"]) if "cxo:blocked" in c["body"])
    assert "multiply(0.5, 2) is untested" in comment and "`app/calc.py`:5" in comment


def test_ui_work_publishes_the_runners_screenshots_on_the_pr_branch(target_repo, hub_repo, tmp_path):
    from tests.gates.test_visual_gate import PNG

    command = f"{sys.executable} -c \"{PNG.format(name='page.png')}\""
    scripted_agent(target_repo, tmp_path, [{"write": {"web/index.html": "<h1>hi</h1>\n"}}, {"report": GOOD_REPORT}],
                   extra_policy={"reviewGates": {"visualProof": {"runnerValidationCommand": command}}})
    issue = open_issue(hub_repo, title="New landing page")
    final = run_issue(target_repo, issue["number"])
    assert final["status"] == "ok", final.get("blocked")
    shot = f".codex-orchestrator/proofs/issue-{issue['number']}/page.png"
    clone = tmp_path / "published"
    subprocess.run(["git", "clone", "-q", "-b", final["worktree"]["branch"], hub_repo.clone_url, str(clone)],
                   check=True)
    assert (clone / shot).read_bytes()[:4] == b"\x89PNG"
    body = pulls(hub_repo)[0]["body"]
    assert f"[{shot}](../blob/{final['worktree']['branch']}/{shot})" in body


def test_a_rejected_push_ends_blocked_with_a_report(target_repo, hub_repo, hub, tmp_path):
    import shutil

    from cxo import envelope
    from cxo import policy as policy_mod
    from cxo.pipeline import run_steps

    # The hub loses the repository's git data after the gates passed: the push really fails.
    bare = Path(hub.hub.data_dir) / "git" / "acme" / "widgets.git"
    scripted_agent(target_repo, tmp_path, [CHANGE, {"report": GOOD_REPORT}])
    issue = open_issue(hub_repo)
    policy = policy_mod.load(target_repo)
    gated = run_steps(envelope.new(target_repo, issue["number"]), policy, print,
                      steps=("claim", "worktree", "codex", "gate"))
    assert gated["status"] == "ok", gated.get("blocked")
    shutil.rmtree(bare)
    final = run_steps(gated, policy, print, steps=("publish",))
    assert final["status"] == "blocked" and final["blocked"]["reason"].startswith("publish failed: git push")
    assert labels_of(hub_repo, issue["number"]) == ["agent:auto", "agent:blocked"]
    assert any("publish failed" in c["body"] for c in comments_of(hub_repo, issue["number"]))
    assert Path(final["worktree"]["path"]).is_dir()


@pytest.mark.parametrize("committed", [False, True], ids=["staged", "committed"])
def test_renames_and_deletions_by_git_mv_and_git_rm_are_published(committed, target_repo, hub_repo, tmp_path):
    actions = [{"git": ["mv", "README.md", "README.rst"]}, {"git": ["rm", "-q", "tests/__init__.py"]},
               {"write": {"docs/a b*.md": "a file whose name is a glob\n"}}]
    if committed:
        actions += [{"git": ["add", "-A"]}, {"git": ["commit", "-qm", "move the readme"]}]
    scripted_agent(target_repo, tmp_path, [*actions, {"report": {**GOOD_REPORT, "changes": ["README.rst"]}}])
    issue = open_issue(hub_repo, title="Rename the readme")
    final = run_issue(target_repo, issue["number"])
    assert final["status"] == "ok", final.get("blocked")
    assert all(v["verdict"] in ("pass", "skip") for v in final["gate"]["verdicts"])
    branch = final["worktree"]["branch"]
    from cxo.gitutil import token_env
    from tests.support.git_fixtures import git

    git(target_repo, "fetch", "-q", hub_repo.clone_url, branch, env=token_env(hub_repo.token))
    paths = set(git(target_repo, "ls-tree", "-r", "-z", "--name-only", "FETCH_HEAD").split("\0")) - {""}
    assert {"README.rst", "docs/a b*.md", "app/calc.py"} <= paths
    assert not {"README.md", "tests/__init__.py"} & paths
    assert labels_of(hub_repo, issue["number"]) == ["agent:auto", "agent:review"]


FAILING_TEST = {"write": {"tests/test_broken.py": (
    "def test_ok():\n    pass\n\n\ndef test_broken():\n"
    "    assert 'AGENT-OUTPUT-MUST-NOT-BE-POSTED' == 'x'\n\n\n"
    "def test_also_broken():\n    raise SystemError('AGENT-OUTPUT-MUST-NOT-BE-POSTED')\n")}}


def test_a_failing_check_names_the_failing_tests_but_never_their_output(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CHANGE, FAILING_TEST, {"report": GOOD_REPORT}], extra_policy={"checks": [
        {"name": "tests", "command": f"{sys.executable} -m pytest -q -p no:cacheprovider -rf tests"}]})
    issue = open_issue(hub_repo)
    final = run_issue(target_repo, issue["number"])
    assert_blocked(final, hub_repo, issue["number"], "failing check(s): tests (exit 1)")
    blocked = next(c["body"] for c in comments_of(hub_repo, issue["number"]) if "cxo:blocked" in c["body"])
    assert "failing test tests/test_broken.py::test_broken" in blocked
    assert "failing test tests/test_broken.py::test_also_broken" in blocked
    assert "test_ok" not in blocked and "AGENT-OUTPUT-MUST-NOT-BE-POSTED" not in blocked


def test_a_failing_check_gives_the_count_up_to_ten_names_the_runners_totals_and_the_log(target_repo, hub_repo,
                                                                                        tmp_path):
    tests = "".join(f"def test_bad_{n}():\n    assert False\n\n\n" for n in range(12)) + "def test_ok():\n    pass\n"
    scripted_agent(target_repo, tmp_path, [CHANGE, {"write": {"tests/test_many.py": tests}}, {"report": GOOD_REPORT}],
                   extra_policy={"checks": [{"name": "tests", "command": f"{sys.executable} -m pytest -q "
                                             "-p no:cacheprovider tests/test_many.py"}]})
    issue = open_issue(hub_repo)
    final = run_issue(target_repo, issue["number"])
    assert_blocked(final, hub_repo, issue["number"], "failing check(s): tests (exit 1")
    checks = next(v for v in final["gate"]["verdicts"] if v["gate"] == "checks")
    evidence = checks["evidence"][0]
    assert (evidence["failing_count"], evidence["tests_failed"], evidence["tests_passed"]) == (12, 12, 1)
    assert len(evidence["failing_tests"]) == 10 and Path(evidence["log_path"]).is_file()
    assert "tests (exit 1) with 12 failing tests (12 failed, 1 passed)" in checks["summary"]
    assert {f["file"] for f in checks["findings"] if "failing test " in f["message"]} == {"tests/test_many.py"}
    blocked = next(c["body"] for c in comments_of(hub_repo, issue["number"]) if "cxo:blocked" in c["body"])
    assert "12 failing tests (12 failed, 1 passed)" in blocked
    named = [line for line in blocked.splitlines() if "failing test tests/test_many.py::" in line]
    assert len(named) == 10 and "test_bad_9" in named[-1] and "… and 2 more failing tests" in blocked
    assert f"`{evidence['log_path']}`" in blocked


def test_a_timed_out_agent_gets_a_short_blocked_comment_pointing_at_the_local_log(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"stdout": "AGENT-OUTPUT-MUST-NOT-BE-POSTED " * 500}, {"sleep": 30}],
                   timeoutSeconds=1)
    issue = open_issue(hub_repo)
    final = run_issue(target_repo, issue["number"])
    assert_blocked(final, hub_repo, issue["number"], "agent timed out (1s total)")
    blocked = next(c["body"] for c in comments_of(hub_repo, issue["number"]) if "cxo:blocked" in c["body"])
    assert "AGENT-OUTPUT-MUST-NOT-BE-POSTED" not in blocked
    assert final["codex"]["log_path"] in blocked and "timed out after" in blocked
    assert len(blocked) < 2000 and len(blocked.splitlines()) < 25
