"""Routes for pull requests: create, list, get, update and merge."""

from ..routing import HubError, invalid, not_found, require_text, route
from ..store import now_iso

# Handlers take (hub, req, **path params) and return (status, body, headers).


def _pull_rows(hub, row):
    return hub.store.q("SELECT issues.*, pulls.id AS pull_id FROM issues JOIN pulls ON pulls.issue_id = issues.id "
                       "WHERE issues.repo_id = ?", row["id"])


@route("POST", "/repos/{owner}/{repo}/pulls", "pulls/create", auth=True)
def create_pull(hub, req, owner, repo):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
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
    hub.require_write(row, req.login)
    issue_row, pull_row = _pull_or_404(hub, row, number)
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

