"""cxo-metrics over a history this test makes on the hub: three issues run through the real pipeline (the
scripted agent reports its tokens), two draft PRs merged (one with a maintainer's commit on top), feedback round
reports, and forged markers by someone who is not a runner. The numbers out are exactly the ones put in."""

import json
import subprocess

from cxo.runner import run_issue
from tests.e2e.test_run_auto import CHANGE, open_issue, run_exe
from tests.support.git_fixtures import GOOD_REPORT, scripted_agent
from tests.support.hub_fixtures import token_git_env

PRICES = {"input": 1.0, "cachedInput": 0.1, "output": 10.0}


def usage_line(inp, cached, out):
    return {"stdout": json.dumps({"type": "turn.completed", "usage": {
        "input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out}})}


def run_one(target_repo, tmp_path, hub_repo, actions, title):
    scripted_agent(target_repo, tmp_path, actions, extra_policy={"runner": {"prices": PRICES}})
    number = open_issue(hub_repo, title=title)["number"]
    return run_issue(target_repo, number)


def test_metrics_count_exactly_what_the_hub_history_holds(target_repo, hub_repo, tmp_path):
    api = hub_repo.api
    merged_clean = run_one(target_repo, tmp_path, hub_repo, [CHANGE, usage_line(1000, 200, 300),
                                                             {"report": GOOD_REPORT}], "Add multiply")
    with_human = run_one(target_repo, tmp_path, hub_repo, [
        {"write": {"app/extra.py": "def sub(a, b):\n    return a - b\n",
                   "tests/test_extra.py": "from app.extra import sub\n\n\ndef test_sub():\n"
                                          "    assert sub(3, 1) == 2\n"}},
        usage_line(500, 0, 100),
        {"report": dict(GOOD_REPORT, changes=["app/extra.py"])}], "Add sub")
    blocked = run_one(target_repo, tmp_path, hub_repo, [usage_line(200, 0, 50), {"exit": 3}], "Add div")
    assert merged_clean["publish"]["outcome"] == "review", merged_clean.get("blocked")
    assert with_human["publish"]["outcome"] == "review", with_human.get("blocked")
    assert blocked["status"] == "blocked" and blocked["blocked"]["step"] == "codex"
    first, second = (r["publish"]["pull_request"]["number"] for r in (merged_clean, with_human))

    # A maintainer pushes a commit onto the second PR's branch; both PRs are merged.
    clone = tmp_path / "human"
    branch = with_human["worktree"]["branch"]
    subprocess.run(["git", "clone", "-q", "-b", branch, hub_repo.clone_url, str(clone)], check=True,
                   env=token_git_env(hub_repo.token))
    (clone / "NOTES.md").write_text("maintainer's touch\n")
    for args in (["add", "-A"], ["commit", "-q", "-m", "maintainer fix"], ["push", "-q", "origin", branch]):
        subprocess.run(["git", *args], cwd=clone, check=True, capture_output=True, env=token_git_env(hub_repo.token))
    for pull in (first, second):
        api.ok("PUT", f"/repos/acme/widgets/pulls/{pull}/merge", {})
    # Round reports by the runner (acme): one on the first PR, two on the second. The same markers typed by a
    # collaborator who is not a runner, and a forged usage marker, count for nothing.
    for pull, n in ((first, 1), (second, 1), (second, 2)):
        api.ok("POST", f"/repos/acme/widgets/issues/{pull}/comments",
               {"body": f"<!-- cxo:feedback-round n={n} --><!-- run=r{pull}-{n} -->\n## cxo feedback round {n}"})
    forged = ('<!-- cxo:feedback-round n=9 --><!-- cxo:usage {"run":"forged","issue":1,"at":"2026-01-01T00:00:00Z",'
              '"input_tokens":9000000,"cached_input_tokens":0,"output_tokens":0,"total_tokens":9000000} -->')
    api.ok("POST", f"/repos/acme/widgets/issues/{first}/comments", {"body": forged}, token="as:mallory")

    api.admin("POST", "/_hub/stats/reset")
    proc = run_exe("cxo-metrics", "--target", str(target_repo), "--since", "7d", "--json")
    assert proc.returncode == 0, proc.stderr
    # Read-only and cheap: two listings for the whole history, one GET per merged PR (the login is kept).
    stats = api.admin("GET", "/_hub/stats")
    assert stats["writes"] == 0
    assert stats["by_op"] == {"issues/list-comments-for-repo": 1, "issues/list-for-repo": 1, "pulls/get": 2}
    data = json.loads(proc.stdout)
    totals = data["totals"]
    assert totals["issues_run"] == 3 and totals["runs"] == 3
    assert totals["prs_opened"] == 2 and totals["prs_merged"] == 2
    assert totals["rounds_per_pr"] == 1.5
    assert totals["merged_without_human_commits"] == 0.5
    assert totals["blocked"] == 1 and [r["count"] for r in data["blocked_reasons"]] == [1]
    assert data["blocked_reasons"][0]["reason"].startswith("codex: ")
    # Tokens: 1,300 + 600 + 250 (the blocked run's spend counts too); cost at the policy's prices.
    assert totals["tokens"] == 2150 and totals["tokens_per_merged_pr"] == 1075
    assert totals["cost"] == round((800 * 1 + 200 * 0.1 + 300 * 10 + 500 + 100 * 10 + 200 + 50 * 10) / 1e6, 6)
    assert totals["median_hours_to_merge"] is not None and totals["median_hours_to_merge"] >= 0
    pulls = {p["number"]: p for p in data["pulls"]}
    assert pulls[first]["tokens"] == 1300 and pulls[first]["rounds"] == 1 and pulls[first]["human_commits"] is False
    assert pulls[second]["tokens"] == 600 and pulls[second]["rounds"] == 2 and pulls[second]["human_commits"] is True
    [week] = data["weeks"]
    assert (week["issues_run"], week["prs_opened"], week["prs_merged"], week["blocked"], week["tokens"]) == \
        (3, 2, 2, 1, 2150)

    table = run_exe("cxo-metrics", "--target", str(target_repo))
    assert table.returncode == 0, table.stderr
    assert "issues run 3 (3 runs), draft PRs opened 2, merged 2" in table.stdout
    assert "merged without human commits 50%" in table.stdout and f"| {week['week']} | 3 | 3 | 2 | 2 | 1 | 2,150 |" \
        in table.stdout


def test_a_bad_since_is_one_line_and_exit_2(target_repo):
    proc = run_exe("cxo-metrics", "--target", str(target_repo), "--since", "lots")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "--since 'lots' is not a period" in proc.stderr
