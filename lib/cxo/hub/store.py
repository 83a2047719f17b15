"""The hub's state in SQLite. One connection behind one lock: the hub serves tests and demos, not load."""

import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, login TEXT UNIQUE COLLATE NOCASE, type TEXT);
CREATE TABLE IF NOT EXISTS repos (
  id INTEGER PRIMARY KEY, owner TEXT COLLATE NOCASE, name TEXT COLLATE NOCASE, private INTEGER,
  description TEXT, default_branch TEXT, created_at TEXT, updated_at TEXT, pushed_at TEXT,
  next_number INTEGER DEFAULT 1, owner_type TEXT, UNIQUE(owner, name));
CREATE TABLE IF NOT EXISTS collaborators (repo_id INTEGER, login TEXT COLLATE NOCASE, UNIQUE(repo_id, login));
CREATE TABLE IF NOT EXISTS labels (
  id INTEGER PRIMARY KEY, repo_id INTEGER, name TEXT COLLATE NOCASE, color TEXT, description TEXT,
  UNIQUE(repo_id, name));
CREATE TABLE IF NOT EXISTS issues (
  id INTEGER PRIMARY KEY, repo_id INTEGER, number INTEGER, title TEXT, body TEXT, state TEXT,
  state_reason TEXT, user TEXT, created_at TEXT, updated_at TEXT, closed_at TEXT, is_pr INTEGER DEFAULT 0,
  UNIQUE(repo_id, number));
CREATE TABLE IF NOT EXISTS issue_labels (issue_id INTEGER, label_id INTEGER, UNIQUE(issue_id, label_id));
CREATE TABLE IF NOT EXISTS comments (
  id INTEGER PRIMARY KEY, repo_id INTEGER, issue_id INTEGER, body TEXT, user TEXT, created_at TEXT,
  updated_at TEXT);
CREATE TABLE IF NOT EXISTS pulls (
  id INTEGER PRIMARY KEY, issue_id INTEGER UNIQUE, head_ref TEXT, head_owner TEXT, base_ref TEXT,
  draft INTEGER, merged_at TEXT, merged_by TEXT, merge_commit_sha TEXT, head_sha_at_close TEXT);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, issue_id INTEGER, event TEXT, label TEXT, label_color TEXT, actor TEXT,
  created_at TEXT);
CREATE TABLE IF NOT EXISTS sub_issues (parent_id INTEGER, child_id INTEGER UNIQUE, position INTEGER);
CREATE TABLE IF NOT EXISTS issue_dependencies (
  id INTEGER PRIMARY KEY, blocked_id INTEGER, blocking_id INTEGER, UNIQUE(blocked_id, blocking_id));
CREATE TABLE IF NOT EXISTS reviews (
  id INTEGER PRIMARY KEY, issue_id INTEGER, user TEXT COLLATE NOCASE, body TEXT, state TEXT, commit_id TEXT,
  submitted_at TEXT);
CREATE TABLE IF NOT EXISTS review_comments (
  id INTEGER PRIMARY KEY, issue_id INTEGER, review_id INTEGER, user TEXT COLLATE NOCASE, body TEXT, path TEXT,
  side TEXT, original_line INTEGER, original_position INTEGER, original_commit_id TEXT, diff_hunk TEXT,
  in_reply_to_id INTEGER, created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS reactions (
  id INTEGER PRIMARY KEY, subject TEXT, subject_id INTEGER, user TEXT COLLATE NOCASE, content TEXT, created_at TEXT,
  UNIQUE(subject, subject_id, user, content));
CREATE TABLE IF NOT EXISTS check_runs (
  id INTEGER PRIMARY KEY, repo_id INTEGER, head_sha TEXT, name TEXT, app TEXT COLLATE NOCASE, status TEXT,
  conclusion TEXT, details_url TEXT, external_id TEXT, title TEXT, summary TEXT, text TEXT, log TEXT,
  started_at TEXT, completed_at TEXT);
CREATE TABLE IF NOT EXISTS statuses (
  id INTEGER PRIMARY KEY, repo_id INTEGER, sha TEXT, state TEXT, context TEXT, description TEXT, target_url TEXT,
  creator TEXT, created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS org_members (org TEXT COLLATE NOCASE, login TEXT COLLATE NOCASE, UNIQUE(org, login));
"""


def now_iso(clock=time.time) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock()))


class Store:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.lock = threading.RLock()

    def q(self, sql: str, *args) -> list[sqlite3.Row]:
        return self.db.execute(sql, args).fetchall()

    def one(self, sql: str, *args) -> sqlite3.Row | None:
        return self.db.execute(sql, args).fetchone()

    def run(self, sql: str, *args) -> int:
        cur = self.db.execute(sql, args)
        return cur.lastrowid

    # --- users -------------------------------------------------------------------------
    def user(self, login: str, kind: str = "User") -> sqlite3.Row:
        row = self.one("SELECT * FROM users WHERE login = ?", login)
        if row is None:
            self.run("INSERT INTO users (login, type) VALUES (?, ?)", login, kind)
            row = self.one("SELECT * FROM users WHERE login = ?", login)
        return row

    # --- repos -------------------------------------------------------------------------
    def repo(self, owner: str, name: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM repos WHERE owner = ? AND name = ?", owner, name)

    def next_number(self, repo_id: int) -> int:
        number = self.one("SELECT next_number FROM repos WHERE id = ?", repo_id)[0]
        self.run("UPDATE repos SET next_number = ? WHERE id = ?", number + 1, repo_id)
        return number

    def label(self, repo_id: int, name: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM labels WHERE repo_id = ? AND name = ?", repo_id, name)

    def issue(self, repo_id: int, number: int) -> sqlite3.Row | None:
        return self.one("SELECT * FROM issues WHERE repo_id = ? AND number = ?", repo_id, number)

    def issue_labels(self, issue_id: int) -> list[sqlite3.Row]:
        return self.q(
            "SELECT labels.* FROM labels JOIN issue_labels ON labels.id = issue_labels.label_id "
            "WHERE issue_labels.issue_id = ? ORDER BY labels.name", issue_id)

    def pull(self, issue_id: int) -> sqlite3.Row | None:
        return self.one("SELECT * FROM pulls WHERE issue_id = ?", issue_id)
