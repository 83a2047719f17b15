"""Routes for pull requests: create, list, get, update and merge."""

from .. import shapes
from ..routing import HubError, invalid, not_found, require_text, route
from ..store import now_iso

# Handlers take (hub, req, **path params) and return (status, body, headers).


def _pull_rows(hub, row):
    return hub.store.q("SELECT issues.*, pulls.id AS pull_id FROM issues JOIN pulls ON pulls.issue_id = issues.id "
                       "WHERE issues.repo_id = ?", row["id"])


@route("POST", "/repos/{owner}/{repo}/pulls", "pulls/create", auth=True)
def create_pull(hub, req, owner, repo):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)  # the head branch is always in this repository: that takes push access
    data = req.object()
    for field in ("head", "base"):
        require_text(data, field, "PullRequest")
    if not data.get("title") and not data.get("issue"):
        raise invalid([{"resource": "PullRequest", "code": "missing_field", "field": "title"}])
    head_owner, _, head_ref = data["head"].rpartition(":")
    head_owner = head_owner or row["owner"]
    base_ref = data["base"]
    head_sha = hub.git.ref_sha(row["owner"], row["name"], f"refs/heads/{head_ref}")
    if head_sha is None or head_owner.lower() != row["owner"].lower():
        raise invalid([{"resource": "PullRequest", "field": "head", "code": "invalid"}])
    base_sha = hub.git.ref_sha(row["owner"], row["name"], f"refs/heads/{base_ref}")
    if base_sha is None:
        raise invalid([{"resource": "PullRequest", "field": "base", "code": "invalid"}])
    for existing in _pull_rows(hub, row):
        pull_row = hub.store.pull(existing["id"])
        if existing["state"] == "open" and pull_row["head_ref"] == head_ref and pull_row["base_ref"] == base_ref:
            raise invalid([{"resource": "PullRequest", "code": "custom",
                            "message": f"A pull request already exists for {row['owner']}:{head_ref}."}])
    if hub.git.commits_between(row["owner"], row["name"], base_sha, head_sha) == 0:
        raise invalid([{"resource": "PullRequest", "code": "custom",
                        "message": f"No commits between {base_ref} and {head_ref}"}])
    now = now_iso()
    number = hub.store.next_number(row["id"])
    issue_id = hub.store.run("INSERT INTO issues (repo_id, number, title, body, state, user, created_at, updated_at, "
                             "is_pr) VALUES (?, ?, ?, ?, 'open', ?, ?, ?, 1)", row["id"], number,
                             data.get("title") or f"Issue {data.get('issue')}", data.get("body"), req.login, now, now)
    hub.store.run("INSERT INTO pulls (issue_id, head_ref, head_owner, base_ref, draft) VALUES (?, ?, ?, ?, ?)",
                  issue_id, head_ref, head_owner, base_ref, int(bool(data.get("draft"))))
    issue_row = hub.store.one("SELECT * FROM issues WHERE id = ?", issue_id)
    return 201, hub.pull_json(row, issue_row, hub.store.pull(issue_id)), {
        "Location": f"{hub.base}/repos/{hub.full(row)}/pulls/{number}"}


@route("GET", "/repos/{owner}/{repo}/pulls", "pulls/list")
def list_pulls(hub, req, owner, repo):
    row = hub.repo_or_404(owner, repo, req.login)
    state = req.arg("state", "open")
    head = req.arg("head")
    items = []
    for issue_row in _pull_rows(hub, row):
        pull_row = hub.store.pull(issue_row["id"])
        if state != "all" and issue_row["state"] != state:
            continue
        # GitHub filters by head only in the user:ref form; a bare branch name is silently ignored.
        if head and ":" in head:
            user_part, _, ref = head.partition(":")
            if user_part.lower() != pull_row["head_owner"].lower() or ref != pull_row["head_ref"]:
                continue
        if req.arg("base") and pull_row["base_ref"] != req.arg("base"):
            continue
        items.append((issue_row, pull_row))
    reverse = req.arg("direction", "desc") == "desc"
    items.sort(key=lambda pair: (pair[0]["created_at"], pair[0]["id"]), reverse=reverse)
    page, headers = hub.paginate(req, items, req.path)
    return 200, [hub.pull_json(row, i, p) for i, p in page], headers


def _pull_or_404(hub, row, number):
    issue_row = hub.issue_or_404(row, number)
    pull_row = hub.store.pull(issue_row["id"])
    if pull_row is None:
        raise not_found()
    return issue_row, pull_row


@route("GET", "/repos/{owner}/{repo}/pulls/{number}", "pulls/get")
def get_pull(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    issue_row, pull_row = _pull_or_404(hub, row, number)
    return 200, hub.pull_json(row, issue_row, pull_row), {}


@route("PATCH", "/repos/{owner}/{repo}/pulls/{number}", "pulls/update", auth=True)
def update_pull(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    issue_row, pull_row = _pull_or_404(hub, row, number)
    if issue_row["user"].lower() != req.login.lower():  # its author may edit a PR; anyone else needs push access
        hub.require_write(row, req.login)
    data = req.object()
    for field in ("title", "body"):
        if field in data:
            hub.store.run(f"UPDATE issues SET {field} = ? WHERE id = ?", data[field], issue_row["id"])
    if data.get("state") in ("open", "closed") and data["state"] != issue_row["state"]:
        if pull_row["merged_at"]:
            raise invalid([{"resource": "PullRequest", "code": "custom", "message": "Cannot reopen a merged PR"}])
        hub.store.run("UPDATE issues SET state = ?, closed_at = ? WHERE id = ?", data["state"],
                      now_iso() if data["state"] == "closed" else None, issue_row["id"])
    if "base" in data:
        if hub.git.ref_sha(row["owner"], row["name"], f"refs/heads/{data['base']}") is None:
            raise invalid([{"resource": "PullRequest", "field": "base", "code": "invalid"}])
        hub.store.run("UPDATE pulls SET base_ref = ? WHERE id = ?", data["base"], pull_row["id"])
    hub.touch(issue_row)
    issue_row, pull_row = _pull_or_404(hub, row, number)
    return 200, hub.pull_json(row, issue_row, pull_row), {}


@route("PUT", "/repos/{owner}/{repo}/pulls/{number}/merge", "pulls/merge", auth=True)
def merge_pull(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    issue_row, pull_row = _pull_or_404(hub, row, number)
    data = req.object() if req.body else {}
    head_sha = hub.git.ref_sha(row["owner"], row["name"], f"refs/heads/{pull_row['head_ref']}")
    if issue_row["state"] != "open" or pull_row["merged_at"] or head_sha is None:
        raise HubError(405, "Pull Request is not mergeable")
    if data.get("sha") and data["sha"] != head_sha:
        raise HubError(409, "Head branch was modified. Review and try the merge again.")
    title = data.get("commit_title") or f"Merge pull request #{issue_row['number']} from {pull_row['head_ref']}"
    message = title + ("\n\n" + data["commit_message"] if data.get("commit_message") else "")
    merged = hub.git.merge(row["owner"], row["name"], pull_row["base_ref"], head_sha, message)
    if merged is None:
        raise HubError(405, "Pull Request is not mergeable")
    now = now_iso()
    hub.store.run("UPDATE pulls SET merged_at = ?, merged_by = ?, merge_commit_sha = ?, head_sha_at_close = ? "
                  "WHERE id = ?", now, req.login, merged, head_sha, pull_row["id"])
    hub.store.run("UPDATE issues SET state = 'closed', closed_at = ?, updated_at = ? WHERE id = ?", now, now,
                  issue_row["id"])
    return 200, {"sha": merged, "merged": True, "message": "Pull Request successfully merged"}, {}



@route("GET", "/repos/{owner}/{repo}/pulls/{number}/merge", "pulls/check-if-merged")
def check_if_merged(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    try:
        _, pull_row = _pull_or_404(hub, row, number)
    except HubError:
        return 404, None, {}  # GitHub documents both answers without a body
    return (204 if pull_row["merged_at"] else 404), None, {}


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/commits", "pulls/list-commits")
def list_commits(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    _, pull_row = _pull_or_404(hub, row, number)
    head = hub.head_sha(row, pull_row)
    diff_base = hub.pull_diff_base(row, pull_row, head) if head else None
    commits = hub.git.commits(row["owner"], row["name"], diff_base, head)[:250] if diff_base else []
    page, headers = hub.paginate(req, commits, req.path)
    return 200, [shapes.commit(hub.base, hub.base, hub.full(row), c) for c in page], headers


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/files", "pulls/list-files")
def list_files(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    _, pull_row = _pull_or_404(hub, row, number)
    head = hub.head_sha(row, pull_row)
    diff_base = hub.pull_diff_base(row, pull_row, head) if head else None
    files = hub.git.changed_files(row["owner"], row["name"], diff_base, head)[:3000] if diff_base else []
    page, headers = hub.paginate(req, files, req.path)
    return 200, [shapes.diff_entry(hub.base, hub.base, hub.full(row), head, f) for f in page], headers


# --- reviews and review comments --------------------------------------------------------------------
# A review comment is stored where it was made (original commit, line, position, diff hunk); where it is now is
# computed on every read (Hub.comment_now): a comment whose line a later push changed or removed is outdated.

REVIEW_EVENTS = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


def _unprocessable(message: str) -> HubError:
    """GitHub's `validation-error-simple` 422 of the review endpoints."""
    return HubError(422, "Unprocessable Entity", [message])


def _commit_of(hub, row, pull_row, data, field_error):
    """The commit a comment is made on: `commit_id` when given (it must be a commit), else the PR's head."""
    commit = data.get("commit_id")
    if commit is None:
        head = hub.head_sha(row, pull_row)
        if head is None:
            raise field_error("commit_id")
        return head
    sha = hub.git.ref_sha(row["owner"], row["name"], str(commit)) if isinstance(commit, str) and commit else None
    if sha is None:
        raise field_error("commit_id")
    return sha


def _anchor(hub, row, pull_row, commit, spec, field_error):
    """(side, line, position, diff_hunk) of a new comment from its path and line/side (or legacy position)."""
    path = spec.get("path")
    if not isinstance(path, str) or not path:
        raise field_error("path")
    side = spec.get("side") or "RIGHT"
    if side not in ("LEFT", "RIGHT"):
        raise field_error("side")
    line = spec.get("line")
    if line is None and isinstance(spec.get("position"), int):  # the closing-down `position` form
        diff_base = hub.pull_diff_base(row, pull_row, commit)
        patch = hub.git.file_diff(row["owner"], row["name"], diff_base, commit, path) if diff_base else ""
        for candidate_side in ("RIGHT", "LEFT"):
            for n in range(1, patch.count("\n") + 2):
                found = hub.locate(row, pull_row, commit, path, candidate_side, n)
                if found and found[0] == spec["position"]:
                    return candidate_side, n, found[0], found[1]
        raise field_error("position")
    if not isinstance(line, int) or isinstance(line, bool) or line < 1:
        raise field_error("line")
    found = hub.locate(row, pull_row, commit, path, side, line)
    if found is None:
        raise field_error("line")
    return side, line, found[0], found[1]


def _insert_comment(hub, issue_row, review_id, login, body, path, side, line, position, hunk, commit,
                    in_reply_to=None, now=None):
    now = now or now_iso()
    return hub.store.run(
        "INSERT INTO review_comments (issue_id, review_id, user, body, path, side, original_line, original_position, "
        "original_commit_id, diff_hunk, in_reply_to_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", issue_row["id"], review_id, login, body, path, side, line,
        position, commit, hunk, in_reply_to, now, now)


def _insert_review(hub, issue_row, login, body, state, commit, submitted=True):
    return hub.store.run("INSERT INTO reviews (issue_id, user, body, state, commit_id, submitted_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", issue_row["id"], login, body or "", state, commit,
                         now_iso() if submitted else None)


@route("POST", "/repos/{owner}/{repo}/pulls/{number}/reviews", "pulls/create-review", auth=True)
def create_review(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    issue_row, pull_row = _pull_or_404(hub, row, number)
    data = req.object()
    event = data.get("event")
    if event not in (None, "", *REVIEW_EVENTS):
        raise _unprocessable(f"Unknown review event: {event}")
    state = REVIEW_EVENTS.get(event or "", "PENDING")
    comments = data.get("comments") or []
    if not isinstance(comments, list) or not all(isinstance(c, dict) for c in comments):
        raise _unprocessable("comments must be a list of objects")
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        raise _unprocessable("body must be a string")
    if state == "CHANGES_REQUESTED" and not body:
        raise _unprocessable("Review body is required when requesting changes")
    if state == "COMMENTED" and not body and not comments:
        raise _unprocessable("Review body or comments are required when commenting")
    if state in ("APPROVED", "CHANGES_REQUESTED") and req.login.lower() == issue_row["user"].lower():
        verb = "approve" if state == "APPROVED" else "request changes on"
        raise _unprocessable(f"Can not {verb} your own pull request")
    if state == "PENDING" and hub.store.one("SELECT 1 FROM reviews WHERE issue_id = ? AND user = ? AND state = "
                                            "'PENDING'", issue_row["id"], req.login):
        raise _unprocessable("User can only have one pending review per pull request")

    def field_error(field):
        return _unprocessable(f"Pull request review thread {field} could not be resolved")

    commit = _commit_of(hub, row, pull_row, data, field_error)
    anchors = []
    for spec in comments:  # every comment is checked before anything is written
        if not isinstance(spec.get("body"), str) or not spec["body"]:
            raise field_error("body")
        anchors.append((spec["body"], spec.get("path"), _anchor(hub, row, pull_row, commit, spec, field_error)))
    review_id = _insert_review(hub, issue_row, req.login, body, state, commit, submitted=state != "PENDING")
    now = now_iso()
    for text, path, (side, line, position, hunk) in anchors:
        _insert_comment(hub, issue_row, review_id, req.login, text, path, side, line, position, hunk, commit,
                        now=now)
    hub.touch(issue_row)
    review = hub.store.one("SELECT * FROM reviews WHERE id = ?", review_id)
    return 200, hub.review_json(row, issue_row, review), {}


def _review_or_404(hub, issue_row, review_id):
    review = hub.store.one("SELECT * FROM reviews WHERE id = ? AND issue_id = ?", int(review_id), issue_row["id"]) \
        if str(review_id).isdigit() else None
    if review is None:
        raise not_found()
    return review


def _visible_reviews(hub, req, issue_row):
    """Submitted reviews, and the caller's own pending one (GitHub shows a pending review only to its author)."""
    rows = hub.store.q("SELECT * FROM reviews WHERE issue_id = ? ORDER BY id", issue_row["id"])
    return [r for r in rows if r["state"] != "PENDING" or (req.login and r["user"].lower() == req.login.lower())]


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews", "pulls/list-reviews")
def list_reviews(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    issue_row, _ = _pull_or_404(hub, row, number)
    page, headers = hub.paginate(req, _visible_reviews(hub, req, issue_row), req.path)
    return 200, [hub.review_json(row, issue_row, r) for r in page], headers


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews/{review_id}", "pulls/get-review")
def get_review(hub, req, owner, repo, number, review_id):
    row = hub.repo_or_404(owner, repo, req.login)
    issue_row, _ = _pull_or_404(hub, row, number)
    review = _review_or_404(hub, issue_row, review_id)
    if review not in _visible_reviews(hub, req, issue_row):
        raise not_found()
    return 200, hub.review_json(row, issue_row, review), {}


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews/{review_id}/comments", "pulls/list-comments-for-review")
def list_comments_for_review(hub, req, owner, repo, number, review_id):
    row = hub.repo_or_404(owner, repo, req.login)
    issue_row, _ = _pull_or_404(hub, row, number)
    review = _review_or_404(hub, issue_row, review_id)
    rows = hub.store.q("SELECT * FROM review_comments WHERE review_id = ? ORDER BY id", review["id"])
    page, headers = hub.paginate(req, rows, req.path)
    return 200, [hub.review_comment_json(row, issue_row, c, nullable_position=True) for c in page], headers


def _submitted_comments(hub, issue_row):
    return hub.store.q("SELECT review_comments.* FROM review_comments JOIN reviews ON reviews.id = "
                       "review_comments.review_id WHERE review_comments.issue_id = ? AND reviews.state != 'PENDING'",
                       issue_row["id"])


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/comments", "pulls/list-review-comments")
def list_review_comments(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    issue_row, _ = _pull_or_404(hub, row, number)
    rows = list(_submitted_comments(hub, issue_row))
    if req.arg("since"):
        rows = [r for r in rows if r["updated_at"] >= req.arg("since")]
    sort = req.arg("sort", "created")
    if sort not in ("created", "updated"):
        raise invalid([{"resource": "PullRequestReviewComment", "field": "sort", "code": "invalid"}])
    key = "created_at" if sort == "created" else "updated_at"
    rows.sort(key=lambda r: (r[key], r["id"]), reverse=req.arg("direction", "asc") == "desc")
    page, headers = hub.paginate(req, rows, req.path)
    return 200, [hub.review_comment_json(row, issue_row, c) for c in page], headers


def _comment_error(field):
    return invalid([{"resource": "PullRequestReviewComment", "code": "invalid", "field": field}])


def _review_comment_or_404(hub, issue_row, comment_id):
    comment = hub.store.one("SELECT * FROM review_comments WHERE id = ? AND issue_id = ?", int(comment_id),
                            issue_row["id"]) if str(comment_id).isdigit() else None
    if comment is None:
        raise not_found()
    return comment


def _reply(hub, req, row, issue_row, parent, body):
    """A reply joins the parent's thread: same path, line and hunk; `in_reply_to_id` names the thread's first
    comment (a reply to a reply answers the thread)."""
    root = parent
    while root["in_reply_to_id"] is not None:
        root = hub.store.one("SELECT * FROM review_comments WHERE id = ?", root["in_reply_to_id"])
    review_id = _insert_review(hub, issue_row, req.login, "", "COMMENTED", root["original_commit_id"])
    cid = _insert_comment(hub, issue_row, review_id, req.login, body, root["path"], root["side"],
                          root["original_line"], root["original_position"], root["diff_hunk"],
                          root["original_commit_id"], in_reply_to=root["id"])
    hub.touch(issue_row)
    comment = hub.store.one("SELECT * FROM review_comments WHERE id = ?", cid)
    return 201, hub.review_comment_json(row, issue_row, comment), {
        "Location": f"{hub.base}/repos/{hub.full(row)}/pulls/comments/{cid}"}


@route("POST", "/repos/{owner}/{repo}/pulls/{number}/comments", "pulls/create-review-comment", auth=True)
def create_review_comment(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    issue_row, pull_row = _pull_or_404(hub, row, number)
    data = req.object()
    body = require_text(data, "body", "PullRequestReviewComment")
    if data.get("in_reply_to") is not None:
        parent = hub.store.one("SELECT * FROM review_comments WHERE id = ? AND issue_id = ?", data["in_reply_to"],
                               issue_row["id"]) if isinstance(data["in_reply_to"], int) else None
        if parent is None:
            raise _comment_error("in_reply_to")
        return _reply(hub, req, row, issue_row, parent, body)
    for field in ("commit_id", "path"):
        require_text(data, field, "PullRequestReviewComment")
    if data.get("subject_type", "line") != "line":
        raise _comment_error("subject_type")  # file-level comments are not modelled
    commit = _commit_of(hub, row, pull_row, data, _comment_error)
    side, line, position, hunk = _anchor(hub, row, pull_row, commit, data, _comment_error)
    review_id = _insert_review(hub, issue_row, req.login, "", "COMMENTED", commit)
    cid = _insert_comment(hub, issue_row, review_id, req.login, body, data["path"], side, line, position, hunk,
                          commit)
    hub.touch(issue_row)
    comment = hub.store.one("SELECT * FROM review_comments WHERE id = ?", cid)
    return 201, hub.review_comment_json(row, issue_row, comment), {
        "Location": f"{hub.base}/repos/{hub.full(row)}/pulls/comments/{cid}"}


@route("POST", "/repos/{owner}/{repo}/pulls/{number}/comments/{comment_id}/replies",
       "pulls/create-reply-for-review-comment", auth=True)
def create_reply(hub, req, owner, repo, number, comment_id):
    row = hub.repo_or_404(owner, repo, req.login)
    issue_row, _ = _pull_or_404(hub, row, number)
    parent = _review_comment_or_404(hub, issue_row, comment_id)
    body = require_text(req.object(), "body", "PullRequestReviewComment")
    return _reply(hub, req, row, issue_row, parent, body)
