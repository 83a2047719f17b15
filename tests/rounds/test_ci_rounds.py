"""CI fix rounds (lib/cxo/rounds/checks.py): failing trusted checks on a cxo PR's head start a bounded fix round;
untrusted checks are ignored. The hub's check runs, commit statuses and Actions job logs, real git, the real
pipeline with the scripted agent."""

from cxo.rounds.run import run_pull
from tests.rounds.test_round_run import CALC, R, branch_head, first_pr, labels_of, report, round_script, runner

__all__ = ["runner"]
ACTIONS = "as:app/github-actions"
LOG = "\n".join(f"step {n}: ok" for n in range(200)) + "\nFAILED tests/test_multiply.py::test_multiply - 41 != 42\n"


def check_run(api, sha, name, conclusion, token=ACTIONS, log=None, status="completed"):
    body = {"name": name, "head_sha": sha, "status": status,
            "output": {"title": f"{name} {conclusion or status}", "summary": f"{name}: 1 test failed"}}
    if conclusion:
        body["conclusion"] = conclusion
    if log is not None:
        body["log"] = log  # the hub's own field: the job's log, served at actions/jobs/{id}/logs
    return api.ok("POST", f"{R}/check-runs", body, token=token)


def ci_reports(api, pull):
    return [c for c in api.ok("GET", f"{R}/issues/{pull}/comments?per_page=100") if "cxo:ci head=" in c["body"]]


def test_a_failing_actions_check_starts_a_fix_round_and_a_passing_one_ends_it(runner, hub_repo, tmp_path):
    api = hub_repo.api
    issue, pull, first_sha = first_pr(hub_repo, runner, tmp_path)
    check_run(api, first_sha, "lint", "success")
    check_run(api, first_sha, "tests", "failure", log=LOG)
    prompt = tmp_path / "seen" / "ci.md"
    round_script(tmp_path, [{"read_prompt": str(prompt)},
                            {"write": {"app/calc.py": CALC + "\n\ndef square(a):\n    return a * a\n"}},
                            report(summary="fixed the failing test")])

    env = run_pull(runner, pull)

    assert env["status"] == "ok", env.get("blocked")
    assert env["round"]["kind"] == "ci"
    assert [c["name"] for c in env["round"]["checks"]["failing"]] == ["tests"]
    text = prompt.read_text()
    # The check's name, summary and the tail of the job's log, fenced as untrusted data; not the log's head.
    assert "CI fix round 1" in text and "tests: 1 test failed" in text and "41 != 42" in text
    assert "UNTRUSTED-" in text and "step 3: ok" not in text
    pushed = env["publish"]["pushed_sha"]
    assert branch_head(api, env["round"]["branch"]) == pushed != first_sha
    [rep] = ci_reports(api, pull)
    assert "CI fix round 1 of 3" in rep["body"] and "`tests`" in rep["body"]
    assert labels_of(api, issue) == ["agent:auto", "agent:review"]
    # The new head's checks pass: nothing more to do.
    check_run(api, pushed, "tests", "success")
    again = run_pull(runner, pull)
    assert again["status"] == "blocked" and again["blocked"]["reason"].startswith("not eligible")


def test_untrusted_checks_and_unfinished_ones_start_no_round(runner, hub_repo, tmp_path):
    api = hub_repo.api
    _, pull, first_sha = first_pr(hub_repo, runner, tmp_path)
    check_run(api, first_sha, "evil", "failure", token="as:app/some-other-app")
    # Anyone with push rights can post a status; no context is trusted by default.
    api.ok("POST", f"{R}/statuses/{first_sha}", {"state": "failure", "context": "ci/jenkins"}, token="as:acme")
    env = run_pull(runner, pull)
    assert env["status"] == "blocked" and env["blocked"]["reason"].startswith("not eligible")
    # A trusted check still running: wait for it.
    check_run(api, first_sha, "tests", None, status="in_progress")
    check_run(api, first_sha, "lint", "failure")
    env = run_pull(runner, pull)
    assert env["status"] == "blocked" and env["blocked"]["reason"].startswith("not eligible")
    assert not ci_reports(api, pull)


def test_a_fix_round_that_fails_is_not_repeated_on_the_same_head(runner, hub_repo, tmp_path):
    api = hub_repo.api
    issue, pull, first_sha = first_pr(hub_repo, runner, tmp_path)
    check_run(api, first_sha, "tests", "failure")
    round_script(tmp_path, [{"exit": 3}])
    env = run_pull(runner, pull)
    assert env["status"] == "blocked" and env["round"]["kind"] == "ci"
    assert branch_head(api, env["round"]["branch"]) == first_sha
    assert "agent:blocked" in labels_of(api, issue)
    again = run_pull(runner, pull)
    assert again["status"] == "blocked" and again["blocked"]["reason"].startswith("not eligible")
    assert len(ci_reports(api, pull)) == 1
