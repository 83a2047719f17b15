"""Check runs and commit statuses (what CI fix rounds read), and the Actions job log a failing job leaves.

Like GitHub: only a GitHub App creates check runs (here a token `as:app/<slug>` acts as `<slug>[bot]`); a commit
status needs push rights (or an app). Check runs are listed newest first per name with `filter=latest` (the
default); the combined status keeps the newest status per context and is `failure` when any is failure or
error, `pending` when any is pending or there is none, else `success`. An Actions check run's id is its job's
id: `GET …/actions/jobs/{id}/logs` answers 302 to the log's text, as GitHub does."""

import re

from .. import shapes
from ..routing import HubError, invalid, not_found, route
from ..store import now_iso

STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out")
STATES = ("error", "failure", "pending", "success")


def _app(hub, login: str | None) -> str:
    if not login or not login.endswith("[bot]"):
        raise HubError(403, "You must authenticate via a GitHub App.")
    return login[:-5]


def _sha(hub, row, ref: str) -> str:
    if re.fullmatch(r"[0-9a-f]{40}", ref):
        return ref
    sha = hub.git.ref_sha(row["owner"], row["name"], f"refs/heads/{ref}") or \
        hub.git.ref_sha(row["owner"], row["name"], f"refs/tags/{ref}")
    if sha is None:
        raise HubError(422, f"No commit found for SHA: {ref}")
    return sha


def _app_json(hub, slug: str) -> dict:
    owner = hub.user_json(f"{slug}[bot]")
    return {"id": owner["id"], "slug": slug, "node_id": shapes.node_id("A", owner["id"]), "owner": owner,
            "name": slug, "description": "", "external_url": f"{hub.base}/apps/{slug}",
            "html_url": f"{hub.base}/apps/{slug}", "created_at": "2020-01-01T00:00:00Z",
            "updated_at": "2020-01-01T00:00:00Z", "permissions": {"checks": "write"}, "events": []}


def check_json(hub, repo, row) -> dict:
    api = f"{hub.base}/repos/{hub.full(repo)}"
    html = f"{hub.base}/{hub.full(repo)}/runs/{row['id']}"
    return {"id": row["id"], "head_sha": row["head_sha"], "node_id": shapes.node_id("CR", row["id"]),
            "external_id": row["external_id"], "url": f"{api}/check-runs/{row['id']}", "html_url": html,
            "details_url": row["details_url"] or html, "status": row["status"], "conclusion": row["conclusion"],
            "started_at": row["started_at"], "completed_at": row["completed_at"],
            "output": {"title": row["title"], "summary": row["summary"], "text": row["text"],
                       "annotations_count": 0, "annotations_url": f"{api}/check-runs/{row['id']}/annotations"},
            "name": row["name"], "check_suite": {"id": row["id"]}, "app": _app_json(hub, row["app"]),
            "pull_requests": []}


def _fields(data: dict, row: dict) -> dict:
    """The writable fields of a create or update body, checked like GitHub (422 on a bad value)."""
    out = dict(row)
    for key in ("name", "details_url", "external_id"):
        if key in data:
            if not isinstance(data[key], str):
                raise invalid([{"resource": "CheckRun", "code": "invalid", "field": key}])
            out[key] = data[key]
    if "status" in data:
        if data["status"] not in STATUSES:
            raise invalid([{"resource": "CheckRun", "code": "invalid", "field": "status"}])
        out["status"] = data["status"]
    if "conclusion" in data:
        if data["conclusion"] not in CONCLUSIONS:
            raise invalid([{"resource": "CheckRun", "code": "invalid", "field": "conclusion"}])
        out["conclusion"], out["status"] = data["conclusion"], "completed"
    if out.get("status") == "completed" and not out.get("conclusion"):
        raise invalid([{"resource": "CheckRun", "code": "missing_field", "field": "conclusion"}])
    output = data.get("output")
    if output is not None:
        if not isinstance(output, dict) or not isinstance(output.get("title"), str) or \
                not isinstance(output.get("summary"), str):
            raise invalid([{"resource": "CheckRun", "code": "missing_field", "field": "output"}])
        out.update(title=output["title"], summary=output["summary"][:65535], text=(output.get("text") or None))
    return out


@route("POST", "/repos/{owner}/{repo}/check-runs", "checks/create", auth=True)
def create_check_run(hub, req, owner, repo):
    row = hub.repo_or_404(owner, repo, req.login)
    slug = _app(hub, req.login)
    data = req.object()
    if not isinstance(data.get("name"), str) or not data["name"] or not isinstance(data.get("head_sha"), str):
        raise invalid([{"resource": "CheckRun", "code": "missing_field", "field": "name"}])
    head = _sha(hub, row, data["head_sha"])
    now = now_iso()
    fields = _fields(data, {"status": "queued", "conclusion": None, "details_url": None, "external_id": "",
                            "title": None, "summary": None, "text": None})
    started = now if fields["status"] != "queued" else now
    completed = now if fields["status"] == "completed" else None
    log = data.get("log") if isinstance(data.get("log"), str) else None  # the hub's own field: the job's log
    new_id = hub.store.run(
        "INSERT INTO check_runs (repo_id, head_sha, name, app, status, conclusion, details_url, external_id, title,"
        " summary, text, log, started_at, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        row["id"], head, fields["name"], slug, fields["status"], fields["conclusion"], fields["details_url"],
        fields["external_id"], fields["title"], fields["summary"], fields["text"], log, started, completed)
    return 201, check_json(hub, row, hub.store.one("SELECT * FROM check_runs WHERE id = ?", new_id)), {}


@route("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}", "checks/update", auth=True)
def update_check_run(hub, req, owner, repo, check_run_id):
    row = hub.repo_or_404(owner, repo, req.login)
    slug = _app(hub, req.login)
    current = hub.store.one("SELECT * FROM check_runs WHERE id = ? AND repo_id = ?", int(check_run_id)
                            if check_run_id.isdigit() else -1, row["id"])
    if current is None or current["app"].lower() != slug.lower():
        raise not_found()
    data = req.object()
    fields = _fields(data, dict(current))
    completed = current["completed_at"] or (now_iso() if fields["status"] == "completed" else None)
    log = data.get("log") if isinstance(data.get("log"), str) else current["log"]
    hub.store.run("UPDATE check_runs SET name = ?, status = ?, conclusion = ?, details_url = ?, external_id = ?,"
                  " title = ?, summary = ?, text = ?, log = ?, completed_at = ? WHERE id = ?", fields["name"],
                  fields["status"], fields["conclusion"], fields["details_url"], fields["external_id"],
                  fields["title"], fields["summary"], fields["text"], log, completed, current["id"])
    return 200, check_json(hub, row, hub.store.one("SELECT * FROM check_runs WHERE id = ?", current["id"])), {}


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs", "checks/list-for-ref")
def list_check_runs(hub, req, owner, repo, ref):
    row = hub.repo_or_404(owner, repo, req.login)
    sha = _sha(hub, row, ref)
    rows = hub.store.q("SELECT * FROM check_runs WHERE repo_id = ? AND head_sha = ? ORDER BY id DESC", row["id"], sha)
    if (req.arg("filter") or "latest") == "latest":
        seen, latest = set(), []
        for item in rows:
            if (item["app"], item["name"]) not in seen:
                seen.add((item["app"], item["name"]))
                latest.append(item)
        rows = latest
    name, status = req.arg("check_name"), req.arg("status")
    rows = [r for r in rows if (name is None or r["name"] == name) and (status is None or r["status"] == status)]
    page, headers = hub.paginate(req, rows, f"/repos/{hub.full(row)}/commits/{ref}/check-runs")
    return 200, {"total_count": len(rows), "check_runs": [check_json(hub, row, r) for r in page]}, headers


def status_json(hub, row) -> dict:
    creator = hub.user_json(row["creator"])
    return {"url": f"{hub.base}/repos/statuses/{row['sha']}", "avatar_url": creator["avatar_url"], "id": row["id"],
            "node_id": shapes.node_id("SC", row["id"]), "state": row["state"], "description": row["description"],
            "target_url": row["target_url"], "context": row["context"], "created_at": row["created_at"],
            "updated_at": row["updated_at"], "creator": creator}


@route("POST", "/repos/{owner}/{repo}/statuses/{sha}", "repos/create-commit-status", auth=True)
def create_status(hub, req, owner, repo, sha):
    row = hub.repo_or_404(owner, repo, req.login)
    if not (req.login or "").endswith("[bot]"):
        hub.require_write(row, req.login)
    data = req.object()
    if data.get("state") not in STATES:
        raise invalid([{"resource": "Status", "code": "custom", "field": "state",
                        "message": f"state is not included in the list: {', '.join(STATES)}"}])
    if not re.fullmatch(r"[0-9a-f]{40}", sha):
        raise HubError(422, f"No commit found for SHA: {sha}")
    now = now_iso()
    new_id = hub.store.run(
        "INSERT INTO statuses (repo_id, sha, state, context, description, target_url, creator, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row["id"], sha, data["state"],
        str(data.get("context") or "default"), data.get("description"), data.get("target_url"), req.login, now, now)
    return 201, status_json(hub, hub.store.one("SELECT * FROM statuses WHERE id = ?", new_id)), {}


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/status", "repos/get-combined-status-for-ref")
def combined_status(hub, req, owner, repo, ref):
    row = hub.repo_or_404(owner, repo, req.login)
    sha = _sha(hub, row, ref)
    latest, seen = [], set()
    for item in hub.store.q("SELECT * FROM statuses WHERE repo_id = ? AND sha = ? ORDER BY id DESC", row["id"], sha):
        if item["context"] not in seen:
            seen.add(item["context"])
            latest.append(item)
    states = {s["state"] for s in latest}
    state = "failure" if states & {"failure", "error"} else "pending" if "pending" in states or not latest \
        else "success"
    api = f"{hub.base}/repos/{hub.full(row)}"
    return 200, {"state": state, "sha": sha, "total_count": len(latest),
                 "statuses": [status_json(hub, s) for s in latest], "repository": hub.repo_json(row),
                 "commit_url": f"{api}/commits/{sha}", "url": f"{api}/commits/{sha}/status"}, {}


def _job_log(hub, req, owner, repo, job_id):
    """The repository and the Actions job (an Actions check run) with a log, or 404."""
    row = hub.repo_or_404(owner, repo, req.login)
    run = hub.store.one("SELECT * FROM check_runs WHERE id = ? AND repo_id = ? AND app = 'github-actions'",
                        int(job_id) if job_id.isdigit() else -1, row["id"])
    if run is None or run["log"] is None:
        raise not_found()
    return row, run


@route("GET", "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs", "actions/download-job-logs-for-workflow-run")
def job_logs(hub, req, owner, repo, job_id):
    row, run = _job_log(hub, req, owner, repo, job_id)
    return 302, None, {"Location": f"{hub.base}/repos/{hub.full(row)}/actions/jobs/{run['id']}/logs/download"}


@route("GET", "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs/download", "actions/job-log-download")
def job_log_download(hub, req, owner, repo, job_id):
    """Where the 302 above points (GitHub's is a signed blob-storage URL): the log's text."""
    return 200, _job_log(hub, req, owner, repo, job_id)[1]["log"].encode(), {}
