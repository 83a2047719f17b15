"""Routes for labels: a repository's labels and the labels on an issue."""

import re
from urllib.parse import unquote

from ..routing import HubError, invalid, labels_from_body, not_found, require_text, route

# Handlers take (hub, req, **path params) and return (status, body, headers).


@route("GET", "/repos/{owner}/{repo}/labels", "issues/list-labels-for-repo")
def list_repo_labels(hub, req, owner, repo):
    row = hub.repo_or_404(owner, repo, req.login)
    rows = hub.store.q("SELECT * FROM labels WHERE repo_id = ? ORDER BY id", row["id"])
    page, headers = hub.paginate(req, rows, req.path)
    return 200, [hub.label_json(row, lab) for lab in page], headers


@route("POST", "/repos/{owner}/{repo}/labels", "issues/create-label", auth=True)
def create_label(hub, req, owner, repo):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    data = req.object()
    name = require_text(data, "name", "Label")
    color = str(data.get("color") or "ededed").lstrip("#")
    if not re.fullmatch(r"[0-9a-fA-F]{6}", color):
        raise invalid([{"resource": "Label", "code": "invalid", "field": "color"}])
    description = data.get("description")
    if description is not None and len(str(description)) > 100:
        raise invalid([{"resource": "Label", "code": "invalid", "field": "description"}])
    if hub.store.label(row["id"], name):
        raise invalid([{"resource": "Label", "code": "already_exists", "field": "name"}])
    hub.store.run("INSERT INTO labels (repo_id, name, color, description) VALUES (?, ?, ?, ?)",
                  row["id"], name, color.lower(), description)
    label = hub.store.label(row["id"], name)
    return 201, hub.label_json(row, label), {"Location": hub.label_json(row, label)["url"]}


@route("GET", "/repos/{owner}/{repo}/labels/{name}", "issues/get-label")
def get_label(hub, req, owner, repo, name):
    row = hub.repo_or_404(owner, repo, req.login)
    label = hub.store.label(row["id"], unquote(name))
    if label is None:
        raise not_found()
    return 200, hub.label_json(row, label), {}


@route("DELETE", "/repos/{owner}/{repo}/labels/{name}", "issues/delete-label", auth=True)
def delete_label(hub, req, owner, repo, name):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    label = hub.store.label(row["id"], unquote(name))
    if label is None:
        raise not_found()
    hub.store.run("DELETE FROM issue_labels WHERE label_id = ?", label["id"])
    hub.store.run("DELETE FROM labels WHERE id = ?", label["id"])
    return 204, None, {}


def _issue_labels_json(hub, row, issue_row):
    return [hub.label_json(row, lab) for lab in hub.store.issue_labels(issue_row["id"])]


@route("GET", "/repos/{owner}/{repo}/issues/{number}/labels", "issues/list-labels-on-issue")
def list_issue_labels(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    issue_row = hub.issue_or_404(row, number)
    page, headers = hub.paginate(req, _issue_labels_json(hub, row, issue_row), req.path)
    return 200, page, headers


@route("POST", "/repos/{owner}/{repo}/issues/{number}/labels", "issues/add-labels", auth=True)
def add_issue_labels(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    issue_row = hub.issue_or_404(row, number)
    names = labels_from_body(req.json())
    if not names:
        raise invalid([{"resource": "Label", "code": "missing_field", "field": "labels"}])
    hub.add_labels(row, issue_row, names, req.login)
    return 200, _issue_labels_json(hub, row, issue_row), {}


@route("PUT", "/repos/{owner}/{repo}/issues/{number}/labels", "issues/set-labels", auth=True)
def set_issue_labels(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    issue_row = hub.issue_or_404(row, number)
    names = labels_from_body(req.json() if req.body else [])
    keep = {n.lower() for n in names}
    hub.remove_label_rows(issue_row, [lab for lab in hub.store.issue_labels(issue_row["id"])
                                      if lab["name"].lower() not in keep], req.login)
    hub.add_labels(row, issue_row, names, req.login)
    return 200, _issue_labels_json(hub, row, issue_row), {}


@route("DELETE", "/repos/{owner}/{repo}/issues/{number}/labels", "issues/remove-all-labels", auth=True)
def remove_all_labels(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    issue_row = hub.issue_or_404(row, number)
    hub.remove_label_rows(issue_row, hub.store.issue_labels(issue_row["id"]), req.login)
    return 204, None, {}


@route("DELETE", "/repos/{owner}/{repo}/issues/{number}/labels/{name}", "issues/remove-label", auth=True)
def remove_issue_label(hub, req, owner, repo, number, name):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    issue_row = hub.issue_or_404(row, number)
    wanted = unquote(name).lower()
    present = [lab for lab in hub.store.issue_labels(issue_row["id"]) if lab["name"].lower() == wanted]
    if not present:
        raise HubError(404, "Label does not exist")
    hub.remove_label_rows(issue_row, present, req.login)
    return 200, _issue_labels_json(hub, row, issue_row), {}

