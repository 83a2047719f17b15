"""ghapi, an independent GitHub client, against the hub: every route the tracker uses, through ghapi's operation
methods (built from GitHub's OpenAPI description: the paths, verbs and parameter names GitHub documents, not
the tracker's). A hub route that only the tracker's own requests could reach would fail here.

Every response is also checked against GitHub's response schemas by the `hub` fixture.
"""

import subprocess
import sys

import pytest
from ghapi.all import APIError, GhApi  # APIError: what ghapi raises for an error status, with its status_code

from tests.hub.test_hub_reviews import CALC, collaborator, commit_push


def client(hub_repo, token=None):
    return GhApi(owner=hub_repo.owner, repo=hub_repo.name, token=token or hub_repo.token,
                           gh_host=hub_repo.url, sync=True)


def test_ghapi_imports_and_builds_its_client_offline():
    """ghapi's operations come from the spec it ships (ghapi/gh_spec.py): no network to import or build a client."""
    code = ("import socket\n"
            "def refuse(*a, **k):\n    raise OSError('network used')\n"
            "socket.socket.connect = socket.create_connection = socket.getaddrinfo = refuse\n"
            "from ghapi.all import GhApi\n"
            "api = GhApi(owner='o', repo='r', token='t', gh_host='http://127.0.0.1:9', sync=True)\n"
            "print(api.issues.create.path, len(api.ops) > 1000)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "NO_PROXY": "*"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["/repos/{owner}/{repo}/issues", "True"]


def test_issues_comments_labels_and_the_user_through_ghapi(hub_repo):
    api = client(hub_repo)
    me = api.users.get_authenticated()
    assert me["login"] == "acme" and me["type"] == "User"
    limits = api.rate_limit.get()
    assert limits["resources"]["core"]["limit"] >= limits["resources"]["core"]["remaining"] >= 0
    assert limits["rate"]["limit"] == limits["resources"]["core"]["limit"]

    label = api.issues.create_label(name="agent:auto", color="0e8a16", description="run cxo")
    assert (label["name"], label["color"], label["description"]) == ("agent:auto", "0e8a16", "run cxo")
    api.issues.create_label(name="agent:review", color="fbca04")
    assert api.issues.get_label("agent:auto")["color"] == "0e8a16"
    assert {x["name"] for x in api.issues.list_labels_for_repo(per_page=100)} >= {"agent:auto", "agent:review"}

    issue = api.issues.create(title="Add multiply", body="calc.multiply(a, b)", labels=["agent:auto"])
    n = issue["number"]
    assert (issue["title"], issue["body"], issue["state"]) == ("Add multiply", "calc.multiply(a, b)", "open")
    assert [x["name"] for x in issue["labels"]] == ["agent:auto"] and issue["user"]["login"] == "acme"
    got = api.issues.get(n)
    assert (got["id"], got["number"], got["title"]) == (issue["id"], n, "Add multiply")
    other = api.issues.create(title="Unlabelled")
    listed = api.issues.list_for_repo(state="open", labels="agent:auto", per_page=100)
    assert [i["number"] for i in listed] == [n]
    assert {i["number"] for i in api.issues.list_for_repo(state="all", per_page=100)} == {n, other["number"]}

    added = api.issues.add_labels(n, labels=["agent:review"])
    assert sorted(x["name"] for x in added) == ["agent:auto", "agent:review"]
    remaining = api.issues.remove_label(n, "agent:auto")
    assert [x["name"] for x in remaining] == ["agent:review"]
    assert [x["name"] for x in api.issues.list_labels_on_issue(n)] == ["agent:review"]
    assert [x["name"] for x in api.issues.set_labels(n, labels=["agent:auto"])] == ["agent:auto"]

    comment = api.issues.create_comment(n, body="cxo: working on it")
    assert comment["body"] == "cxo: working on it" and comment["user"]["login"] == "acme"
    edited = api.issues.update_comment(comment["id"], body="cxo: done")
    assert (edited["id"], edited["body"]) == (comment["id"], "cxo: done")
    assert [(c["id"], c["body"]) for c in api.issues.list_comments(n, per_page=100)] == [(comment["id"], "cxo: done")]

    reaction = api.reactions.create_for_issue(n, content="eyes")
    assert reaction["content"] == "eyes" and reaction["user"]["login"] == "acme"
    assert api.reactions.create_for_issue_comment(comment["id"], content="+1")["content"] == "+1"

    closed = api.issues.update(n, state="closed", title="Add multiply (done)")
    assert (closed["state"], closed["title"], closed["number"]) == ("closed", "Add multiply (done)", n)
    assert api.issues.get(n)["state"] == "closed"
    kinds = [e["event"] for e in api.issues.list_events(n, per_page=100)]
    assert "labeled" in kinds and "closed" in kinds
    timeline = api.issues.list_events_for_timeline(n, per_page=100)
    assert any(e["event"] == "commented" and e["id"] == comment["id"] for e in timeline)

    api.issues.delete_comment(comment["id"])
    assert api.issues.list_comments(n) == []
    with pytest.raises(APIError) as missing:
        api.issues.get(99999)
    assert missing.value.status_code == 404


def test_sub_issues_and_blocked_by_dependencies_through_ghapi(hub_repo):
    api = client(hub_repo)
    parent, child, blocker = (api.issues.create(title=t) for t in ("Tree", "Leaf", "First"))
    linked = api.issues.add_sub_issue(parent["number"], sub_issue_id=child["id"])
    assert linked["number"] == parent["number"]
    assert [(i["number"], i["id"]) for i in api.issues.list_sub_issues(parent["number"])] == [
        (child["number"], child["id"])]
    blocked = api.issues.add_blocked_by_dependency(child["number"], issue_id=blocker["id"])
    assert blocked["number"] == child["number"]
    assert [i["number"] for i in api.issues.list_dependencies_blocked_by(child["number"])] == [blocker["number"]]
    assert api.issues.list_dependencies_blocked_by(blocker["number"]) == []


def test_pulls_reviews_review_comments_and_refs_through_ghapi(hub_repo, tmp_path):
    collaborator(hub_repo.api, "cxo-bot")  # opening a PR from a branch of the repository takes push access
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", hub_repo.clone_url, str(work)], check=True, capture_output=True)
    subprocess.run(["git", "checkout", "-q", "-b", "cxo/1-multiply"], cwd=work, check=True)
    sha = commit_push(hub_repo, work, "cxo/1-multiply",
                      {"app/calc.py": CALC + "\n\ndef multiply(a, b):\n    return a * b\n"}, "multiply")
    bot, owner = client(hub_repo, "as:cxo-bot"), client(hub_repo)

    ref = bot.git.get_ref("heads/cxo/1-multiply")
    assert (ref["ref"], ref["object"]["sha"], ref["object"]["type"]) == ("refs/heads/cxo/1-multiply", sha, "commit")
    with pytest.raises(APIError) as no_ref:
        bot.git.get_ref("heads/nothing-here")
    assert no_ref.value.status_code == 404

    pr = bot.pulls.create(title="Add multiply (#1)", head="cxo/1-multiply", base="main", body="Closes #1", draft=True)
    n = pr["number"]
    assert (pr["title"], pr["draft"], pr["state"], pr["head"]["ref"], pr["head"]["sha"], pr["base"]["ref"]) == (
        "Add multiply (#1)", True, "open", "cxo/1-multiply", sha, "main")
    assert pr["user"]["login"] == "cxo-bot"
    assert bot.pulls.get(n)["head"]["sha"] == sha
    found = bot.pulls.list(head="acme:cxo/1-multiply", state="all", sort="created", direction="desc", per_page=100)
    assert [p["number"] for p in found] == [n]
    updated = bot.pulls.update(n, body="Closes #1\n\nreport", title="Add multiply (#1, v2)")
    assert (updated["body"], updated["title"]) == ("Closes #1\n\nreport", "Add multiply (#1, v2)")
    assert [c["sha"] for c in bot.pulls.list_commits(n)] == [sha]
    assert [(f["filename"], f["status"]) for f in bot.pulls.list_files(n)] == [("app/calc.py", "modified")]

    review = owner.pulls.create_review(n, event="REQUEST_CHANGES", body="rename it",
                                       comments=[{"path": "app/calc.py", "line": 5, "body": "call it times"}])
    assert (review["state"], review["body"], review["commit_id"]) == ("CHANGES_REQUESTED", "rename it", sha)
    assert [r["id"] for r in bot.pulls.list_reviews(n)] == [review["id"]]
    assert bot.pulls.get_review(n, review["id"])["state"] == "CHANGES_REQUESTED"
    [inline] = bot.pulls.list_comments_for_review(n, review["id"])
    assert (inline["path"], inline["line"], inline["body"]) == ("app/calc.py", 5, "call it times")

    single = owner.pulls.create_review_comment(n, body="and a docstring", commit_id=sha, path="app/calc.py", line=6,
                                               side="RIGHT")
    assert (single["path"], single["line"], single["commit_id"]) == ("app/calc.py", 6, sha)
    reply = bot.pulls.create_reply_for_review_comment(n, inline["id"], body="renamed")
    assert reply["in_reply_to_id"] == inline["id"] and reply["body"] == "renamed"
    every = bot.pulls.list_review_comments(n, per_page=100)
    assert [c["id"] for c in every] == [inline["id"], single["id"], reply["id"]]
    assert bot.reactions.create_for_pull_request_review_comment(inline["id"], content="rocket")["content"] == "rocket"

    with pytest.raises(APIError) as unmerged:  # 404: not merged (GitHub's answer, not an error)
        bot.pulls.check_if_merged(n)
    assert unmerged.value.status_code == 404
    assert bot.pulls.update(n, state="closed")["state"] == "closed"
