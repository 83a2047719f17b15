"""Single steps on real git and the hub: claims, worktrees, and gates called alone."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cxo import envelope
from cxo import policy as policy_mod
from cxo.connect import tracker_for
from cxo.github.claims import claim_comment, earliest_live, make_claim, parse_claims
from cxo.steps import claim, worktree
from tests.support.git_fixtures import commit_all, git, write, write_policy
from tests.support.hub_fixtures import push_dir

BIN = Path(sys.executable).parent
R = "/repos/acme/widgets"


def claimed(target, number, run_id=None):
    pol = policy_mod.load(target)
    return claim.run(envelope.new(target, number, run_id), policy=pol, say=lambda m: None), pol


def test_claim_marker_round_trip_and_earliest_live():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    live = make_claim("20260101T000000Z-aaaaaa", "r1", "h1", 1, 600, now)
    stale = make_claim("20260101T000000Z-bbbbbb", "r2", "h2", 2, 60, now - timedelta(hours=1))
    comments = [{"id": 5, "body": claim_comment(stale)}, {"id": 9, "body": claim_comment(live)},
                {"id": 7, "body": "just a comment <!-- cxo:claim {broken -->"}]
    claims = parse_claims(comments)
    assert [c["comment_id"] for c in claims] == [5, 9]
    assert earliest_live(claims, now)["run_id"] == live["run_id"]
    from cxo.github.claims import done_marker, finished_runs

    done = finished_runs([{"id": 11, "body": "report " + done_marker(live["run_id"])}])
    assert done == {live["run_id"]} and earliest_live(claims, now, done) is None


def test_claim_adds_running_and_a_claim_comment(target_repo, hub_repo):
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Fix it", "labels": ["agent:auto"]})["number"]
    env, _ = claimed(target_repo, number)
    assert env["status"] == "ok" and env["claim"]["issue"]["mode"] == "auto"
    labels = [lab["name"] for lab in hub_repo.api.ok("GET", f"{R}/issues/{number}")["labels"]]
    assert labels == ["agent:auto", "agent:running"]
    comments = hub_repo.api.ok("GET", f"{R}/issues/{number}/comments")
    assert len(comments) == 1 and env["run_id"] in comments[0]["body"]


def test_a_second_claim_while_the_first_is_live_is_refused(target_repo, hub_repo):
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Race", "labels": ["agent:auto"]})["number"]
    pol = policy_mod.load(target_repo)
    tracker = tracker_for(pol)
    rival = make_claim("20260101T000000Z-cccccc", "other-host", "other", 1, 900)
    tracker.create_comment(number, claim_comment(rival))  # an earlier live claim, labels not yet moved
    env, _ = claimed(target_repo, number)
    assert env["status"] == "blocked" and "claimed by another runner" in env["blocked"]["reason"]
    bodies = [c["body"] for c in hub_repo.api.ok("GET", f"{R}/issues/{number}/comments")]
    assert len(bodies) == 1 and rival["run_id"] in bodies[0]  # ours was withdrawn


def test_worktree_comes_from_the_freshly_fetched_base(target_repo, hub_repo, tmp_path):
    # Someone pushes to main after the target was cloned: the worktree must contain it.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", hub_repo.clone_url, str(other))
    write(other, "NEW.md", "fresh\n")
    fresh = commit_all(other, "fresh commit")
    push_dir(other, hub_repo.clone_url, hub_repo.token)
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Use base", "labels": ["agent:auto"]})["number"]
    env, pol = claimed(target_repo, number)
    env = worktree.run(env, policy=pol, say=lambda m: None)
    tree = env["worktree"]
    assert tree["base_sha"] == fresh and (Path(tree["path"]) / "NEW.md").is_file()
    assert tree["branch"] == f"agent/issue-{number}-use-base" and tree["reused"] is False
    # A clean worktree on that branch is reused; a dirty one is kept and blocks.
    env2 = {k: v for k, v in env.items() if k != "worktree"}
    reused = worktree.run(json.loads(json.dumps(env2)), policy=pol, say=lambda m: None)
    assert reused["worktree"]["reused"] is True and reused["worktree"]["base_sha"] == fresh
    write(Path(tree["path"]), "dirty.txt", "x")
    dirty = worktree.run(json.loads(json.dumps(env2)), policy=pol, say=lambda m: None)
    assert dirty["status"] == "blocked" and "uncommitted changes" in dirty["blocked"]["reason"]
    assert (Path(tree["path"]) / "dirty.txt").read_text() == "x"


def test_missing_base_branch_blocks(target_repo, hub_repo):
    write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url},
                               "git": {"baseBranch": "develop"}})
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "x", "labels": ["agent:auto"]})["number"]
    env, pol = claimed(target_repo, number)
    env = worktree.run(env, policy=pol, say=lambda m: None)
    assert env["status"] == "blocked" and "cannot fetch base branch origin/develop" in env["blocked"]["reason"]


def gate_alone(repo, name, base, head, *extra):
    proc = subprocess.run([str(BIN / "cxo-gate"), name, "--worktree", str(repo), "--base", base, "--head", head,
                           *extra], capture_output=True, text=True)
    return proc.returncode, json.loads(proc.stdout)


def test_a_single_gate_on_any_range_gives_the_pipeline_verdict(git_repo):
    base = git(git_repo, "rev-parse", "HEAD").strip()
    write(git_repo, "config/.env", "TOKEN=x\n")
    write(git_repo, "app/keys.py", 'API_KEY = "abcdefghijklmnop1234"\n')
    head = commit_all(git_repo, "oops")
    code, verdict = gate_alone(git_repo, "safety", base, head)
    assert code == 1 and verdict["verdict"] == "fail"
    rules = sorted(f["rule"] for f in verdict["findings"])
    assert rules == ["deny-path", "secret"]
    assert "abcdefghijklmnop1234" not in json.dumps(verdict)

    from cxo.gates.base import GateContext, run_one
    from cxo.gates.safety import SafetyGate
    from cxo.gitutil import collect_changes

    ctx = GateContext(worktree=git_repo, base=base, head=head, policy=policy_mod.load(git_repo, infer_repo=False),
                      changes=collect_changes(git_repo, base, head), run_dir=git_repo.parent / "logs",
                      say=lambda m: None)
    inside = run_one(SafetyGate(), ctx)
    assert {k: v for k, v in inside.items() if k != "duration_seconds"} == {
        k: v for k, v in verdict.items() if k != "duration_seconds"}


def test_single_gate_cli_passes_checks_and_rejects_unknown_names(git_repo):
    write_policy(git_repo, {"checks": [{"name": "unit", "command": f"{sys.executable} -m pytest -q "
                                                                   "-p no:cacheprovider"}]})
    base = git(git_repo, "rev-parse", "HEAD").strip()
    write(git_repo, "app/calc.py", "def add(a, b):\n    return b + a\n")
    head = commit_all(git_repo, "commute")
    code, verdict = gate_alone(git_repo, "checks", base, head)
    assert code == 0 and verdict["verdict"] == "pass" and verdict["evidence"][0]["exit_code"] == 0
    proc = subprocess.run([str(BIN / "cxo-gate"), "nonsense", "--worktree", str(git_repo), "--base", base],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "choose one of" in proc.stderr


def test_an_envelope_whose_worktree_path_is_gone_or_a_file_is_refused_by_every_step(target_repo, hub_repo, tmp_path):
    # Exit 2 and one line naming worktree.path, not exit 70 and a crash log; nothing changed on GitHub.
    import os

    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "Gone tree", "labels": ["agent:auto"]})["number"]
    env, pol = claimed(target_repo, number)
    env = worktree.run(env, policy=pol, say=lambda m: None)
    assert env["status"] == "ok"
    real = Path(env["worktree"]["path"])
    sha = env["worktree"]["base_sha"]
    env["codex"] = {"agent": "command", "command": ["true"], "exit_code": 0, "prompt_path": str(tmp_path / "p.md"),
                    "report_path": str(tmp_path / "r.json"), "report": None}
    env["gate"] = {"changes": {"base": sha, "head": sha, "commits": [], "committed": [], "staged": [],
                               "unstaged": [], "untracked": [], "deleted": [], "files": ["a.txt"]},
                   "passed": True, "verdicts": []}
    a_file = pol.workspace_root / "a-file"
    a_file.write_text("not a directory\n")
    crash_dir = Path(os.environ["XDG_STATE_HOME"]) / "cxo" / "crash"
    writes = hub_repo.api.admin("GET", "/_hub/stats")["writes"]
    for where in (pol.workspace_root / "issue-gone", a_file):
        for step in ("codex", "gate", "publish", "plan", "integrate"):
            bad = json.loads(json.dumps(env))
            bad["worktree"]["path"] = str(where)
            proc = subprocess.run([str(BIN / f"cxo-{step}")], input=json.dumps(bad), capture_output=True,
                                  text=True, timeout=120, env={**os.environ, "GITHUB_TOKEN": hub_repo.token})
            lines = proc.stderr.splitlines()
            assert proc.returncode == 2 and len(lines) == 1, (step, where, proc.stderr)
            assert "worktree.path" in lines[0] and "Traceback" not in proc.stderr and proc.stdout == ""
    assert not crash_dir.exists() or not any(crash_dir.iterdir())
    assert hub_repo.api.admin("GET", "/_hub/stats")["writes"] == writes
    assert a_file.read_text() == "not a directory\n" and real.is_dir()
