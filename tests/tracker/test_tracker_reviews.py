"""The tracker's review, review-comment, reaction and PR-content methods against the hub (real HTTP)."""


import pytest

from cxo.tracker.base import NotFound, TrackerError, ValidationFailed
from cxo.tracker.github import GitHubTracker
from tests.hub.test_hub_reviews import commit_push, open_pr


def tracker(hub_repo, login="acme"):
    return GitHubTracker("acme", "widgets", token=f"as:{login}", api_url=hub_repo.url, sleep=lambda s: None)


def test_reviews_and_review_comments(hub_repo, tmp_path):
    pr, work, sha = open_pr(hub_repo, tmp_path)
    n = pr["number"]
    carol, owner = tracker(hub_repo, "carol"), tracker(hub_repo)
    review = carol.create_review(n, "REQUEST_CHANGES", "rename it",
                                 [{"path": "app/calc.py", "line": 5, "body": "subtract?"}])
    assert review["state"] == "CHANGES_REQUESTED" and review["commit_id"] == sha
    with pytest.raises(ValidationFailed):
        owner.create_review(n, "APPROVE")  # not on your own PR
    with pytest.raises(TrackerError, match="unknown event"):
        carol.create_review(n, "MERGE")
    assert [r["id"] for r in owner.list_reviews(n)] == [review["id"]]
    assert owner.get_review(n, review["id"])["body"] == "rename it"
    [inline] = owner.list_comments_for_review(n, review["id"])
    reply = owner.reply_to_review_comment(n, inline["id"], "done")
    single = carol.create_review_comment(n, "why?", sha, "notes.txt", 1)
    comments = owner.list_review_comments(n)
    assert [c["id"] for c in comments] == [inline["id"], reply["id"], single["id"]]
    assert comments[1]["in_reply_to_id"] == inline["id"] and comments[1]["author_association"] == "OWNER"
    assert comments[0]["author_association"] == "NONE"
    commit_push(hub_repo, work, "feature", {"notes.txt": "other\n"}, "rewrite notes")
    by_id = {c["id"]: c for c in owner.list_review_comments(n)}
    assert by_id[single["id"]].get("position") is None and by_id[inline["id"]]["position"] == 5  # outdated / not


def test_reactions_commits_files_merged_events(hub_repo, tmp_path):
    t = tracker(hub_repo)
    issue = t.create_issue("x", "", ["agent:auto"])
    comment = t.create_comment(issue["number"], "@cxo run")
    first = t.react_to_comment(comment["id"], "+1")
    assert t.react_to_comment(comment["id"], "+1")["id"] == first["id"]  # idempotent
    assert t.react_to_issue(issue["number"], "eyes")["content"] == "eyes"
    assert t.list_comments(issue["number"])[0]["reactions"]["+1"] == 1
    with pytest.raises(NotFound):
        t.react_to_comment(999999, "+1")
    pr, _, sha = open_pr(hub_repo, tmp_path)
    rc = t.create_review_comment(pr["number"], "x", sha, "notes.txt", 1)
    assert t.react_to_review_comment(rc["id"], "heart")["content"] == "heart"
    assert [c["sha"] for c in t.list_pull_commits(pr["number"])] == [sha]
    assert sorted(f["filename"] for f in t.list_pull_files(pr["number"])) == ["app/calc.py", "notes.txt"]
    assert t.is_merged(pr["number"]) is False
    hub_repo.api.ok("PUT", f"/repos/acme/widgets/pulls/{pr['number']}/merge", {})
    assert t.is_merged(pr["number"]) is True
    t.remove_label(issue["number"], "agent:auto")
    assert [e["event"] for e in t.list_issue_events(issue["number"])] == ["labeled", "unlabeled"]
