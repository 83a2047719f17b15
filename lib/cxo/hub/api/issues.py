"""Routes for issues: issues, comments, the timeline, sub-issues and dependencies (blocked by / blocking).

Dependencies take the blocking issue's id (not its number), as sub-issues take `sub_issue_id`; the blocker may
be in any repository the caller can read, but not be a pull request or the issue itself. Adding and removing
answer with the blocked issue (the one in the URL).
"""

from .. import shapes
from ..routing import HubError, invalid, labels_from_body, not_found, require_text, route
from ..store import now_iso

# Handlers take (hub, req, **path params) and return (status, body, headers).


@route("GET", "/repos/{owner}/{repo}/issues", "issues/list-for-repo")
def list_issues(hub, req, owner, repo):
    row = hub.repo_or_404(owner, repo, req.login)
    state = req.arg("state", "open")
    if state not in ("open", "closed", "all"):
        raise invalid([{"resource": "Issue", "field": "state", "code": "invalid"}])
    sql, args = "SELECT * FROM issues WHERE repo_id = ?", [row["id"]]
    if state != "all":
        sql += " AND state = ?"
        args.append(state)
    if req.arg("since"):
        sql += " AND updated_at >= ?"
        args.append(req.arg("since"))
    sort = {"created": "created_at", "updated": "updated_at", "comments": "id"}.get(req.arg("sort", "created"))
    if sort is None:
        raise invalid([{"resource": "Issue", "field": "sort", "code": "invalid"}])
    direction = "ASC" if req.arg("direction", "desc") == "asc" else "DESC"
    rows = hub.store.q(sql + f" ORDER BY {sort} {direction}, id {direction}", *args)
    wanted = [name.strip().lower() for name in (req.arg("labels") or "").split(",") if name.strip()]
    if wanted:
        keep = []
        for issue_row in rows:
            have = {lab["name"].lower() for lab in hub.store.issue_labels(issue_row["id"])}
            if all(name in have for name in wanted):
                keep.append(issue_row)
        rows = keep
    page, headers = hub.paginate(req, rows, req.path)
    return 200, [hub.issue_json(row, issue_row) for issue_row in page], headers


@route("POST", "/repos/{owner}/{repo}/issues", "issues/create", auth=True)
def create_issue(hub, req, owner, repo):
    row = hub.repo_or_404(owner, repo, req.login)  # anyone who can read the repository may open an issue
    data = req.object()
    title = require_text(data, "title", "Issue")
    now = now_iso()
    number = hub.store.next_number(row["id"])
    issue_id = hub.store.run("INSERT INTO issues (repo_id, number, title, body, state, state_reason, user, created_at, "
                             "updated_at) VALUES (?, ?, ?, ?, 'open', NULL, ?, ?, ?)", row["id"], number, str(title),
                             data.get("body"), req.login, now, now)
    issue_row = hub.store.one("SELECT * FROM issues WHERE id = ?", issue_id)
    if data.get("labels") and hub.can_push(row, req.login):  # without push access GitHub silently drops them
        hub.add_labels(row, issue_row, labels_from_body({"labels": data["labels"]}), req.login)
    issue_row = hub.store.one("SELECT * FROM issues WHERE id = ?", issue_id)
    return 201, hub.issue_json(row, issue_row), {"Location": f"{hub.base}/repos/{hub.full(row)}/issues/{number}"}


@route("GET", "/repos/{owner}/{repo}/issues/comments", "issues/list-comments-for-repo")
def list_comments_for_repo(hub, req, owner, repo):
    """Every issue and PR comment of the repository (before issues/get, which would take `comments` for a
    number); `since` (updated at or after), `sort` created|updated, `direction` asc|desc, as GitHub has them."""
    row = hub.repo_or_404(owner, repo, req.login)
    sql, args = "SELECT * FROM comments WHERE repo_id = ?", [row["id"]]
    if req.arg("since"):
        sql += " AND updated_at >= ?"
        args.append(req.arg("since"))
    key = "updated_at" if req.arg("sort") == "updated" else "created_at"
    order = "DESC" if req.arg("direction") == "desc" else "ASC"
    rows = hub.store.q(sql + f" ORDER BY {key} {order}, id {order}", *args)
    page, headers = hub.paginate(req, rows, req.path)
    return 200, [hub.comment_json(row, c) for c in page], headers


@route("GET", "/repos/{owner}/{repo}/issues/{number}", "issues/get")
def get_issue(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    return 200, hub.issue_json(row, hub.issue_or_404(row, number)), {}


@route("PATCH", "/repos/{owner}/{repo}/issues/{number}", "issues/update", auth=True)
def update_issue(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    issue_row = hub.issue_or_404(row, number)
    data = req.object()
    if not hub.can_push(row, req.login):
        # The issue's author may edit its title and body and close it, and reopen it unless someone else closed
        # it; labels (and assignees, milestone) are silently dropped, as GitHub does. Anyone else: 403.
        if issue_row["user"].lower() != req.login.lower():
            raise HubError(403, "Resource not accessible by personal access token")
        data = {k: v for k, v in data.items() if k not in ("labels", "assignees", "assignee", "milestone", "type")}
        if data.get("state") == "open" and issue_row["state"] == "closed" and _closed_by(hub, issue_row) not in (
                None, req.login.lower()):
            raise HubError(403, "Resource not accessible by personal access token")
    for field in ("title", "body"):
        if field in data:
            hub.store.run(f"UPDATE issues SET {field} = ? WHERE id = ?", data[field], issue_row["id"])
    if "state" in data:
        state = data["state"]
        if state not in ("open", "closed"):
            raise invalid([{"resource": "Issue", "field": "state", "code": "invalid"}])
        if state != issue_row["state"]:
            reason = data.get("state_reason") or ("completed" if state == "closed" else "reopened")
            hub.store.run("UPDATE issues SET state = ?, state_reason = ?, closed_at = ? WHERE id = ?", state, reason,
                          now_iso() if state == "closed" else None, issue_row["id"])
            hub.event(issue_row, "closed" if state == "closed" else "reopened", req.login)
    if "labels" in data:
        names = {n.lower() for n in labels_from_body({"labels": data["labels"] or []})}
        current = hub.store.issue_labels(issue_row["id"])
        hub.remove_label_rows(issue_row, [lab for lab in current if lab["name"].lower() not in names], req.login)
        hub.add_labels(row, issue_row, labels_from_body({"labels": data["labels"] or []}), req.login)
    hub.touch(issue_row)
    return 200, hub.issue_json(row, hub.issue_or_404(row, number)), {}


def _closed_by(hub, issue_row) -> str | None:
    """Who last closed the issue (lower case), from its events."""
    event = hub.store.one("SELECT actor FROM events WHERE issue_id = ? AND event = 'closed' ORDER BY id DESC LIMIT 1",
                          issue_row["id"])
    return event["actor"].lower() if event and event["actor"] else None


# --- comments -----------------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/issues/{number}/comments", "issues/list-comments")
def list_comments(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    issue_row = hub.issue_or_404(row, number)
    sql, args = "SELECT * FROM comments WHERE issue_id = ?", [issue_row["id"]]
    if req.arg("since"):
        sql += " AND updated_at >= ?"
        args.append(req.arg("since"))
    rows = hub.store.q(sql + " ORDER BY id", *args)
    page, headers = hub.paginate(req, rows, req.path)
    return 200, [hub.comment_json(row, c) for c in page], headers


@route("POST", "/repos/{owner}/{repo}/issues/{number}/comments", "issues/create-comment", auth=True)
def create_comment(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    issue_row = hub.issue_or_404(row, number)
    data = req.object()
    require_text(data, "body", "IssueComment")
    now = now_iso()
    cid = hub.store.run("INSERT INTO comments (repo_id, issue_id, body, user, created_at, updated_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)", row["id"], issue_row["id"], data["body"], req.login, now, now)
    hub.touch(issue_row)
    comment = hub.store.one("SELECT * FROM comments WHERE id = ?", cid)
    return 201, hub.comment_json(row, comment), {
        "Location": f"{hub.base}/repos/{hub.full(row)}/issues/comments/{cid}"}


def _comment_or_404(hub, row, comment_id):
    comment = hub.store.one("SELECT * FROM comments WHERE id = ? AND repo_id = ?", int(comment_id), row["id"]) \
        if str(comment_id).isdigit() else None
    if comment is None:
        raise not_found()
    return comment


def _require_own_comment_or_write(hub, row, comment, login):
    """A comment may be edited or deleted by its author, or by anyone with push access to the repository."""
    if comment["user"].lower() != login.lower() and not hub.can_push(row, login):
        raise HubError(403, "Resource not accessible by personal access token")


@route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "issues/get-comment")
def get_comment(hub, req, owner, repo, comment_id):
    row = hub.repo_or_404(owner, repo, req.login)
    return 200, hub.comment_json(row, _comment_or_404(hub, row, comment_id)), {}


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "issues/update-comment", auth=True)
def update_comment(hub, req, owner, repo, comment_id):
    row = hub.repo_or_404(owner, repo, req.login)
    comment = _comment_or_404(hub, row, comment_id)
    _require_own_comment_or_write(hub, row, comment, req.login)
    data = req.object()
    require_text(data, "body", "IssueComment")
    hub.store.run("UPDATE comments SET body = ?, updated_at = ? WHERE id = ?", data["body"], now_iso(), comment["id"])
    return 200, hub.comment_json(row, _comment_or_404(hub, row, comment_id)), {}


@route("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "issues/delete-comment", auth=True)
def delete_comment(hub, req, owner, repo, comment_id):
    row = hub.repo_or_404(owner, repo, req.login)
    comment = _comment_or_404(hub, row, comment_id)
    _require_own_comment_or_write(hub, row, comment, req.login)
    hub.store.run("DELETE FROM comments WHERE id = ?", comment["id"])
    return 204, None, {}


def _event_items(hub, row, issue_row):
    items = []
    for ev in hub.store.q("SELECT * FROM events WHERE issue_id = ? ORDER BY id", issue_row["id"]):
        item = {"id": ev["id"], "node_id": shapes.node_id("E", ev["id"]),
                "url": f"{hub.base}/repos/{hub.full(row)}/issues/events/{ev['id']}",
                "actor": hub.user_json(ev["actor"]), "event": ev["event"], "commit_id": None, "commit_url": None,
                "created_at": ev["created_at"], "performed_via_github_app": None}
        if ev["label"] is not None:
            item["label"] = {"name": ev["label"], "color": ev["label_color"]}
        items.append(item)
    return items


def _timeline_items(hub, row, issue_row):
    """Events, conversation comments (`commented`) and, on a pull request, submitted reviews (`reviewed`, state in
    lower case), oldest first, as GitHub's timeline lists them."""
    dated = [(item["created_at"], 0, item["id"], item) for item in _event_items(hub, row, issue_row)]
    for comment in hub.store.q("SELECT * FROM comments WHERE issue_id = ? ORDER BY id", issue_row["id"]):
        item = hub.comment_json(row, comment)
        item.update(event="commented", actor=item["user"])
        dated.append((item["created_at"], 1, item["id"], item))
    for review in hub.store.q("SELECT * FROM reviews WHERE issue_id = ? AND state != 'PENDING' ORDER BY id",
                              issue_row["id"]):
        item = hub.review_json(row, issue_row, review)
        item.update(event="reviewed", state=item["state"].lower())
        dated.append((item.get("submitted_at") or "", 2, item["id"], item))
    return [item for *_, item in sorted(dated, key=lambda d: d[:3])]


@route("GET", "/repos/{owner}/{repo}/issues/{number}/timeline", "issues/list-events-for-timeline")
def timeline(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    page, headers = hub.paginate(req, _timeline_items(hub, row, hub.issue_or_404(row, number)), req.path)
    return 200, page, headers


@route("GET", "/repos/{owner}/{repo}/issues/{number}/events", "issues/list-events")
def list_events(hub, req, owner, repo, number):
    """The issue's events (labeled, unlabeled, closed, reopened): the timeline without comments or reviews."""
    row = hub.repo_or_404(owner, repo, req.login)
    page, headers = hub.paginate(req, _event_items(hub, row, hub.issue_or_404(row, number)), req.path)
    return 200, page, headers


# --- sub-issues -------------------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/issues/{number}/sub_issues", "issues/list-sub-issues")
def list_sub_issues(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    parent = hub.issue_or_404(row, number)
    rows = hub.store.q("SELECT issues.* FROM issues JOIN sub_issues ON issues.id = sub_issues.child_id "
                       "WHERE sub_issues.parent_id = ? ORDER BY sub_issues.position", parent["id"])
    page, headers = hub.paginate(req, rows, req.path)
    return 200, [hub.issue_json(row, r) for r in page], headers


@route("POST", "/repos/{owner}/{repo}/issues/{number}/sub_issues", "issues/add-sub-issue", auth=True)
def add_sub_issue(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    parent = hub.issue_or_404(row, number)
    data = req.object()
    child = hub.store.one("SELECT * FROM issues WHERE id = ?", data.get("sub_issue_id"))
    if child is None or child["repo_id"] != row["id"] or child["id"] == parent["id"]:
        raise invalid([{"resource": "Issue", "code": "invalid", "field": "sub_issue_id"}])
    existing = hub.store.one("SELECT * FROM sub_issues WHERE child_id = ?", child["id"])
    if existing and existing["parent_id"] != parent["id"] and not data.get("replace_parent"):
        raise invalid([{"resource": "Issue", "code": "custom", "field": "sub_issue_id",
                        "message": "Sub issue may only have one parent"}])
    position = hub.store.one("SELECT COUNT(*) FROM sub_issues WHERE parent_id = ?", parent["id"])[0]
    hub.store.run("INSERT OR REPLACE INTO sub_issues (parent_id, child_id, position) VALUES (?, ?, ?)",
                  parent["id"], child["id"], position)
    return 201, hub.issue_json(row, parent), {
        "Location": f"{hub.base}/repos/{hub.full(row)}/issues/{parent['number']}/sub_issues"}


@route("DELETE", "/repos/{owner}/{repo}/issues/{number}/sub_issue", "issues/remove-sub-issue", auth=True)
def remove_sub_issue(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    parent = hub.issue_or_404(row, number)
    child_id = req.object().get("sub_issue_id")
    if hub.store.one("SELECT 1 FROM sub_issues WHERE parent_id = ? AND child_id = ?", parent["id"], child_id) is None:
        raise not_found()
    hub.store.run("DELETE FROM sub_issues WHERE child_id = ?", child_id)
    child = hub.store.one("SELECT * FROM issues WHERE id = ?", child_id)
    return 200, hub.issue_json(row, child), {}


@route("GET", "/repos/{owner}/{repo}/issues/{number}/parent", "issues/get-parent")
def get_parent(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    child = hub.issue_or_404(row, number)
    link = hub.store.one("SELECT parent_id FROM sub_issues WHERE child_id = ?", child["id"])
    if link is None:
        raise not_found()
    return 200, hub.issue_json(row, hub.store.one("SELECT * FROM issues WHERE id = ?", link["parent_id"])), {}


# --- dependencies -------------------------------------------------------------------------------------


def _issue_json_any_repo(hub, issue_row):
    """An issue's JSON with its own repository (a dependency may link issues of two repositories)."""
    return hub.issue_json(hub.store.one("SELECT * FROM repos WHERE id = ?", issue_row["repo_id"]), issue_row)


def _dependency_rows(hub, req, issue_row, column, other):
    rows = hub.store.q(f"SELECT issues.* FROM issues JOIN issue_dependencies ON issues.id = issue_dependencies.{other} "
                       f"WHERE issue_dependencies.{column} = ? ORDER BY issue_dependencies.id", issue_row["id"])
    readable = [r for r in rows if _readable(hub, r, req.login)]
    page, headers = hub.paginate(req, readable, req.path)
    return 200, [_issue_json_any_repo(hub, r) for r in page], headers


def _readable(hub, issue_row, login) -> bool:
    repo = hub.store.one("SELECT * FROM repos WHERE id = ?", issue_row["repo_id"])
    return repo is not None and (not repo["private"] or hub._can_read(repo, login))


@route("GET", "/repos/{owner}/{repo}/issues/{number}/dependencies/blocked_by", "issues/list-dependencies-blocked-by")
def list_blocked_by(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    return _dependency_rows(hub, req, hub.issue_or_404(row, number), "blocked_id", "blocking_id")


@route("GET", "/repos/{owner}/{repo}/issues/{number}/dependencies/blocking", "issues/list-dependencies-blocking")
def list_blocking(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    return _dependency_rows(hub, req, hub.issue_or_404(row, number), "blocking_id", "blocked_id")


@route("POST", "/repos/{owner}/{repo}/issues/{number}/dependencies/blocked_by", "issues/add-blocked-by-dependency",
       auth=True)
def add_blocked_by(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    blocked = hub.issue_or_404(row, number)
    data = req.object()
    blocking_id = data.get("issue_id")
    if blocking_id is None:
        raise invalid([{"resource": "IssueDependency", "code": "missing_field", "field": "issue_id"}])
    if not isinstance(blocking_id, int) or isinstance(blocking_id, bool):
        raise invalid([{"resource": "IssueDependency", "code": "invalid", "field": "issue_id"}])
    blocking = hub.store.one("SELECT * FROM issues WHERE id = ?", blocking_id)
    if blocking is None or not _readable(hub, blocking, req.login) or blocking["id"] == blocked["id"] \
            or blocking["is_pr"]:
        raise invalid([{"resource": "IssueDependency", "code": "invalid", "field": "issue_id"}])
    if hub.store.one("SELECT 1 FROM issue_dependencies WHERE blocked_id = ? AND blocking_id = ?",
                     blocked["id"], blocking["id"]) is not None:
        raise invalid([{"resource": "IssueDependency", "code": "custom", "field": "issue_id",
                        "message": "Issue is already blocked by this issue"}])
    hub.store.run("INSERT INTO issue_dependencies (blocked_id, blocking_id) VALUES (?, ?)", blocked["id"],
                  blocking["id"])
    hub.touch(blocked)
    blocked = hub.issue_or_404(row, number)
    return 201, hub.issue_json(row, blocked), {
        "Location": f"{hub.base}/repos/{hub.full(row)}/issues/{blocked['number']}/dependencies/blocked_by"}


@route("DELETE", "/repos/{owner}/{repo}/issues/{number}/dependencies/blocked_by/{issue_id}",
       "issues/remove-dependency-blocked-by", auth=True)
def remove_blocked_by(hub, req, owner, repo, number, issue_id):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    blocked = hub.issue_or_404(row, number)
    if not issue_id.isdigit() or hub.store.one(
            "SELECT 1 FROM issue_dependencies WHERE blocked_id = ? AND blocking_id = ?", blocked["id"],
            int(issue_id)) is None:
        raise not_found()
    hub.store.run("DELETE FROM issue_dependencies WHERE blocked_id = ? AND blocking_id = ?", blocked["id"],
                  int(issue_id))
    hub.touch(blocked)
    return 200, hub.issue_json(row, hub.issue_or_404(row, number)), {}
