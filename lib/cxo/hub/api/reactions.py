"""Routes for reactions on issues (and PRs), issue comments and review comments.

Adding a reaction the caller already made answers 200 with the existing one; a new one 201.
"""

from .. import shapes
from ..routing import invalid, not_found, route
from ..store import now_iso

# Handlers take (hub, req, **path params) and return (status, body, headers).


def _react(hub, req, subject: str, subject_id: int):
    content = req.object().get("content")
    if content not in shapes.REACTIONS:
        raise invalid([{"resource": "Reaction", "code": "invalid", "field": "content"}])
    existing = hub.store.one("SELECT * FROM reactions WHERE subject = ? AND subject_id = ? AND user = ? AND "
                             "content = ?", subject, subject_id, req.login, content)
    status = 200
    if existing is None:
        status = 201
        rid = hub.store.run("INSERT INTO reactions (subject, subject_id, user, content, created_at) "
                            "VALUES (?, ?, ?, ?, ?)", subject, subject_id, req.login, content, now_iso())
        existing = hub.store.one("SELECT * FROM reactions WHERE id = ?", rid)
    return status, shapes.reaction(hub.base, existing, hub.user_json(existing["user"])), {}


@route("POST", "/repos/{owner}/{repo}/issues/{number}/reactions", "reactions/create-for-issue", auth=True)
def react_issue(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    return _react(hub, req, "issue", hub.issue_or_404(row, number)["id"])


@route("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
       "reactions/create-for-issue-comment", auth=True)
def react_issue_comment(hub, req, owner, repo, comment_id):
    row = hub.repo_or_404(owner, repo, req.login)
    comment = hub.store.one("SELECT id FROM comments WHERE id = ? AND repo_id = ?", int(comment_id), row["id"]) \
        if comment_id.isdigit() else None
    if comment is None:
        raise not_found()
    return _react(hub, req, "issue_comment", comment["id"])


@route("POST", "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions",
       "reactions/create-for-pull-request-review-comment", auth=True)
def react_review_comment(hub, req, owner, repo, comment_id):
    row = hub.repo_or_404(owner, repo, req.login)
    comment = hub.store.one("SELECT review_comments.id FROM review_comments JOIN issues ON issues.id = "
                            "review_comments.issue_id WHERE review_comments.id = ? AND issues.repo_id = ?",
                            int(comment_id), row["id"]) if comment_id.isdigit() else None
    if comment is None:
        raise not_found()
    return _react(hub, req, "review_comment", comment["id"])
