"""Reviews, review comments, replies, reactions, PR commits/files/merged and issue events on the hub.

Every response is checked against GitHub's schemas by the `hub` fixture (it fails the test otherwise)."""

import os
import subprocess

from tests.support.hub_fixtures import GIT_ENV, push_dir

R = "/repos/acme/widgets"
CALC = "def add(a, b):\n    return a + b\n"


def commit_push(hub_repo, work, branch, files, message):
    for rel, text in files.items():
        path = work / rel
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "add", "-A"], cwd=work, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=work, check=True, env=env)
    push_dir(work, hub_repo.clone_url, hub_repo.token, branch)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, check=True, capture_output=True,
                          text=True).stdout.strip()


def open_pr(hub_repo, tmp_path, files=None, author="as:acme", body=None):
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", hub_repo.clone_url, str(work)], check=True)
    subprocess.run(["git", "checkout", "-q", "-b", "feature"], cwd=work, check=True)
    files = files or {"app/calc.py": CALC + "\n\ndef sub(a, b):\n    return a - b\n", "notes.txt": "n\n"}
    sha = commit_push(hub_repo, work, "feature", files, "feature")
    pr = hub_repo.api.ok("POST", f"{R}/pulls", {"title": "F", "head": "feature", "base": "main", "draft": True,
                                                 "body": body or ""}, token=author)
    return pr, work, sha


def collaborator(api, login):
    api.ok("PUT", f"{R}/collaborators/{login}", {})


def test_review_with_inline_comments_and_associations(hub_repo, tmp_path):
    api = hub_repo.api
    collaborator(api, "cxo-bot")  # opening a PR from a branch of the repository takes push access
    collaborator(api, "carol")
    pr, _, sha = open_pr(hub_repo, tmp_path, author="as:cxo-bot")
    n = pr["number"]
    review = api.ok("POST", f"{R}/pulls/{n}/reviews", {
        "event": "REQUEST_CHANGES", "body": "please rename",
        "comments": [{"path": "app/calc.py", "line": 5, "body": "call it subtract"}]})
    assert (review["state"], review["commit_id"], review["author_association"]) == ("CHANGES_REQUESTED", sha, "OWNER")
    assert review["user"]["login"] == "acme" and review["submitted_at"]
    approve = api.ok("POST", f"{R}/pulls/{n}/reviews", {"event": "APPROVE"}, token="as:carol")
    assert (approve["state"], approve["author_association"]) == ("APPROVED", "COLLABORATOR")
    stranger = api.ok("POST", f"{R}/pulls/{n}/reviews", {"event": "COMMENT", "body": "lgtm?"}, token="as:mallory")
    assert (stranger["state"], stranger["author_association"]) == ("COMMENTED", "NONE")

    listed = api.ok("GET", f"{R}/pulls/{n}/reviews")
    assert [r["id"] for r in listed] == [review["id"], approve["id"], stranger["id"]]  # chronological
    assert api.ok("GET", f"{R}/pulls/{n}/reviews/{approve['id']}")["state"] == "APPROVED"
    assert api.call("GET", f"{R}/pulls/{n}/reviews/999999")[0] == 404

    [inline] = api.ok("GET", f"{R}/pulls/{n}/reviews/{review['id']}/comments")
    assert inline["path"] == "app/calc.py" and inline["line"] == 5 and inline["side"] == "RIGHT"
    assert inline["commit_id"] == inline["original_commit_id"] == sha
    assert inline["pull_request_review_id"] == review["id"]
    assert inline["diff_hunk"].startswith("@@ ") and inline["diff_hunk"].endswith("+def sub(a, b):")
    assert inline["position"] == inline["original_position"] == 5
    assert "in_reply_to_id" not in inline
    assert api.ok("GET", f"{R}/pulls/{n}/reviews/{approve['id']}/comments") == []
    assert api.ok("GET", f"{R}/pulls/{n}")["review_comments"] == 1


def test_review_rules(hub_repo, tmp_path):
    api = hub_repo.api
    pr, _, _ = open_pr(hub_repo, tmp_path)
    n = pr["number"]
    for body, message in [
        ({"event": "APPROVE"}, "Can not approve your own pull request"),
        ({"event": "REQUEST_CHANGES", "body": "x"}, "Can not request changes on your own pull request"),
    ]:
        status, _, err = api.call("POST", f"{R}/pulls/{n}/reviews", body)
        assert (status, err["errors"]) == (422, [message])
    status, _, err = api.call("POST", f"{R}/pulls/{n}/reviews", {"event": "REQUEST_CHANGES"}, token="as:carol")
    assert status == 422  # requesting changes needs a body
    status, _, err = api.call("POST", f"{R}/pulls/{n}/reviews", {
        "event": "COMMENT", "body": "x", "comments": [{"path": "app/calc.py", "line": 99, "body": "not in diff"}]},
        token="as:carol")
    assert status == 422 and "line" in err["errors"][0]
    status, _, err = api.call("POST", f"{R}/pulls/{n}/reviews", {
        "event": "COMMENT", "body": "x", "comments": [{"path": "nope.py", "line": 1, "body": "no file"}]},
        token="as:carol")
    assert status == 422
    assert api.ok("GET", f"{R}/pulls/{n}/reviews") == []  # a refused review writes nothing
    pending = api.ok("POST", f"{R}/pulls/{n}/reviews", {"body": "draft"}, token="as:carol")
    assert pending["state"] == "PENDING" and "submitted_at" not in pending
    assert api.ok("GET", f"{R}/pulls/{n}/reviews") == []  # only its author sees a pending review
    assert [r["id"] for r in api.ok("GET", f"{R}/pulls/{n}/reviews", token="as:carol")] == [pending["id"]]


def test_review_comments_replies_and_outdated(hub_repo, tmp_path):
    api = hub_repo.api
    pr, work, sha = open_pr(hub_repo, tmp_path)
    n = pr["number"]
    on_sub = api.ok("POST", f"{R}/pulls/{n}/comments", {
        "body": "name?", "commit_id": sha, "path": "app/calc.py", "line": 5, "side": "RIGHT"}, token="as:carol")
    on_notes = api.ok("POST", f"{R}/pulls/{n}/comments", {
        "body": "why?", "commit_id": sha, "path": "notes.txt", "line": 1}, token="as:carol")
    assert on_sub["line"] == 5 and on_sub["position"] == 5 and on_sub["author_association"] == "NONE"
    assert on_sub["pull_request_review_id"] is not None  # a single comment is a COMMENTED review of its own
    reply = api.ok("POST", f"{R}/pulls/{n}/comments/{on_sub['id']}/replies", {"body": "fixed"})
    assert (reply["in_reply_to_id"], reply["path"], reply["line"]) == (on_sub["id"], "app/calc.py", 5)
    assert reply["author_association"] == "OWNER"
    reply2 = api.ok("POST", f"{R}/pulls/{n}/comments", {"body": "again", "in_reply_to": reply["id"]})
    assert reply2["in_reply_to_id"] == on_sub["id"]  # a reply to a reply joins the thread
    assert api.call("POST", f"{R}/pulls/{n}/comments/999999/replies", {"body": "x"})[0] == 404
    status, _, err = api.call("POST", f"{R}/pulls/{n}/comments", {"body": "x", "commit_id": sha,
                                                                  "path": "app/calc.py", "line": 99})
    assert status == 422 and err["errors"][0]["field"] == "line"
    status, _, err = api.call("POST", f"{R}/pulls/{n}/comments", {"body": "x", "path": "app/calc.py", "line": 4})
    assert status == 422 and err["errors"][0]["field"] == "commit_id"

    # A later push: a line inserted above `def sub` moves the comment; notes.txt's only line is rewritten.
    new_sha = commit_push(hub_repo, work, "feature", {
        "app/calc.py": "# calc\n" + CALC + "\n\ndef sub(a, b):\n    return a - b\n", "notes.txt": "changed\n"},
        "second")
    comments = {c["id"]: c for c in api.ok("GET", f"{R}/pulls/{n}/comments")}
    assert list(comments) == [on_sub["id"], on_notes["id"], reply["id"], reply2["id"]]
    moved, outdated = comments[on_sub["id"]], comments[on_notes["id"]]
    assert (moved["line"], moved["original_line"], moved["commit_id"]) == (6, 5, new_sha)
    assert moved["original_commit_id"] == sha and moved["position"] == 6
    assert "position" not in outdated and "line" not in outdated  # this shape has no null position
    assert outdated["original_line"] == 1 and outdated["commit_id"] == sha
    [in_review] = api.ok("GET", f"{R}/pulls/{n}/reviews/{on_notes['pull_request_review_id']}/comments")
    assert in_review["position"] is None  # the review-comment shape: outdated = position null
    newest_first = api.ok("GET", f"{R}/pulls/{n}/comments?direction=desc")
    assert newest_first[0]["id"] == reply2["id"]


def test_reactions_once_per_user_and_content(hub_repo, tmp_path):
    api = hub_repo.api
    issue = api.ok("POST", f"{R}/issues", {"title": "t"})
    comment = api.ok("POST", f"{R}/issues/{issue['number']}/comments", {"body": "@cxo run"})
    status, _, first = api.call("POST", f"{R}/issues/comments/{comment['id']}/reactions", {"content": "+1"})
    assert status == 201 and first["content"] == "+1" and first["user"]["login"] == "acme"
    status, _, again = api.call("POST", f"{R}/issues/comments/{comment['id']}/reactions", {"content": "+1"})
    assert status == 200 and again["id"] == first["id"]
    api.ok("POST", f"{R}/issues/comments/{comment['id']}/reactions", {"content": "+1"}, token="as:carol")
    api.ok("POST", f"{R}/issues/comments/{comment['id']}/reactions", {"content": "eyes"})
    rollup = api.ok("GET", f"{R}/issues/comments/{comment['id']}")["reactions"]
    assert (rollup["+1"], rollup["eyes"], rollup["total_count"]) == (2, 1, 3)
    status, _, err = api.call("POST", f"{R}/issues/comments/{comment['id']}/reactions", {"content": "tada"})
    assert status == 422 and err["errors"][0]["field"] == "content"
    assert api.call("POST", f"{R}/issues/comments/999999/reactions", {"content": "+1"})[0] == 404
    status, _, _ = api.call("POST", f"{R}/issues/{issue['number']}/reactions", {"content": "rocket"})
    assert status == 201 and api.ok("GET", f"{R}/issues/{issue['number']}")["reactions"]["rocket"] == 1
    pr, _, sha = open_pr(hub_repo, tmp_path)
    rc = api.ok("POST", f"{R}/pulls/{pr['number']}/comments", {"body": "x", "commit_id": sha,
                                                               "path": "notes.txt", "line": 1})
    status, _, _ = api.call("POST", f"{R}/pulls/comments/{rc['id']}/reactions", {"content": "heart"})
    assert status == 201
    assert api.ok("GET", f"{R}/pulls/{pr['number']}/comments")[0]["reactions"]["heart"] == 1
    assert api.call("POST", f"{R}/pulls/comments/{comment['id'] + 1000}/reactions", {"content": "+1"})[0] == 404


def test_pull_commits_files_and_merged(hub_repo, tmp_path):
    api = hub_repo.api
    pr, work, sha = open_pr(hub_repo, tmp_path)
    n = pr["number"]
    second = commit_push(hub_repo, work, "feature", {"README.md": None}, "drop readme")
    commits = api.ok("GET", f"{R}/pulls/{n}/commits")
    assert [c["sha"] for c in commits] == [sha, second]
    assert commits[1]["commit"]["message"] == "drop readme" and commits[1]["parents"][0]["sha"] == sha
    files = {f["filename"]: f for f in api.ok("GET", f"{R}/pulls/{n}/files")}
    assert files["README.md"]["status"] == "removed" and files["README.md"]["deletions"] == 1
    assert files["notes.txt"]["status"] == "added" and files["notes.txt"]["patch"] == "@@ -0,0 +1 @@\n+n"
    assert files["app/calc.py"]["status"] == "modified" and files["app/calc.py"]["additions"] == 4
    assert api.call("GET", f"{R}/pulls/{n}/merge")[0] == 404
    api.ok("PUT", f"{R}/pulls/{n}/merge", {})
    status, _, body = api.call("GET", f"{R}/pulls/{n}/merge")
    assert (status, body) == (204, None)
    assert api.call("GET", f"{R}/pulls/999/merge")[0] == 404


def test_issue_events(hub_repo):
    api = hub_repo.api
    issue = api.ok("POST", f"{R}/issues", {"title": "t", "labels": ["agent:auto"]})
    api.ok("DELETE", f"{R}/issues/{issue['number']}/labels/agent:auto")
    api.ok("PATCH", f"{R}/issues/{issue['number']}", {"state": "closed"})
    events = api.ok("GET", f"{R}/issues/{issue['number']}/events")
    assert [(e["event"], (e.get("label") or {}).get("name")) for e in events] == [
        ("labeled", "agent:auto"), ("unlabeled", "agent:auto"), ("closed", None)]
    assert events[0]["actor"]["login"] == "acme"


def test_the_timeline_interleaves_events_comments_and_reviews(hub_repo, tmp_path):
    api = hub_repo.api
    pr, _, sha = open_pr(hub_repo, tmp_path)
    n = pr["number"]
    collaborator(api, "carol")
    api.ok("POST", f"{R}/issues/{n}/labels", {"labels": ["agent:review"]})
    comment = api.ok("POST", f"{R}/issues/{n}/comments", {"body": "first"}, token="as:carol")
    review = api.ok("POST", f"{R}/pulls/{n}/reviews", {"event": "REQUEST_CHANGES", "body": "fix it"}, token="as:carol")
    api.ok("POST", f"{R}/pulls/{n}/reviews", {"body": "draft"})  # pending: not on the timeline
    timeline = api.ok("GET", f"{R}/issues/{n}/timeline")
    assert [e["event"] for e in timeline] == ["labeled", "commented", "reviewed"]
    commented, reviewed = timeline[1], timeline[2]
    assert (commented["id"], commented["body"], commented["actor"]["login"]) == (comment["id"], "first", "carol")
    assert commented["author_association"] == "COLLABORATOR"
    assert (reviewed["id"], reviewed["state"], reviewed["body"], reviewed["commit_id"]) == (
        review["id"], "changes_requested", "fix it", sha)
    # Plain issues have no reviews; the events listing keeps only events.
    assert [e["event"] for e in api.ok("GET", f"{R}/issues/{n}/events")] == ["labeled"]
