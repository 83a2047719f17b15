"""Update rounds (lib/cxo/rounds/update.py): a cxo PR whose base moved gets the base merged in by the runner, an
agent resolves conflicts, the gates check the whole PR, and the runner pushes a fast-forward. The hub, real git,
real cxo processes in the real sandbox, the scripted agent."""

import os
import subprocess

import yaml

from cxo.rounds.run import run_pull
from tests.rounds.test_round_run import CALC, R, branch_head, first_pr, labels_of, report, round_script, runner
from tests.support.hub_fixtures import GIT_ENV, push_dir, token_git_env

__all__ = ["runner"]  # the fixture, imported for its name


def clone(hub_repo, tmp_path, name, branch="main"):
    work = tmp_path / name
    subprocess.run(["git", "clone", "-q", "-b", branch, hub_repo.clone_url, str(work)], check=True,
                   capture_output=True, env={**os.environ, **GIT_ENV})
    return work


def commit_push(hub_repo, work, files, message, branch="main", token="as:acme"):
    for rel, text in files.items():
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "add", "-A"], cwd=work, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=work, check=True, env=env)
    push_dir(work, hub_repo.clone_url, token, branch)
    return git(work, "rev-parse", "HEAD")


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def with_policy(target, **feedback) -> dict:
    """The policy file's text with `feedback` set: cxo runs the base's policy, so a test pushes it to main."""
    policy = yaml.safe_load((target / ".codex-orchestrator" / "config.yaml").read_text())
    policy.setdefault("feedback", {}).update(feedback)
    return {".codex-orchestrator/config.yaml": yaml.safe_dump(policy)}


def update_reports(api, pull):
    return [c for c in api.ok("GET", f"{R}/issues/{pull}/comments?per_page=100") if "cxo:update head=" in c["body"]]


def test_a_clean_base_move_is_merged_in_gated_and_pushed_as_one_fast_forward(runner, hub_repo, tmp_path):
    api = hub_repo.api
    issue, pull, first_sha = first_pr(hub_repo, runner, tmp_path)
    main = clone(hub_repo, tmp_path, "maintainer")
    base_sha = commit_push(hub_repo, main, {"docs/NOTES.md": "notes\n", **with_policy(runner, updateWhen="behind")},
                           "docs: notes; update PRs when behind")
    # The runner reads the base's policy from its last fetch (a daemon's previous cycle would have fetched).
    subprocess.run(["git", "fetch", "-q", hub_repo.clone_url, "+refs/heads/main:refs/remotes/origin/main"],
                   cwd=runner, check=True, env=token_git_env("as:cxo-runner"))
    round_script(tmp_path, [{"exit": 3}])  # a clean merge needs no agent: one that ran would fail the round

    env = run_pull(runner, pull)

    assert env["status"] == "ok", env.get("blocked")
    assert env["round"]["kind"] == "update" and env["round"]["update"]["conflicts"] == []
    assert env["codex"]["agent"] == "none"
    head = branch_head(api, env["round"]["branch"])
    assert head == env["publish"]["pushed_sha"] != first_sha
    work = clone(hub_repo, tmp_path, "check", env["round"]["branch"])
    # A merge commit made by the runner: first parent the PR's old head, second the new base; nothing rewritten.
    assert git(work, "rev-list", "--parents", "-n1", "HEAD").split()[1:] == [first_sha, base_sha]
    runner_identity = git(work, "log", "-1", "--format=%an <%ae>", first_sha)  # cxo's own first commit
    assert git(work, "log", "-1", "--format=%an <%ae>") == runner_identity != "cxo agent <agent@cxo.invalid>"
    assert (work / "docs" / "NOTES.md").read_text() == "notes\n" and "multiply" in (work / "app/calc.py").read_text()
    # The gates ran on the whole PR against the new base; one update report on the PR.
    assert env["gate"]["passed"] and env["gate"]["changes"]["base"] == base_sha
    assert {v["gate"] for v in env["gate"]["verdicts"]} >= {"safety", "checks", "tdd", "review"}
    [report_comment] = update_reports(api, pull)
    assert "update round 1 of 3" in report_comment["body"] and "merged it cleanly" in report_comment["body"]
    assert labels_of(api, issue) == ["agent:auto", "agent:review"]
    # Up to date now: nothing more to do, and with updateWhen: conflict a clean move would not start one.
    again = run_pull(runner, pull)
    assert again["status"] == "blocked" and again["blocked"]["reason"].startswith("not eligible")


def test_a_clean_move_waits_with_update_when_conflict(runner, hub_repo, tmp_path):
    _, pull, _ = first_pr(hub_repo, runner, tmp_path)
    commit_push(hub_repo, clone(hub_repo, tmp_path, "maintainer"), {"docs/NOTES.md": "notes\n"}, "docs: notes")
    env = run_pull(runner, pull)
    assert env["status"] == "blocked" and env["blocked"]["reason"].startswith("not eligible")
    assert not update_reports(hub_repo.api, pull)


def conflicting_base(hub_repo, tmp_path):
    """A maintainer changes app/calc.py on main where the PR changed it too."""
    main = clone(hub_repo, tmp_path, "maintainer")
    return commit_push(hub_repo, main, {"app/calc.py": "def add(a, b):\n    return b + a\n\n\ndef negate(a):\n"
                                                       "    return -a\n"}, "calc: negate")


RESOLVED = CALC + "\n\ndef negate(a):\n    return -a\n"


def test_a_conflicting_move_is_resolved_by_an_agent_and_the_pr_merges_again(runner, hub_repo, tmp_path):
    api = hub_repo.api
    issue, pull, first_sha = first_pr(hub_repo, runner, tmp_path)
    # A maintainer's commit on the PR branch (on top of cxo's push): it must be kept.
    pr_branch = api.ok("GET", f"{R}/pulls/{pull}")["head"]["ref"]
    human = commit_push(hub_repo, clone(hub_repo, tmp_path, "human", pr_branch), {"CONTRIBUTING.md": "be kind\n"},
                        "readme", branch=pr_branch)
    round_payload = api.ok("GET", f"{R}/pulls/{pull}")
    base_sha = conflicting_base(hub_repo, tmp_path)
    prompt = tmp_path / "seen" / "update.md"
    round_script(tmp_path, [{"read_prompt": str(prompt)}, {"write": {"app/calc.py": RESOLVED}},
                            report(summary="kept multiply and the new negate")])

    env = run_pull(runner, pull)

    assert env["status"] == "ok", env.get("blocked")
    assert env["round"]["update"]["conflicts"] == ["app/calc.py"] and env["round"]["human_commits"] == 1
    text = prompt.read_text()
    assert "resolve merge conflicts" in text and "<<<<<<<" in text and "UNTRUSTED-" in text
    work = clone(hub_repo, tmp_path, "check", pr_branch)
    assert git(work, "rev-list", "--parents", "-n1", "HEAD").split()[1:] == [human, base_sha]
    assert git(work, "merge-base", "--is-ancestor", first_sha, "HEAD") == ""  # cxo's and the human's work kept
    assert (work / "app/calc.py").read_text() == RESOLVED and (work / "CONTRIBUTING.md").exists()
    assert "<<<<<<<" not in git(work, "log", "-p", "-1", "--format=")  # the published merge carries no marker
    # Mergeable again: the base is in the PR, so a merge of the PR into main is a clean fast-forward-able merge.
    assert git(work, "merge-base", "--is-ancestor", base_sha, "HEAD") == ""
    assert round_payload["head"]["sha"] == human
    [report_comment] = update_reports(api, pull)
    assert "resolved by the agent" in report_comment["body"] and "`app/calc.py`" in report_comment["body"]
    assert labels_of(api, issue) == ["agent:auto", "agent:review"]


def test_an_unresolvable_conflict_blocks_naming_the_files_and_pushes_nothing(runner, hub_repo, tmp_path):
    api = hub_repo.api
    issue, pull, first_sha = first_pr(hub_repo, runner, tmp_path)
    conflicting_base(hub_repo, tmp_path)
    round_script(tmp_path, [report(summary="could not decide")])  # leaves the markers where they are

    env = run_pull(runner, pull)

    assert env["status"] == "blocked"
    assert "app/calc.py" in env["blocked"]["reason"] and "nothing was pushed" in env["blocked"]["reason"]
    assert branch_head(api, env["round"]["branch"]) == first_sha
    [report_comment] = update_reports(api, pull)
    assert "left in conflict" in report_comment["body"] and "app/calc.py" in report_comment["body"]
    assert "agent:blocked" in labels_of(api, issue)
    # The same pair (PR head, base head) is not tried again on every poll.
    again = run_pull(runner, pull)
    assert again["status"] == "blocked" and again["blocked"]["reason"].startswith("not eligible")
