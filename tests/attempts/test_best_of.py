"""Best-of-N attempts (lib/cxo/attempts/) end to end: real hub, real git, real sandbox, scripted agents
(tests/support/fake_agent.py) whose attempt k passes or fails by a seed file the test writes (CXO_ATTEMPT)."""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from cxo.runner import run_issue
from tests.support.git_fixtures import FAKE_AGENT, GOOD_REPORT, git, scripted_agent

TESTS = "from app.calc import multiply\n\n\ndef test_multiply():\n    assert multiply(6, 7) == 42\n"


def calc(extra: str = "") -> str:
    return "def add(a, b):\n    return a + b\n\n\ndef multiply(a, b):\n" + extra + "    return a * b\n"


def seeded_agent(target, tmp_path, seeds: Path, per_attempt: dict[int, str] | None = None, extra_policy=None,
                 **codex) -> Path:
    """An agent that writes multiply (attempt k's variant: `per_attempt[k]` lines inside it, else a comment naming
    the attempt), then passes only when the seed file pass-<issue>-<k> exists: a failing attempt leaves its work."""
    seeds.mkdir(exist_ok=True)
    variants = {str(k): text for k, text in (per_attempt or {}).items()}
    write = ("import os, json, pathlib; k = os.environ['CXO_ATTEMPT']; "
             f"variants = json.loads({json.dumps(json.dumps(variants))}); "
             "body = variants.get(k, '    # attempt ' + k + '\\n'); "
             f"src = {calc('@@')!r}.replace('@@', body); "
             "pathlib.Path('app/calc.py').write_text(src)")
    actions = [{"write": {"tests/test_multiply.py": TESTS}},
               {"check": f"{sys.executable} -c {_quote(write)}"},
               {"check": f'test -f "{seeds}/pass-$CODEX_ORCHESTRATOR_ISSUE_NUMBER-$CXO_ATTEMPT"'},
               {"report": GOOD_REPORT}]
    policy = dict(extra_policy or {})
    policy.setdefault("agent", {})
    policy["agent"] = {**policy["agent"], "readPaths": sorted({*policy["agent"].get("readPaths", []), str(seeds)})}
    return scripted_agent(target, tmp_path, actions, extra_policy=policy, **codex)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def open_issue(hub_repo, title="Add multiply"):
    return hub_repo.api.ok("POST", "/repos/acme/widgets/issues",
                           {"title": title, "body": "Add multiply(a, b) to app/calc.py.", "labels": ["agent:auto"]})


def pulls(hub_repo):
    return hub_repo.api.ok("GET", "/repos/acme/widgets/pulls?state=all")


def labels_of(hub_repo, number):
    return sorted(lab["name"] for lab in hub_repo.api.ok("GET", f"/repos/acme/widgets/issues/{number}")["labels"])


def comments_of(hub_repo, number):
    return [c["body"] for c in hub_repo.api.ok("GET", f"/repos/acme/widgets/issues/{number}/comments")]


def seed(seeds: Path, number: int, passing) -> None:
    for k in passing:
        (seeds / f"pass-{number}-{k}").write_text("pass\n")


def test_only_attempt_two_passes_and_is_published_with_all_three_in_the_report(target_repo, hub_repo, tmp_path):
    seeds = tmp_path / "seeds"
    seeded_agent(target_repo, tmp_path, seeds)
    issue = open_issue(hub_repo)
    seed(seeds, issue["number"], [2])
    final = run_issue(target_repo, issue["number"], args=SimpleNamespace(attempts=3))

    assert final["status"] == "ok", final.get("blocked")
    section = final["attempts"]
    assert section["winner"] == 2 and [i["passed"] for i in section["items"]] == [False, True, False]
    assert "only one of the 3 attempts" in section["why"]
    prs = pulls(hub_repo)
    assert len(prs) == 1 and prs[0]["head"]["ref"] == final["worktree"]["branch"]
    clone = tmp_path / "published"
    subprocess.run(["git", "clone", "-q", "-b", prs[0]["head"]["ref"], hub_repo.clone_url, str(clone)], check=True)
    assert "# attempt 2\n" in (clone / "app" / "calc.py").read_text()
    body = prs[0]["body"]
    assert "### Attempts (best of 3)" in body
    for k in (1, 2, 3):
        assert f"\n| {k} | `command`" in body
    assert body.count("agent exited with status 1") == 2 and "🏆 published" in body
    assert labels_of(hub_repo, issue["number"]) == ["agent:auto", "agent:review"]


def test_no_attempt_passes_blocks_and_publishes_nothing_keeping_every_attempt(target_repo, hub_repo, tmp_path):
    from cxo import policy as policy_mod
    from cxo.worktrees import listing

    seeds = tmp_path / "seeds"
    seeded_agent(target_repo, tmp_path, seeds)
    issue = open_issue(hub_repo)
    final = run_issue(target_repo, issue["number"], args=SimpleNamespace(attempts=3))

    assert final["status"] == "blocked" and final["blocked"]["step"] == "run"
    assert final["blocked"]["reason"].startswith("no attempt passed every gate (3 attempts): attempt 1: agent exited")
    assert final["attempts"]["winner"] is None and not any(i["passed"] for i in final["attempts"]["items"])
    assert pulls(hub_repo) == []
    status, _, _ = hub_repo.api.call("GET", f"/repos/acme/widgets/git/ref/heads/{final['worktree']['branch']}")
    assert status == 404
    assert labels_of(hub_repo, issue["number"]) == ["agent:auto", "agent:blocked"]
    blocked = [b for b in comments_of(hub_repo, issue["number"]) if "cxo:blocked" in b]
    assert len(blocked) == 1 and "### Attempts (best of 3)" in blocked[0]
    assert blocked[0].count("❌ codex: agent exited with status 1") == 3
    assert "**No attempt passed every gate:** nothing was published." in blocked[0]
    assert f"{final['run_id']}/attempt-1/03-codex.json` (each attempt's steps are under `attempt-<k>/`)" in blocked[0]
    assert (Path(final["attempts"]["items"][0]["run_dir"]) / "03-codex.json").is_file()
    # Every attempt's work stays in its own local tree and branch: cxo-worktrees shows them.
    kept = listing(policy_mod.load(target_repo))
    trees = {Path(t["path"]).name: t for t in kept["worktrees"]}
    assert {f"issue-{issue['number']}-attempt-{m}" for m in (1, 2, 3)} <= set(trees)
    for m in (1, 2, 3):
        tree = trees[f"issue-{issue['number']}-attempt-{m}"]
        assert tree["kind"] == "attempt" and tree["branch"].endswith(f"-attempt-{m}") and tree["clean"] is False
        assert f"# attempt {m}\n" in (Path(tree["path"]) / "app" / "calc.py").read_text()
    assert {a["branch"] for a in kept["attempts"]} == {f"{final['worktree']['branch']}-attempt-{m}" for m in (1, 2, 3)}

    # A retry (the blocked label removed) is a new best-of-N run: its attempts come after the kept ones.
    hub_repo.api.ok("DELETE", f"/repos/acme/widgets/issues/{issue['number']}/labels/agent:blocked")
    seed(seeds, issue["number"], [2])
    again = run_issue(target_repo, issue["number"], args=SimpleNamespace(attempts=2))
    assert again["status"] == "ok", again.get("blocked")
    branch = again["worktree"]["branch"]
    assert [i["branch"] for i in again["attempts"]["items"]] == [f"{branch}-attempt-4", f"{branch}-attempt-5"]
    assert again["attempts"]["winner"] == 2
    assert git(target_repo, "show", f"{branch}:app/calc.py") == calc("    # attempt 2\n")
    first = Path(trees[f"issue-{issue['number']}-attempt-1"]["path"])
    assert "# attempt 1\n" in (first / "app" / "calc.py").read_text()  # the earlier attempts' work is untouched

    # cxo-worktrees discard N takes the issue's tree and every attempt's tree and branch.
    from cxo.worktrees import discard

    pol = policy_mod.load(target_repo)
    discard(pol, issue["number"], lambda message: None)
    assert listing(pol) == {"worktrees": [], "attempts": []}


def reviewer_counting_todos(tmp_path) -> dict:
    """A reviewer (fake_agent.py) that approves with one finding per TODO in app/calc.py."""
    code = ("import json, os, pathlib; n = pathlib.Path('app/calc.py').read_text().count('TODO'); "
            "f = [{'file': 'app/calc.py', 'line': 1, 'severity': 'nit', 'message': 'a TODO is left'}] * n; "
            "pathlib.Path(os.environ['CODEX_ORCHESTRATOR_REPORT_FILE']).write_text(json.dumps("
            "{'verdict': 'approve', 'summary': 'fine', 'findings': f}))")
    script = tmp_path / "reviewer-script.json"
    script.write_text(json.dumps([{"check": f"{sys.executable} -c {_quote(code)}"}]))
    return {"command": sys.executable, "args": [str(FAKE_AGENT), "--script", str(script)]}


def test_of_two_passing_attempts_the_one_with_fewer_review_findings_wins(target_repo, hub_repo, tmp_path):
    seeds = tmp_path / "seeds"
    reviewer = reviewer_counting_todos(tmp_path)
    # Attempt 1: the smaller diff, but a TODO the reviewer finds; attempt 2: a bigger diff, no finding.
    seeded_agent(target_repo, tmp_path, seeds, {1: "    # TODO floats\n", 2: "    # the product\n    # of a and b\n"},
                 extra_policy={"reviewGates": {"reviewer": reviewer},
                               "agent": {"readPaths": [str(tmp_path / "reviewer-script.json")]}})
    issue = open_issue(hub_repo)
    seed(seeds, issue["number"], [1, 2])
    final = run_issue(target_repo, issue["number"], args=SimpleNamespace(attempts=2))

    assert final["status"] == "ok", final.get("blocked")
    items = final["attempts"]["items"]
    assert [i["passed"] for i in items] == [True, True]
    assert [i["findings"] for i in items] == [1, 0] and items[0]["diff_lines"] < items[1]["diff_lines"]
    assert final["attempts"]["winner"] == 2
    assert "fewest review findings (0, against 1 for attempt 1)" in final["attempts"]["why"]
    body = pulls(hub_repo)[0]["body"]
    assert "fewest review findings" in body and "✅ passed" in body and "🏆 published" in body


def test_with_equal_findings_the_smallest_diff_wins(target_repo, hub_repo, tmp_path):
    seeds = tmp_path / "seeds"
    seeded_agent(target_repo, tmp_path, seeds, {1: "    # one\n    # two\n    # three\n", 2: "    # one\n"})
    issue = open_issue(hub_repo)
    seed(seeds, issue["number"], [1, 2])
    final = run_issue(target_repo, issue["number"], args=SimpleNamespace(attempts=2))

    assert final["status"] == "ok", final.get("blocked")
    items = final["attempts"]["items"]
    assert [i["findings"] for i in items] == [0, 0] and items[1]["diff_lines"] == items[0]["diff_lines"] - 2
    assert final["attempts"]["winner"] == 2 and "smallest diff" in final["attempts"]["why"]
    clone = tmp_path / "published"
    subprocess.run(["git", "clone", "-q", "-b", final["worktree"]["branch"], hub_repo.clone_url, str(clone)],
                   check=True)
    assert (clone / "app" / "calc.py").read_text() == calc("    # one\n")


def test_attempts_mix_two_agent_specs(target_repo, hub_repo, tmp_path):
    """agent.attempts as a list: attempt 1 is the scripted fake agent, attempt 2 a plain `sh` command."""
    import yaml

    from tests.support.git_fixtures import write_policy

    seeds = tmp_path / "seeds"
    script = seeded_agent(target_repo, tmp_path, seeds)
    shell = (f"cat > app/calc.py <<'X'\n{calc()}X\nmkdir -p tests\ncat > tests/test_multiply.py <<'X'\n{TESTS}X\n"
             f"cat > \"${{reportPath}}\" <<'X'\n{json.dumps(GOOD_REPORT)}\nX\n")
    path = target_repo / ".codex-orchestrator" / "config.yaml"
    policy = yaml.safe_load(path.read_text())
    policy["agent"]["attempts"] = [
        {"kind": "command", "command": sys.executable, "args": [str(FAKE_AGENT), "--script", str(script)]},
        {"kind": "command", "command": "sh", "args": ["-c", shell]}]
    write_policy(target_repo, policy)
    issue = open_issue(hub_repo)
    seed(seeds, issue["number"], [1])  # the fake agent's attempt passes too, with one line more than sh's

    final = run_issue(target_repo, issue["number"])

    assert final["status"] == "ok", final.get("blocked")
    items = final["attempts"]["items"]
    assert final["attempts"]["n"] == 2 and [i["passed"] for i in items] == [True, True], [i["reason"] for i in items]
    assert [i["agent"]["command"] for i in items] == [sys.executable, "sh"]
    saved = json.loads((Path(items[1]["run_dir"]) / "03-codex.json").read_text())
    assert saved["codex"]["command"][:2] == ["sh", "-c"]
    assert saved["attempt"] == {"k": 2, "of": 2, "agent": items[1]["agent"]}
    assert final["attempts"]["winner"] == 2 and "smallest diff" in final["attempts"]["why"]
    # The winner's work is on the issue's real branch, here as on the hub.
    assert git(target_repo, "show", f"{final['worktree']['branch']}:app/calc.py") == calc()
    body = pulls(hub_repo)[0]["body"]
    assert "| 1 | `command` `python" in body and "| 2 | `command` `sh` |" in body
