"""The hub's model: store and git access, GitHub's JSON shapes, auth (users, org members, admin) and rate limits."""

import base64
import hmac
import os
import random
import re
import secrets
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from . import shapes
from .git import GitRepos
from .routing import FaultConfig, HubError, Request, invalid, not_found, valid_login
from .store import Store, now_iso

RATE_LIMIT = 5000
DEFAULT_USER = "hubber"
OPEN_ADMIN_TOKEN = "admin"  # also accepted for /_hub/* when the hub runs without a token list (open mode)
ADMIN_TOKEN_FILE = "admin-token"
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


def locate_line(patch: str, side: str, line: int) -> tuple[int, str] | None:
    """(position, diff_hunk) of `line` of one side (RIGHT: the new file, LEFT: the old) in a file's diff.

    The position counts lines below the file's first `@@` header (that header is position 0) and runs on
    through later hunk headers, as GitHub's review comments count it; the diff hunk runs from the line's hunk
    header to the line itself. None when the diff does not show the line."""
    lines = patch.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    position, hunk_start, old, new = -1, 0, 0, 0
    for i, text in enumerate(lines):
        header = HUNK.match(text)
        if header:
            position += 1
            hunk_start, old, new = i, int(header[1]), int(header[3])
            continue
        if position < 0 or text.startswith("\\"):  # file headers; "\ No newline at end of file"
            continue
        position += 1
        kind = text[:1]
        hit = (side == "RIGHT" and kind != "-" and new == line) or (side == "LEFT" and kind != "+" and old == line)
        old += kind != "+"
        new += kind != "-"
        if hit:
            return position, "\n".join(lines[hunk_start:i + 1])
    return None


def follow_line(patch_u0: str, line: int) -> int | None:
    """Where line `line` of a file's old version is in its new version, from their -U0 diff; None when the
    change removed or rewrote that line."""
    shift = 0
    for header in HUNK.finditer(patch_u0):
        start = int(header[1])
        removed = 1 if header[2] is None else int(header[2])
        added = 1 if header[4] is None else int(header[4])
        if removed == 0:  # a pure insertion after old line `start`
            shift += added if start < line else 0
        elif start <= line < start + removed:
            return None
        elif start + removed <= line:
            shift += added - removed
    return line + shift


class Hub:
    def __init__(self, data_dir: Path, tokens=None, faults: FaultConfig | None = None,
                 admin_token: str | None = None):
        self.data_dir = Path(data_dir)
        self.tokens = self._parse_tokens(tokens)
        self.store = Store(self.data_dir / "hub.sqlite3")
        self.git = GitRepos(self.data_dir / "git")
        self.admin_token = self._admin_token(admin_token)
        self.faults = faults or FaultConfig()
        self._rng = random.Random(self.faults.seed)
        self.base = ""  # set once the server knows its port
        self.on_response = None
        self.stats_lock = threading.Lock()
        self.dispatches: list[dict] = []  # workflow dispatches, in order (api/actions.py)
        self.reset_stats()
        self.rate: dict[str, list] = {}

    @staticmethod
    def _parse_tokens(tokens):
        if not tokens:
            return None
        parsed = {}
        for entry in tokens:
            login, sep, token = entry.partition(":")
            if sep and not valid_login(login):
                raise ValueError(f"token for {login!r}: not a valid GitHub login")
            parsed[token if sep else login] = login if sep else DEFAULT_USER
        return parsed

    def _admin_token(self, given: str | None) -> str:
        """The token for /_hub/*: the given one, else the one in <data>/admin-token, else a new random one there."""
        if given:
            return given
        path = self.data_dir / ADMIN_TOKEN_FILE
        if path.is_file() and path.read_text().strip():
            return path.read_text().strip()
        token = secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(token + "\n")
        return token

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
            if token.startswith("as:app/"):
                # A GitHub App's installation token (check runs need one): it acts as `<slug>[bot]`.
                if not valid_login(token[7:]):
                    raise HubError(401, "Bad credentials")
                self.store.user(f"{token[7:]}[bot]", "Bot")
                return f"{token[7:]}[bot]"
            if token.startswith("as:") and len(token) > 3:
                if not valid_login(token[3:]):
                    raise HubError(401, "Bad credentials")
                return token[3:]
            return DEFAULT_USER
        if token not in self.tokens:
            raise HubError(401, "Bad credentials")
        return self.tokens[token]

    def require_admin(self, header: str | None) -> None:
        """/_hub/* routes: 401 without credentials, 404 (the route is hidden) with anything but the admin token."""
        if not header:
            raise HubError(401, "Requires authentication")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        accepted = [self.admin_token] + ([OPEN_ADMIN_TOKEN] if self.tokens is None else [])
        if scheme.lower() not in ("token", "bearer") or not any(
                hmac.compare_digest(token.encode(), ok.encode()) for ok in accepted):
            raise not_found()

    def is_org_member(self, org: str, login: str) -> bool:
        return self.store.one("SELECT 1 FROM org_members WHERE org = ? AND login = ?", org, login) is not None

    def add_org_member(self, org: str, login: str) -> None:
        self.store.user(org, "Organization")
        self.store.user(login)
        self.store.run("INSERT OR IGNORE INTO org_members (org, login) VALUES (?, ?)", org, login)

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
        return self.can_push(repo, login)

    def _is_collaborator(self, repo, login):
        row = self.store.one("SELECT 1 FROM collaborators WHERE repo_id = ? AND login = ?", repo["id"], login)
        return row is not None

    def _is_member_of_owner(self, repo, login):
        return repo["owner_type"] == "Organization" and self.is_org_member(repo["owner"], login)

    # --- permissions, as GitHub grants them -----------------------------------------------
    # push (write): the repository's owner, its collaborators and, for an organization's repository, the org's
    # members (the hub has no member roles, so members also get admin there). admin: the owner, or an org member.
    # Everyone else may read a public repository and open issues, comment, react and review, nothing more. There is
    # no exception for the open mode's default user `hubber`: the existing tests do not rely on one, and a hub
    # without `--token` accepts any token as `as:LOGIN`, so any shortcut there would open every repository.
    def can_push(self, repo, login) -> bool:
        if login is None:
            return False
        return (login.lower() == repo["owner"].lower() or self._is_collaborator(repo, login)
                or self._is_member_of_owner(repo, login))

    def can_admin(self, repo, login) -> bool:
        return login is not None and (login.lower() == repo["owner"].lower() or self._is_member_of_owner(repo, login))

    def require_write(self, repo, login):
        """401 without a login; GitHub's 403 for a login without push access to the repository."""
        if login is None:
            raise HubError(401, "Requires authentication")
        if not self.can_push(repo, login):
            raise HubError(403, "Resource not accessible by personal access token")

    def require_admin_rights(self, repo, login):
        if login is None:
            raise HubError(401, "Requires authentication")
        if not self.can_admin(repo, login):
            raise HubError(403, "Must have admin rights to Repository.")

    def association(self, repo, login) -> str:
        if login.lower() == repo["owner"].lower():
            return "OWNER"
        if self._is_member_of_owner(repo, login):
            return "MEMBER"
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
                            comments, self.association(repo, row["user"]), self.store.pull(row["id"]),
                            self.reaction_counts("issue", row["id"]))

    def comment_json(self, repo, row):
        issue = self.store.one("SELECT number FROM issues WHERE id = ?", row["issue_id"])
        return shapes.comment(self.base, self.base, self.full(repo), issue["number"], row,
                              self.user_json(row["user"]), self.association(repo, row["user"]),
                              self.reaction_counts("issue_comment", row["id"]))

    # --- reactions, reviews and review comments -----------------------------------------
    def reaction_counts(self, subject: str, subject_id: int) -> dict:
        rows = self.store.q("SELECT content, COUNT(*) AS n FROM reactions WHERE subject = ? AND subject_id = ? "
                            "GROUP BY content", subject, subject_id)
        return {r["content"]: r["n"] for r in rows}

    def head_sha(self, repo, pull_row) -> str | None:
        return (self.git.ref_sha(repo["owner"], repo["name"], f"refs/heads/{pull_row['head_ref']}")
                or pull_row["head_sha_at_close"])

    def pull_diff_base(self, repo, pull_row, head: str) -> str | None:
        """The commit the PR's diff starts from: the merge base of its base branch and `head`."""
        base = self.git.ref_sha(repo["owner"], repo["name"], f"refs/heads/{pull_row['base_ref']}")
        return self.git.merge_base(repo["owner"], repo["name"], base, head) if base and head else None

    def locate(self, repo, pull_row, commit: str, path: str, side: str, line: int) -> tuple[int, str] | None:
        """(position, diff_hunk) of a line in the PR's diff as of `commit`, or None when the diff lacks it."""
        diff_base = self.pull_diff_base(repo, pull_row, commit)
        if diff_base is None:
            return None
        patch = self.git.file_diff(repo["owner"], repo["name"], diff_base, commit, path)
        return locate_line(patch, side, line)

    def comment_now(self, repo, pull_row, row) -> dict:
        """Where a review comment is at the PR's head: {position, line, commit_id}. A comment whose line the
        later commits changed or removed, or that left the diff, is outdated: position and line None and
        commit_id the commit it was made on."""
        outdated = {"position": None, "line": None, "commit_id": row["original_commit_id"]}
        head = self.head_sha(repo, pull_row)
        if head is None:
            return outdated
        line = row["original_line"]
        if row["side"] == "RIGHT" and head != row["original_commit_id"]:
            patch = self.git.file_diff(repo["owner"], repo["name"], row["original_commit_id"], head, row["path"],
                                       context=0)
            line = follow_line(patch, line)
            if line is None:
                return outdated
        found = self.locate(repo, pull_row, head, row["path"], row["side"], line)
        if found is None:
            return outdated
        return {"position": found[0], "line": line, "commit_id": head}

    def review_json(self, repo, issue_row, row):
        return shapes.review(self.base, self.base, self.full(repo), issue_row["number"], row,
                             self.user_json(row["user"]), self.association(repo, row["user"]))

    def review_comment_json(self, repo, issue_row, row, nullable_position: bool = False):
        pull_row = self.store.pull(issue_row["id"])
        return shapes.review_comment(self.base, self.base, self.full(repo), issue_row["number"], row,
                                     self.user_json(row["user"]), self.association(repo, row["user"]),
                                     self.comment_now(repo, pull_row, row),
                                     self.reaction_counts("review_comment", row["id"]), nullable_position)

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
                 "comments": self.store.one("SELECT COUNT(*) FROM comments WHERE issue_id = ?", issue_row["id"])[0],
                 "review_comments": self.store.one("SELECT COUNT(*) FROM review_comments WHERE issue_id = ?",
                                                   issue_row["id"])[0]}
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

