"""The hub's HTTP server: GitHub's REST operations that cxo uses, plus git smart HTTP.

Each route carries GitHub's operationId (`issues/add-labels`), which names it in
`/_hub/stats` and lets tests validate every response against GitHub's schemas
through the `on_response` hook. Behaviour follows GitHub's documented and
reported semantics (see tests/data/github-rest/semantics.md).
"""

import base64
import hashlib
import json
import random
import re
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from . import shapes
from .git import GitRepos
from .store import Store, now_iso

DOCS = "https://docs.github.com/rest"
RATE_LIMIT = 5000
DEFAULT_USER = "hubber"


class HubError(Exception):
    def __init__(self, status: int, message: str, errors: list | None = None, headers: dict | None = None,
                 docs: str = DOCS):
        super().__init__(message)
        self.status, self.message, self.errors, self.headers, self.docs = status, message, errors, headers, docs

    def body(self) -> dict:
        body = {"message": self.message, "documentation_url": self.docs, "status": str(self.status)}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def not_found() -> HubError:
    return HubError(404, "Not Found")


def invalid(errors: list, message: str = "Validation Failed") -> HubError:
    return HubError(422, message, errors)


@dataclass
class FaultConfig:
    """Injected faults for reliability tests: errors, latency and lost responses."""

    error_rate: float = 0.0
    latency_ms: int = 0
    drop_rate: float = 0.0
    seed: int | None = None

    def to_json(self) -> dict:
        return {"error_rate": self.error_rate, "latency_ms": self.latency_ms, "drop_rate": self.drop_rate,
                "seed": self.seed}


class Request:
    def __init__(self, method, path, query, headers, body, login):
        self.method, self.path, self.query, self.headers, self.body, self.login = (
            method, path, query, headers, body, login)

    def arg(self, name, default=None):
        values = self.query.get(name)
        return values[0] if values else default

    def json(self):
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise HubError(400, "Problems parsing JSON") from None
        return data

    def object(self) -> dict:
        data = self.json()
        if not isinstance(data, dict):
            raise HubError(400, "Body should be a JSON object")
        return data


ROUTES = []


def route(method: str, pattern: str, op_id: str, auth: bool = False):
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern.replace("{ref+}", "(?P<ref>.+)")) + "$")

    def register(fn):
        ROUTES.append((method, regex, op_id, fn, auth))
        return fn

    return register


class Hub:
    def __init__(self, data_dir: Path, tokens=None, faults: FaultConfig | None = None):
        self.data_dir = Path(data_dir)
        self.store = Store(self.data_dir / "hub.sqlite3")
        self.git = GitRepos(self.data_dir / "git")
        self.tokens = self._parse_tokens(tokens)
        self.faults = faults or FaultConfig()
        self._rng = random.Random(self.faults.seed)
        self.base = ""  # set once the server knows its port
        self.on_response = None
        self.stats_lock = threading.Lock()
        self.reset_stats()
        self.rate: dict[str, list] = {}

    @staticmethod
    def _parse_tokens(tokens):
        if not tokens:
            return None
        parsed = {}
        for entry in tokens:
            login, sep, token = entry.partition(":")
            parsed[token if sep else login] = login if sep else DEFAULT_USER
        return parsed

    def reset_stats(self):
        with self.stats_lock:
            self.stats = {"total": 0, "billable": 0, "not_modified": 0, "writes": 0, "by_op": {},
                          "faults": {"errors": 0, "dropped": 0}, "git": 0}

    def set_faults(self, faults: FaultConfig):
        self.faults = faults
        self._rng = random.Random(faults.seed)

    # --- auth and rate limit -------------------------------------------------------------
    def authenticate(self, header: str | None) -> str | None:
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() not in ("token", "bearer") or not token:
            raise HubError(401, "Bad credentials")
        if self.tokens is None:
            return token[3:] if token.startswith("as:") and len(token) > 3 else DEFAULT_USER
        if token not in self.tokens:
            raise HubError(401, "Bad credentials")
        return self.tokens[token]

    def git_user(self, header: str | None) -> str | None:
        """Basic auth for git: the password (or a token-as-username) must be an accepted token."""
        if not header or not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        for candidate in (password, user):
            if not candidate:
                continue
            try:
                return self.authenticate(f"token {candidate}")
            except HubError:
                continue
        return None

    def rate_headers(self, login: str | None, billable: bool) -> dict:
        key = login or "anonymous"
        limit = RATE_LIMIT if login else 60
        now = time.time()
        window = self.rate.get(key)
        if window is None or window[1] <= now:
            window = self.rate[key] = [0, int(now // 3600 + 1) * 3600]
        if billable:
            window[0] += 1
        return {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(max(0, limit - window[0])),
                "x-ratelimit-used": str(window[0]), "x-ratelimit-reset": str(window[1]),
                "x-ratelimit-resource": "core"}

    # --- helpers for handlers ----------------------------------------------------------
    def repo_or_404(self, owner, name, login=None):
        row = self.store.repo(owner, name)
        if row is None or (row["private"] and not self._can_read(row, login)):
            raise not_found()
        return row

    def _can_read(self, repo, login):
        return login is not None and (login.lower() == repo["owner"].lower() or self._is_collaborator(repo, login))

    def _is_collaborator(self, repo, login):
        row = self.store.one("SELECT 1 FROM collaborators WHERE repo_id = ? AND login = ?", repo["id"], login)
        return row is not None

    def require_write(self, repo, login):
        if login is None:
            raise HubError(401, "Requires authentication")
        if self.tokens is None:
            return  # any accepted token may write, as the documented default of the hub
        if not (login.lower() == repo["owner"].lower() or self._is_collaborator(repo, login) or login == DEFAULT_USER):
            raise HubError(403, "Resource not accessible by personal access token")

    def association(self, repo, login) -> str:
        if login.lower() == repo["owner"].lower():
            return "OWNER"
        if self._is_collaborator(repo, login):
            return "COLLABORATOR"
        return "NONE"

    def user_json(self, login):
        return shapes.user(self.base, self.store.user(login))

    def full(self, repo):
        return f"{repo['owner']}/{repo['name']}"

    def label_json(self, repo, row):
        return shapes.label(self.base, self.full(repo), row)

    def issue_json(self, repo, row):
        labels = [self.label_json(repo, lab) for lab in self.store.issue_labels(row["id"])]
        comments = self.store.one("SELECT COUNT(*) FROM comments WHERE issue_id = ?", row["id"])[0]
        return shapes.issue(self.base, self.base, self.full(repo), row, self.user_json(row["user"]), labels,
                            comments, self.association(repo, row["user"]), self.store.pull(row["id"]))

    def comment_json(self, repo, row):
        issue = self.store.one("SELECT number FROM issues WHERE id = ?", row["issue_id"])
        return shapes.comment(self.base, self.base, self.full(repo), issue["number"], row,
                              self.user_json(row["user"]), self.association(repo, row["user"]))

    def side(self, repo, ref, sha):
        owner_row = self.store.user(repo["owner"])
        return {"label": f"{repo['owner']}:{ref}", "ref": ref, "sha": sha, "user": shapes.user(self.base, owner_row),
                "repo": self.repo_json(repo)}

    def repo_json(self, repo):
        open_issues = self.store.one("SELECT COUNT(*) FROM issues WHERE repo_id = ? AND state = 'open'", repo["id"])[0]
        return shapes.repo(self.base, repo, self.store.user(repo["owner"], repo["owner_type"] or "User"),
                           open_issues, self.base)

    def pull_json(self, repo, issue_row, pull_row):
        owner, name = repo["owner"], repo["name"]
        head_sha = (self.git.ref_sha(owner, name, f"refs/heads/{pull_row['head_ref']}")
                    or pull_row["head_sha_at_close"] or "0" * 40)
        base_sha = self.git.ref_sha(owner, name, f"refs/heads/{pull_row['base_ref']}") or "0" * 40
        stats = {"mergeable": None, "commits": 0, "additions": 0, "deletions": 0, "changed_files": 0,
                 "comments": self.store.one("SELECT COUNT(*) FROM comments WHERE issue_id = ?", issue_row["id"])[0]}
        if "0" * 40 not in (head_sha, base_sha):
            stats.update(self.git.diff_stats(owner, name, base_sha, head_sha))
            stats["commits"] = self.git.commits_between(owner, name, base_sha, head_sha)
            stats["mergeable"] = self.git.merge_tree(owner, name, base_sha, head_sha) is not None
        labels = [self.label_json(repo, lab) for lab in self.store.issue_labels(issue_row["id"])]
        merged_by = self.user_json(pull_row["merged_by"]) if pull_row["merged_by"] else None
        return shapes.pull(self.base, self.base, self.full(repo), issue_row, pull_row,
                           self.user_json(issue_row["user"]), labels, self.association(repo, issue_row["user"]),
                           self.side(repo, pull_row["head_ref"], head_sha),
                           self.side(repo, pull_row["base_ref"], base_sha), stats, merged_by)

    def touch(self, issue_row):
        self.store.run("UPDATE issues SET updated_at = ? WHERE id = ?", now_iso(), issue_row["id"])

    def event(self, issue_row, event, login, label=None):
        self.store.run("INSERT INTO events (issue_id, event, label, label_color, actor, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", issue_row["id"], event, label["name"] if label else None,
                       label["color"] if label else None, login, now_iso())

    def ensure_label(self, repo, name) -> object:
        row = self.store.label(repo["id"], name)
        if row is None:  # GitHub creates an unknown label on add, colour ededed, no description
            self.store.run("INSERT INTO labels (repo_id, name, color, description) VALUES (?, ?, 'ededed', NULL)",
                           repo["id"], name)
            row = self.store.label(repo["id"], name)
        return row

    def add_labels(self, repo, issue_row, names, login):
        for name in names:
            row = self.ensure_label(repo, str(name))
            if self.store.one("SELECT 1 FROM issue_labels WHERE issue_id = ? AND label_id = ?",
                              issue_row["id"], row["id"]) is None:
                self.store.run("INSERT INTO issue_labels (issue_id, label_id) VALUES (?, ?)",
                               issue_row["id"], row["id"])
                self.event(issue_row, "labeled", login, row)
        self.touch(issue_row)

    def remove_label_rows(self, issue_row, rows, login):
        for row in rows:
            self.store.run("DELETE FROM issue_labels WHERE issue_id = ? AND label_id = ?", issue_row["id"], row["id"])
            self.event(issue_row, "unlabeled", login, row)
        self.touch(issue_row)

    def issue_or_404(self, repo, number):
        row = self.store.issue(repo["id"], int(number)) if str(number).isdigit() else None
        if row is None:
            raise not_found()
        return row

    def paginate(self, req: Request, items: list, path: str) -> tuple[list, dict]:
        try:
            per_page = min(100, max(1, int(req.arg("per_page", 30))))
            page = max(1, int(req.arg("page", 1)))
        except ValueError:
            raise invalid([{"resource": "Search", "field": "per_page", "code": "invalid"}]) from None
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        if last == 1:
            return chunk, {}
        query = {k: v[0] for k, v in req.query.items() if k not in ("page",)}
        query["per_page"] = str(per_page)

        def link(n, rel):
            return f'<{self.base}{path}?{urlencode({**query, "page": n})}>; rel="{rel}"'

        links = []
        if page < last:
            links.append(link(page + 1, "next"))
            links.append(link(last, "last"))
        if page > 1:
            links.insert(0, link(page - 1, "prev"))
            links.insert(1, link(1, "first"))
        return chunk, {"Link": ", ".join(links)}


def require_text(data: dict, field: str, resource: str) -> str:
    """A required non-empty string field, or GitHub's 422 missing_field."""
    value = data.get(field)
    if not isinstance(value, str) or not value:
        raise invalid([{"resource": resource, "code": "missing_field", "field": field}])
    return value


def _labels_from_body(data):
    """Add/set labels accept {"labels": [...]}, a bare array, or a single string."""
    if isinstance(data, list):
        return [str(x["name"]) if isinstance(x, dict) else str(x) for x in data]
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        labels = data.get("labels", [])
        if isinstance(labels, str):
            return [labels]
        if not isinstance(labels, list):
            raise invalid([{"resource": "Label", "field": "labels", "code": "invalid"}])
        return [str(x["name"]) if isinstance(x, dict) else str(x) for x in labels]
    raise HubError(400, "Body should be a JSON object")


# ---------------------------------------------------------------------------------------------
# Routes. Handlers take (hub, req, **path params) and return (status, body, headers).


@route("GET", "/user", "users/get-authenticated", auth=True)
def get_user(hub, req):
    return 200, shapes.private_user(hub.base, hub.store.user(req.login)), {}


@route("GET", "/rate_limit", "rate-limit/get")
def rate_limit(hub, req):
    headers = hub.rate_headers(req.login, billable=False)
    core = {"limit": int(headers["x-ratelimit-limit"]), "remaining": int(headers["x-ratelimit-remaining"]),
            "reset": int(headers["x-ratelimit-reset"]), "used": int(headers["x-ratelimit-used"])}
    search = {"limit": 30, "remaining": 30, "reset": core["reset"], "used": 0}
    return 200, {"resources": {"core": core, "search": search}, "rate": core}, {}


def _create_repo(hub, req, owner, owner_type):
    data = req.object()
    name = data.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", name or ""):
        raise invalid([{"resource": "Repository", "code": "missing_field", "field": "name"}],
                      "Repository creation failed.")
    if hub.store.repo(owner, name):
        raise invalid([{"resource": "Repository", "code": "custom", "field": "name",
                        "message": "name already exists on this account"}], "Repository creation failed.")
    branch = data.get("default_branch") or "main"
    now = now_iso()
    hub.store.user(owner, owner_type)
    hub.store.run("INSERT INTO repos (owner, name, private, description, default_branch, created_at, updated_at, "
                  "pushed_at, owner_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", owner, name,
                  int(bool(data.get("private"))), data.get("description"), branch, now, now, None, owner_type)
    hub.git.create(owner, name, branch)
    if data.get("auto_init"):
        hub.git.init_commit(owner, name, branch, f"# {name}\n")
        hub.store.run("UPDATE repos SET pushed_at = ? WHERE owner = ? AND name = ?", now, owner, name)
    repo = hub.store.repo(owner, name)
    return 201, hub.repo_json(repo), {"Location": f"{hub.base}/repos/{owner}/{name}"}


@route("POST", "/user/repos", "repos/create-for-authenticated-user", auth=True)
def create_user_repo(hub, req):
    return _create_repo(hub, req, req.login, "User")


@route("POST", "/orgs/{org}/repos", "repos/create-in-org", auth=True)
def create_org_repo(hub, req, org):
    return _create_repo(hub, req, org, "Organization")


@route("GET", "/repos/{owner}/{repo}", "repos/get")
def get_repo(hub, req, owner, repo):
    return 200, hub.repo_json(hub.repo_or_404(owner, repo, req.login)), {}


@route("PUT", "/repos/{owner}/{repo}/collaborators/{login}", "repos/add-collaborator", auth=True)
def add_collaborator(hub, req, owner, repo, login):
    row = hub.repo_or_404(owner, repo, req.login)
    if req.login.lower() != row["owner"].lower() and hub.tokens is not None:
        raise HubError(403, "Must have admin rights to Repository.")
    hub.store.user(login)
    hub.store.run("INSERT OR IGNORE INTO collaborators (repo_id, login) VALUES (?, ?)", row["id"], login)
    return 204, None, {}


@route("GET", "/repos/{owner}/{repo}/branches/{branch}", "repos/get-branch")
def get_branch(hub, req, owner, repo, branch):
    row = hub.repo_or_404(owner, repo, req.login)
    sha = hub.git.ref_sha(row["owner"], row["name"], f"refs/heads/{branch}")
    if sha is None:
        raise HubError(404, "Branch not found")
    api = f"{hub.base}/repos/{hub.full(row)}"
    commit_url = f"{api}/commits/{sha}"
    commit = {"sha": sha, "node_id": shapes.node_id("C", int(sha[:8], 16)), "url": commit_url,
              "html_url": f"{hub.base}/{hub.full(row)}/commit/{sha}", "comments_url": commit_url + "/comments",
              "commit": {"url": f"{api}/git/commits/{sha}", "message": "", "comment_count": 0,
                         "author": None, "committer": None,
                         "tree": {"sha": sha, "url": f"{api}/git/trees/{sha}"}},
              "author": None, "committer": None, "parents": []}
    body = {"name": branch, "commit": commit, "_links": {"html": f"{hub.base}/{hub.full(row)}/tree/{branch}",
                                                         "self": f"{api}/branches/{branch}"},
            "protected": False, "protection": {"enabled": False},
            "protection_url": f"{api}/branches/{branch}/protection"}
    return 200, body, {}


def _ref_json(hub, row, ref, sha):
    return {"ref": ref, "node_id": shapes.node_id("REF", int(sha[:8], 16)),
            "url": f"{hub.base}/repos/{hub.full(row)}/git/{ref}",
            "object": {"type": "commit", "sha": sha, "url": f"{hub.base}/repos/{hub.full(row)}/git/commits/{sha}"}}


@route("GET", "/repos/{owner}/{repo}/git/ref/{ref+}", "git/get-ref")
def get_ref(hub, req, owner, repo, ref):
    row = hub.repo_or_404(owner, repo, req.login)
    sha = hub.git.ref_sha(row["owner"], row["name"], f"refs/{ref}") if ref.startswith(("heads/", "tags/")) else None
    if sha is None:
        raise not_found()
    return 200, _ref_json(hub, row, f"refs/{ref}", sha), {}


@route("GET", "/repos/{owner}/{repo}/git/matching-refs/{ref+}", "git/list-matching-refs")
def matching_refs(hub, req, owner, repo, ref):
    row = hub.repo_or_404(owner, repo, req.login)
    pairs = hub.git.refs(row["owner"], row["name"], ref)
    items, headers = hub.paginate(req, [_ref_json(hub, row, r, s) for r, s in pairs], req.path)
    return 200, items, headers


# --- issues -------------------------------------------------------------------------------------


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
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    data = req.object()
    title = require_text(data, "title", "Issue")
    now = now_iso()
    number = hub.store.next_number(row["id"])
    issue_id = hub.store.run("INSERT INTO issues (repo_id, number, title, body, state, state_reason, user, created_at, "
                             "updated_at) VALUES (?, ?, ?, ?, 'open', NULL, ?, ?, ?)", row["id"], number, str(title),
                             data.get("body"), req.login, now, now)
    issue_row = hub.store.one("SELECT * FROM issues WHERE id = ?", issue_id)
    if data.get("labels"):
        hub.add_labels(row, issue_row, _labels_from_body({"labels": data["labels"]}), req.login)
    issue_row = hub.store.one("SELECT * FROM issues WHERE id = ?", issue_id)
    return 201, hub.issue_json(row, issue_row), {"Location": f"{hub.base}/repos/{hub.full(row)}/issues/{number}"}


@route("GET", "/repos/{owner}/{repo}/issues/{number}", "issues/get")
def get_issue(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    return 200, hub.issue_json(row, hub.issue_or_404(row, number)), {}


@route("PATCH", "/repos/{owner}/{repo}/issues/{number}", "issues/update", auth=True)
def update_issue(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    issue_row = hub.issue_or_404(row, number)
    data = req.object()
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
        names = {n.lower() for n in _labels_from_body({"labels": data["labels"] or []})}
        current = hub.store.issue_labels(issue_row["id"])
        hub.remove_label_rows(issue_row, [lab for lab in current if lab["name"].lower() not in names], req.login)
        hub.add_labels(row, issue_row, _labels_from_body({"labels": data["labels"] or []}), req.login)
    hub.touch(issue_row)
    return 200, hub.issue_json(row, hub.issue_or_404(row, number)), {}


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


@route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "issues/get-comment")
def get_comment(hub, req, owner, repo, comment_id):
    row = hub.repo_or_404(owner, repo, req.login)
    return 200, hub.comment_json(row, _comment_or_404(hub, row, comment_id)), {}


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "issues/update-comment", auth=True)
def update_comment(hub, req, owner, repo, comment_id):
    row = hub.repo_or_404(owner, repo, req.login)
    comment = _comment_or_404(hub, row, comment_id)
    data = req.object()
    require_text(data, "body", "IssueComment")
    if comment["user"].lower() != req.login.lower() and row["owner"].lower() != req.login.lower():
        raise HubError(403, "Resource not accessible by personal access token")
    hub.store.run("UPDATE comments SET body = ?, updated_at = ? WHERE id = ?", data["body"], now_iso(), comment["id"])
    return 200, hub.comment_json(row, _comment_or_404(hub, row, comment_id)), {}


@route("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "issues/delete-comment", auth=True)
def delete_comment(hub, req, owner, repo, comment_id):
    row = hub.repo_or_404(owner, repo, req.login)
    comment = _comment_or_404(hub, row, comment_id)
    if comment["user"].lower() != req.login.lower() and row["owner"].lower() != req.login.lower():
        raise HubError(403, "Resource not accessible by personal access token")
    hub.store.run("DELETE FROM comments WHERE id = ?", comment["id"])
    return 204, None, {}


# --- labels ---------------------------------------------------------------------------------------


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
    names = _labels_from_body(req.json())
    if not names:
        raise invalid([{"resource": "Label", "code": "missing_field", "field": "labels"}])
    hub.add_labels(row, issue_row, names, req.login)
    return 200, _issue_labels_json(hub, row, issue_row), {}


@route("PUT", "/repos/{owner}/{repo}/issues/{number}/labels", "issues/set-labels", auth=True)
def set_issue_labels(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    issue_row = hub.issue_or_404(row, number)
    names = _labels_from_body(req.json() if req.body else [])
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


@route("GET", "/repos/{owner}/{repo}/issues/{number}/timeline", "issues/list-events-for-timeline")
def timeline(hub, req, owner, repo, number):
    row = hub.repo_or_404(owner, repo, req.login)
    issue_row = hub.issue_or_404(row, number)
    items = []
    for ev in hub.store.q("SELECT * FROM events WHERE issue_id = ? ORDER BY id", issue_row["id"]):
        item = {"id": ev["id"], "node_id": shapes.node_id("E", ev["id"]),
                "url": f"{hub.base}/repos/{hub.full(row)}/issues/events/{ev['id']}",
                "actor": hub.user_json(ev["actor"]), "event": ev["event"], "commit_id": None, "commit_url": None,
                "created_at": ev["created_at"], "performed_via_github_app": None}
        if ev["label"] is not None:
            item["label"] = {"name": ev["label"], "color": ev["label_color"]}
        items.append(item)
    page, headers = hub.paginate(req, items, req.path)
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


# --- pull requests -----------------------------------------------------------------------------------


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


# --- admin ------------------------------------------------------------------------------------------


@route("GET", "/_hub/stats", "hub/stats")
def hub_stats(hub, req):
    with hub.stats_lock:
        return 200, json.loads(json.dumps(hub.stats)), {}


@route("POST", "/_hub/stats/reset", "hub/reset-stats")
def hub_reset(hub, req):
    hub.reset_stats()
    return 200, {"ok": True}, {}


@route("GET", "/_hub/faults", "hub/get-faults")
def hub_get_faults(hub, req):
    return 200, hub.faults.to_json(), {}


@route("POST", "/_hub/faults", "hub/set-faults")
def hub_set_faults(hub, req):
    data = req.object()
    hub.set_faults(FaultConfig(float(data.get("error_rate", 0)), int(data.get("latency_ms", 0)),
                               float(data.get("drop_rate", 0)), data.get("seed")))
    return 200, hub.faults.to_json(), {}


# ---------------------------------------------------------------------------------------------
# HTTP plumbing

GIT_PATH = re.compile(
    r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)\.git(?P<rest>/(?:info/refs|git-upload-pack|git-receive-pack))$")


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    plain = etag.removeprefix("W/")
    return any(part.strip() == "*" or part.strip().removeprefix("W/") == plain for part in header.split(","))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cxo-hub"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle and delayed ACKs add ~40 ms a request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # quiet: tests and demos read stderr
        if getattr(self.server, "verbose", False):
            super().log_message(fmt, *args)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: dict, payload: bytes):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def _handle(self):
        hub: Hub = self.server.hub
        parts = urlsplit(self.path)
        body = self._body()
        match = GIT_PATH.match(parts.path)
        if match:
            return self._git(hub, match, parts, body)
        with hub.store.lock:
            status, headers, payload, op_id, drop = self._api(hub, parts, body)
        if drop:  # a lost response: the write happened, the client hears nothing
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if hub.on_response is not None:
            hub.on_response(op_id, self.command, parts.path, status, headers, payload)
        self._send(status, headers, payload)

    def _api(self, hub, parts, body):
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        method = self.command
        headers = {"Content-Type": "application/json; charset=utf-8", "X-GitHub-Media-Type": "github.v3; format=json",
                   "X-GitHub-Api-Version-Selected": "2022-11-28"}
        op_id, login, billable, drop = "hub/unknown", None, True, False
        try:
            login = hub.authenticate(self.headers.get("Authorization"))
            handler, params = None, {}
            for r_method, regex, r_op, fn, auth in ROUTES:
                found = regex.match(path)
                if found and r_method == method:
                    handler, params, op_id = fn, {k: unquote(v) for k, v in found.groupdict().items()}, r_op
                    if auth and login is None:
                        raise HubError(401, "Requires authentication")
                    break
            if handler is None:
                raise not_found()
            admin = op_id.startswith("hub/")
            if not admin:
                drop = self._inject_faults(hub, method)
            req = Request(method, path, query, self.headers, body, login)
            status, data, extra = handler(hub, req, **params)
            headers.update(extra)
        except HubError as err:
            status, data = err.status, err.body()
            headers.update(err.headers or {})
            admin = op_id.startswith("hub/")
        payload = b"" if data is None else json.dumps(data).encode()
        if method == "GET" and status == 200:
            etag = '"' + hashlib.sha1(payload).hexdigest() + '"'
            headers["ETag"] = etag
            if _etag_matches(self.headers.get("If-None-Match"), etag):
                status, payload, billable = 304, b"", False
        if op_id == "rate-limit/get":
            billable = False
        if not admin:
            headers.update(hub.rate_headers(login, billable))
            with hub.stats_lock:
                stats = hub.stats
                stats["total"] += 1
                stats["billable"] += int(billable)
                stats["not_modified"] += int(status == 304)
                stats["writes"] += int(method != "GET")
                stats["by_op"][op_id] = stats["by_op"].get(op_id, 0) + 1
        if status == 204:
            headers.pop("Content-Type", None)
        return status, headers, payload, op_id, drop

    def _inject_faults(self, hub, method) -> bool:
        faults = hub.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        roll = hub._rng.random()
        if roll < faults.error_rate:
            with hub.stats_lock:
                hub.stats["faults"]["errors"] += 1
            raise HubError(hub._rng.choice([502, 503]), "Server Error (injected by cxo-hub)")
        if method != "GET" and roll < faults.error_rate + faults.drop_rate:
            with hub.stats_lock:
                hub.stats["faults"]["dropped"] += 1
            return True
        return False

    def _git(self, hub, match, parts, body):
        owner, name, rest = match["owner"], match["repo"], match["rest"]
        with hub.store.lock:
            repo = hub.store.repo(owner, name)
        with hub.stats_lock:
            hub.stats["git"] += 1
        if repo is None:
            return self._send(404, {"Content-Type": "text/plain"}, b"Repository not found\n")
        pushing = rest.endswith("git-receive-pack") or "service=git-receive-pack" in parts.query
        user = hub.git_user(self.headers.get("Authorization"))
        if (pushing or repo["private"]) and user is None:
            return self._send(401, {"WWW-Authenticate": 'Basic realm="GitHub"', "Content-Type": "text/plain"},
                              b"Authentication required\n")
        path_info = f"/{repo['owner'].lower()}/{repo['name'].lower()}.git{rest}"
        status, headers, payload = hub.git.http_backend(self.command, path_info, parts.query, self.headers, body,
                                                        user)
        if rest.endswith("git-receive-pack") and status == 200:
            with hub.store.lock:
                hub.store.run("UPDATE repos SET pushed_at = ? WHERE id = ?", now_iso(), repo["id"])
                branches = hub.git.branches(repo["owner"], repo["name"])
                if branches and repo["default_branch"] not in branches:
                    hub.store.run("UPDATE repos SET default_branch = ? WHERE id = ?",
                                  "main" if "main" in branches else branches[0], repo["id"])
        self._send(status, dict(headers), payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class HubServer:
    """The hub in a background thread: `start()`, `url`, `stop()`; `on_response` sees every API response."""

    def __init__(self, data_dir, tokens=None, host: str = "127.0.0.1", port: int = 0,
                 faults: FaultConfig | None = None, verbose: bool = False):
        self.hub = Hub(Path(data_dir), tokens, faults)
        self.httpd = _Server((host, port), Handler)
        self.httpd.hub = self.hub
        self.httpd.verbose = verbose
        self.host, self.port = self.httpd.server_address[:2]
        self.url = f"http://{host}:{self.port}"
        self.hub.base = self.url
        self._thread = None

    @property
    def on_response(self):
        return self.hub.on_response

    @on_response.setter
    def on_response(self, fn):
        self.hub.on_response = fn

    def start(self) -> "HubServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="cxo-hub", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        self.httpd.serve_forever()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

