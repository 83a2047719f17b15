"""Pacing to the reviewers (lib/cxo/pace.py): concurrency.maxOpenPullRequests(PerOwner) hold new issues back while
that many cxo PRs wait for review; cxo-run refuses before any write, the daemon skips them, cxo-status says why;
a merged PR releases the limit. Real hub, real git, real cxo processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

from cxo import policy as policy_mod
from cxo.connect import tracker_for
from cxo.daemon import Daemon
from cxo.pace import Pace, hold, owners_of, parse_codeowners
from tests.support.git_fixtures import GOOD_REPORT, commit_all, scripted_agent, write

BIN = Path(sys.executable).parent
R = "/repos/acme/widgets"
CALC = {"write": {"app/calc.py": "def add(a, b):\n    return a + b\n\n\ndef multiply(a, b):\n    return a * b\n",
                  "tests/test_multiply.py": "from app.calc import multiply\n\n\ndef test_multiply():\n"
                                            "    assert multiply(6, 7) == 42\n"}}
SUBTRACT = {"write": {"app/minus.py": "def subtract(a, b):\n    return a - b\n",
                      "tests/test_minus.py": "from app.minus import subtract\n\n\ndef test_subtract():\n"
                                             "    assert subtract(6, 7) == -1\n"}}
NOTES = {"write": {"NOTES.md": "notes\n"}}


def run(name, target, *args):
    return subprocess.run([str(BIN / name), "--target", str(target), *args], capture_output=True, text=True,
                          env={**os.environ, "GITHUB_TOKEN": "as:acme"}, timeout=180)


def new_issue(hub_repo, title):
    return hub_repo.api.ok("POST", f"{R}/issues", {"title": title, "labels": ["agent:auto"]})["number"]


def labels_of(hub_repo, number):
    return sorted(lab["name"] for lab in hub_repo.api.ok("GET", f"{R}/issues/{number}")["labels"])


def writes(hub_repo):
    return hub_repo.api.admin("GET", "/_hub/stats")["writes"]


def open_pulls(hub_repo):
    return {p["number"]: p for p in hub_repo.api.ok("GET", f"{R}/pulls?state=open")}


def status(target):
    proc = run("cxo-status", target, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_two_open_cxo_prs_hold_the_third_issue_until_one_is_merged(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CALC, {"report": GOOD_REPORT}],
                   extra_policy={"concurrency": {"maxOpenPullRequests": 2}})
    first, second, third = (new_issue(hub_repo, f"task {n}") for n in range(3))
    for number in (first, second):
        proc = run("cxo-run", target_repo, "--issue", str(number))
        assert proc.returncode == 0, proc.stderr
    assert len(open_pulls(hub_repo)) == 2

    # cxo-run refuses the third before the claim: no label, no comment, not one write.
    before = writes(hub_repo)
    proc = run("cxo-run", target_repo, "--issue", str(third))
    assert proc.returncode == 3, proc.stderr
    assert "waiting for reviewers: 2 of 2 cxo PRs open" in proc.stderr
    assert json.loads(proc.stdout)["blocked"]["details"]["claimed"] is False
    assert writes(hub_repo) == before
    assert labels_of(hub_repo, third) == ["agent:auto"]
    assert hub_repo.api.ok("GET", f"{R}/issues/{third}/comments") == []

    # cxo-run --dry-run says the same, writing nothing.
    dry = run("cxo-run", target_repo, "--issue", str(third), "--dry-run")
    assert dry.returncode == 3 and "waiting for reviewers: 2 of 2 cxo PRs open" in dry.stderr, dry.stderr
    assert writes(hub_repo) == before

    # The daemon skips it and says why; cxo-status lists it as skipped with the reason.
    proc = run("cxo-daemon", target_repo, "--once")
    assert proc.returncode == 0, proc.stderr
    assert f"running issue #{third}" not in proc.stderr
    assert f"waiting for reviewers: 2 of 2 cxo PRs open: holding back #{third}" in proc.stderr
    assert writes(hub_repo) == before and labels_of(hub_repo, third) == ["agent:auto"]
    result = status(target_repo)
    skipped = {item["number"]: item for item in result["skipped"]}
    assert skipped[third]["reason"] == "waiting for reviewers: 2 of 2 cxo PRs open"
    assert result["eligible"] == [] and result["work"] == []
    assert result["pace"]["maxOpenPullRequests"] == 2 and len(result["pace"]["open"]) == 2
    text = run("cxo-status", target_repo)
    assert f"{third}" in text.stdout and "skipped  waiting for reviewers: 2 of 2 cxo PRs open" in text.stdout

    # A merged PR releases the limit: the third runs.
    pull = min(open_pulls(hub_repo))
    hub_repo.api.ok("PUT", f"{R}/pulls/{pull}/merge", {})
    assert [item["number"] for item in status(target_repo)["eligible"]] == [third]
    scripted_agent(target_repo, tmp_path, [SUBTRACT, {"report": GOOD_REPORT}],  # main has CALC now
                   extra_policy={"concurrency": {"maxOpenPullRequests": 2}})
    proc = run("cxo-daemon", target_repo, "--once")
    assert proc.returncode == 0, proc.stderr
    assert f"running issue #{third}" in proc.stderr
    assert labels_of(hub_repo, third) == ["agent:auto", "agent:review"]
    assert len(open_pulls(hub_repo)) == 2


def test_status_gives_the_places_left_to_the_oldest_issues(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [CALC, {"report": GOOD_REPORT}],
                   extra_policy={"concurrency": {"maxOpenPullRequests": 1}})
    first, second = new_issue(hub_repo, "one"), new_issue(hub_repo, "two")
    result = status(target_repo)
    assert [item["number"] for item in result["eligible"]] == [first]
    assert {item["number"]: item["reason"] for item in result["skipped"]}[second] == (
        "waiting for reviewers: 0 of 1 cxo PRs open, the 1 place(s) left go to older issues")
    assert result["work"] == [{"kind": "issue", "number": first}]


def test_a_code_owner_with_that_many_waiting_prs_holds_new_issues_back(target_repo, hub_repo, tmp_path):
    write(target_repo, ".github/CODEOWNERS", "# owners\n* @lead\napp/ @alice @acme/core\n*.md\n")
    commit_all(target_repo, "codeowners")
    scripted_agent(target_repo, tmp_path, [NOTES, {"report": GOOD_REPORT}],
                   extra_policy={"concurrency": {"maxOpenPullRequestsPerOwner": 1}})
    docs, code, later = (new_issue(hub_repo, f"task {n}") for n in range(3))
    # The first PR changes NOTES.md only, which the last matching line (`*.md`) gives to nobody: no owner is full.
    assert run("cxo-run", target_repo, "--issue", str(docs)).returncode == 0
    assert status(target_repo)["pace"]["owners"] == {}
    scripted_agent(target_repo, tmp_path, [CALC, {"report": GOOD_REPORT}],
                   extra_policy={"concurrency": {"maxOpenPullRequestsPerOwner": 1}})
    proc = run("cxo-run", target_repo, "--issue", str(code))
    assert proc.returncode == 0, proc.stderr
    pull = next(n for n, p in open_pulls(hub_repo).items() if f"issue={code}" in p["body"])

    # app/calc.py is @alice's and @acme/core's, its test @lead's: each has 1 of 1 cxo PRs waiting, so no new issue
    # starts.
    before = writes(hub_repo)
    proc = run("cxo-run", target_repo, "--issue", str(later))
    assert proc.returncode == 3
    assert f"waiting for reviewers: @acme/core has 1 of 1 cxo PRs open (#{pull})" in proc.stderr
    assert writes(hub_repo) == before and labels_of(hub_repo, later) == ["agent:auto"]
    result = status(target_repo)
    assert result["pace"]["owners"] == {"@acme/core": [pull], "@alice": [pull], "@lead": [pull]}
    assert {item["number"]: item["reason"] for item in result["skipped"]}[later].startswith(
        "waiting for reviewers: @acme/core has 1 of 1")

    # The daemon holds it back too, and a poll with nothing new costs no rate limit (conditional listings).
    pol = policy_mod.load(target_repo)
    daemon = Daemon(pol, tracker_for(pol), say=lambda m: None)
    assert daemon.cycle()["paced"] == [later]
    billable = hub_repo.api.admin("GET", "/_hub/stats")["billable"]
    assert daemon.cycle()["paced"] == [later]
    assert hub_repo.api.admin("GET", "/_hub/stats")["billable"] == billable

    hub_repo.api.ok("PATCH", f"{R}/pulls/{pull}", {"state": "closed"})  # closed unmerged: released as well
    assert [item["number"] for item in status(target_repo)["eligible"]] == [later]


def test_codeowners_rules_match_like_gitignore_and_the_last_match_wins():
    rules = parse_codeowners("# comment\n\n*       @all\n/docs/  @docs  # the docs team\napp/**/*.py @py\n"
                             "app/generated/ \n")
    assert owners_of("README.md", rules) == ["@all"]
    assert owners_of("docs/guide/intro.md", rules) == ["@docs"]
    assert owners_of("sub/docs/x.md", rules) == ["@all"]  # a leading slash anchors at the root
    assert owners_of("app/deep/calc.py", rules) == ["@py"]
    assert owners_of("app/generated/x.py", rules) == []  # a rule without owners: owned by nobody
    assert owners_of("x", []) == []


def test_hold_keeps_the_oldest_and_no_limit_holds_nothing():
    assert hold(None, [3, 4]) == ([3, 4], {})
    assert hold(Pace(None, None), [3]) == ([3], {})
    started, held = hold(Pace(3, None, pulls=[1]), [5, 6, 7])
    assert started == [5, 6] and held == {7: "waiting for reviewers: 1 of 3 cxo PRs open, the 2 place(s) left go "
                                              "to older issues"}
    full = Pace(None, 2, pulls=[1, 2], owners={"@a": [1, 2], "@b": [2]})
    assert full.room() == 0 and full.full_owners() == ["@a"]
    assert hold(full, [9])[1][9] == "waiting for reviewers: @a has 2 of 2 cxo PRs open (#1, #2)"
