"""The token budget (codex.maxTokens) end to end: real hub over HTTP, real git, the agent a real process
(tests/support/fake_agent.py) that reports its usage on stdout the way Codex's `--json` events do."""

import json
import subprocess
from pathlib import Path

from cxo.runner import run_issue
from tests.e2e.test_run_auto import branch_exists, comments_of, labels_of, open_issue, pulls, run_exe
from tests.support.git_fixtures import GOOD_REPORT, scripted_agent

CALC = "def add(a, b):\n    return a + b\n\n\ndef multiply(a, b):\n    return a * b\n"
TEST = "from app.calc import multiply\n\n\ndef test_multiply():\n    assert multiply(6, 7) == 42\n"
SECRETISH = "AGENT-LOG-ONLY-7f3a"  # printed by the agent: its log never reaches public text


def usage_line(inp, cached, out):
    return json.dumps({"type": "turn.completed", "usage": {"input_tokens": inp, "cached_input_tokens": cached,
                                                           "output_tokens": out, "reasoning_output_tokens": 0}})


def git_out(cwd, *args):
    """git as the runner sees a work tree: its own git directory for the tree (the `.git` inside is the agent's
    repository, and the runner's kept commit is not the agent's to show)."""
    from cxo.gitutil import runner_view

    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True,
                          env={**__import__("os").environ, **runner_view(cwd)}).stdout


def test_a_token_budget_stop_keeps_the_work_locally_and_continue_finishes_to_a_pr(target_repo, hub_repo, tmp_path):
    seen = tmp_path / "seen"
    seen.mkdir()
    first = [
        {"read_prompt": str(seen / "prompt-1.md")},
        {"write": {"app/calc.py": CALC}},
        {"stdout": SECRETISH},
        {"stdout": usage_line(900, 100, 300)},  # 1,200 tokens: over the 1,000 budget
        {"sleep": 600},  # the runner must stop it; the timeout below is only a backstop
        {"write": {"after-the-budget.txt": "the agent was not stopped\n"}},
        {"report": GOOD_REPORT},
    ]
    # Local commits by the agent are forbidden: the runner's kept commit must not count as one.
    script = scripted_agent(target_repo, tmp_path, first, timeoutSeconds=300, maxTokens=1000,
                            extra_policy={"git": {"allowLocalCommits": False}})
    number = open_issue(hub_repo)["number"]

    stopped = run_issue(target_repo, number)

    assert stopped["status"] == "blocked" and stopped["blocked"]["step"] == "codex"
    reason = stopped["blocked"]["reason"]
    assert "token budget exhausted" in reason and f"cxo-run --issue {number} --continue" in reason
    agent = stopped["codex"]
    assert agent["usage"] == {"input_tokens": 900, "cached_input_tokens": 100, "output_tokens": 300,
                              "total_tokens": 1200}
    assert agent["budget_stopped"] is True and agent["max_tokens"] == 1000 and agent["timed_out"] is False
    tree = stopped["worktree"]
    worktree = tree["path"]
    # Stopped: the agent never got past its sleep. Kept: the work is committed locally by the runner.
    assert not Path(worktree, "after-the-budget.txt").exists()
    kept = agent["kept_sha"]
    assert kept == git_out(worktree, "rev-parse", "HEAD").strip() != tree["base_sha"]
    assert git_out(worktree, "status", "--porcelain") == ""
    assert git_out(worktree, "show", "-s", "--format=%an <%ae>|%s", kept).strip() == \
        f"cxo <cxo@users.noreply.github.com>|cxo: work kept at the token budget (#{number})"
    assert git_out(worktree, "show", f"{kept}:app/calc.py") == CALC
    # Never pushed, no PR; the issue is blocked with a report of what was spent and how to continue.
    assert not branch_exists(hub_repo, tree["branch"]) and pulls(hub_repo) == []
    assert labels_of(hub_repo, number) == ["agent:auto", "agent:blocked"]
    blocked = [c["body"] for c in comments_of(hub_repo, number) if "cxo:blocked" in c["body"]]
    assert len(blocked) == 1
    report = blocked[0]
    assert "### Token budget reached" in report
    assert "**Spent:** 1,200 tokens of the `codex.maxTokens` budget 1,000 (input 900, cached input 100, " \
           "output 300)" in report
    assert f"local commit `{kept[:12]}`" in report
    assert "Diffstat against the base: 1 file(s), +4 -0" in report and "- `app/calc.py` +4 -0" in report
    assert f"`cxo-run --issue {number} --continue`" in report
    assert SECRETISH not in report

    # Continue: a new agent run in the same worktree, told to carry on from the kept work.
    script.write_text(json.dumps([
        {"read_prompt": str(seen / "prompt-2.md")},
        {"check": "grep -q 'def multiply' app/calc.py"},  # the kept work is there
        {"write": {"tests/test_multiply.py": TEST}},
        {"stdout": usage_line(400, 0, 50)},
        {"report": GOOD_REPORT},
    ]))
    proc = run_exe("cxo-run", "--target", str(target_repo), "--issue", str(number), "--continue")
    assert proc.returncode == 0, proc.stderr
    final = json.loads(proc.stdout)

    assert final["status"] == "ok" and final["publish"]["outcome"] == "review"
    assert final["worktree"]["path"] == worktree and final["worktree"]["reused"] is True
    assert final["worktree"]["base_sha"] == tree["base_sha"]
    assert final["claim"]["continue_from"]["run_id"] == stopped["run_id"]
    assert "agent:blocked" in final["claim"]["labels_removed"]
    prompt = (seen / "prompt-2.md").read_text()
    assert "## Continue from the existing changes" in prompt and kept[:12] in prompt
    assert "## Continue from the existing changes" not in (seen / "prompt-1.md").read_text()
    # The gates saw the whole change against the original base; the kept commit is the runner's, not the agent's.
    changes = final["gate"]["changes"]
    assert changes["commits"] == [] and [c["sha"] for c in final["gate"]["kept_commits"]] == [kept]
    assert set(changes["files"]) == {"app/calc.py", "tests/test_multiply.py"}
    assert final["codex"]["usage"]["total_tokens"] == 450 and final["codex"]["budget_stopped"] is False
    prs = pulls(hub_repo)
    assert len(prs) == 1 and prs[0]["draft"] is True and prs[0]["head"]["ref"] == tree["branch"]
    assert labels_of(hub_repo, number) == ["agent:auto", "agent:review"]
    clone = tmp_path / "check"
    subprocess.run(["git", "clone", "-q", "-b", tree["branch"], hub_repo.clone_url, str(clone)], check=True)
    assert (clone / "app" / "calc.py").read_text() == CALC and (clone / "tests" / "test_multiply.py").exists()
    assert kept in git_out(clone, "log", "--format=%H")
    # The PR report shows tokens and wall time per run: the stopped one and the one that finished.
    body = prs[0]["body"]
    assert "### Agent runs: tokens and wall time" in body
    assert f"| `{stopped['run_id']}` | budget stop | 1,200 | 900 | 100 | 300 |" in body
    assert f"| `{final['run_id']}` | finished | 450 | 400 | 0 | 50 |" in body
    assert "| all 2 runs | | 1,650 | 1,300 | 100 | 350 |" in body
    assert "### Work kept at the token budget" in body and SECRETISH not in body
    # cxo-status shows each local run's tokens and wall time.
    from cxo import policy, status

    runs = {r["run_id"]: r for r in status.local_state(policy.load(target_repo))["runs"]}
    assert runs[stopped["run_id"]]["usage"]["total_tokens"] == 1200 and runs[stopped["run_id"]]["budget_stopped"]
    assert runs[final["run_id"]]["usage"]["total_tokens"] == 450
    shown = status.table({"repository": "acme/widgets", "eligible": [], "skipped": [],
                          "local": {"runs": list(runs.values()), "worktrees": []}})
    assert "agent: 1,200 tokens" in shown and "(token budget)" in shown and "agent: 450 tokens" in shown


def test_continue_is_refused_without_a_budget_stop_and_nothing_is_written(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"exit": 1}])
    number = open_issue(hub_repo)["number"]
    assert run_issue(target_repo, number)["status"] == "blocked"
    before = comments_of(hub_repo, number)
    proc = run_exe("cxo-run", "--target", str(target_repo), "--issue", str(number), "--continue")
    assert proc.returncode == 2
    assert "did not stop at the token budget" in proc.stderr
    assert comments_of(hub_repo, number) == before
    assert labels_of(hub_repo, number) == ["agent:auto", "agent:blocked"]
