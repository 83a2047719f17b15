"""safety: deny-listed paths, secret-looking content, symlinks out of the worktree, admitted prohibited actions."""

import os
import re
from pathlib import Path

from ..gitutil import git
from ..globs import match
from .base import Gate, verdict

SECRET_PATTERNS = [
    ("private key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    ("GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,}"),
    ("GitHub fine-grained token", r"\bgithub_pat_[A-Za-z0-9_]{22,}"),
    ("AWS access key", r"\bAKIA[0-9A-Z]{16}\b"),
    ("Slack token", r"\bxox[baprs]-[A-Za-z0-9-]{10,}"),
    ("hard-coded credential", r"(?i)\b(api[_-]?key|secret|password|passwd|token)\b\s*[:=]\s*['\"][^'\"\s]{12,}['\"]"),
]
MAX_BYTES = 1 << 20


def mask(text: str) -> str:
    return text[:4] + "…" if len(text) > 4 else "…"


def added_lines(worktree: Path, base: str, head: str | None) -> dict[str, list[tuple[int, str]]]:
    """Lines the change adds, per file: committed and uncommitted (tracked files)."""
    args = ["diff", "-U0", "--no-color", "--no-ext-diff", "--no-renames", base] + ([head] if head else [])
    out = git(worktree, *args)
    found: dict[str, list[tuple[int, str]]] = {}
    path, line_no = None, 0
    for line in out.splitlines():
        if line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else None
        elif line.startswith("@@"):
            hunk = re.search(r"\+(\d+)", line)
            line_no = int(hunk.group(1)) if hunk else 0
        elif line.startswith("+") and path:
            found.setdefault(path, []).append((line_no, line[1:]))
            line_no += 1
    return found


class SafetyGate(Gate):
    name = "safety"

    def run(self, ctx) -> dict:
        policy, changes, worktree = ctx.policy, ctx.changes, Path(ctx.worktree)
        findings = []
        deny = policy["deny"]
        for path in changes.files:
            if match(path, deny["paths"]):
                findings.append({"file": path, "line": None, "severity": "blocker", "rule": "deny-path",
                                 "message": f"{path} matches a denied path (deny.paths): secrets never go in a PR"})
        lines = added_lines(worktree, changes.base, ctx.head)
        if ctx.head is None:
            for path in changes.untracked:
                file = worktree / path
                if file.is_file() and not file.is_symlink() and file.stat().st_size <= MAX_BYTES:
                    text = file.read_bytes()
                    if b"\0" not in text:
                        lines[path] = list(enumerate(text.decode(errors="replace").splitlines(), start=1))
        patterns = SECRET_PATTERNS + [("policy content pattern", p) for p in deny.get("contentPatterns") or []]
        for path, added in sorted(lines.items()):
            for number, text in added:
                for name, pattern in patterns:
                    hit = re.search(pattern, text)
                    if hit:
                        findings.append({"file": path, "line": number, "severity": "blocker", "rule": "secret",
                                         "message": f"{name} in added content ({mask(hit.group(0))})"})
                        break
        findings += self._symlinks(ctx, worktree)
        findings += self._prohibited(ctx)
        if findings:
            return verdict(self.name, "fail", f"{len(findings)} safety finding(s): "
                           + "; ".join(f["message"] for f in findings[:3]), findings=findings)
        return verdict(self.name, "pass", f"{len(changes.files)} changed file(s): no denied paths, secrets, "
                       "escaping symlinks or prohibited actions")

    def _symlinks(self, ctx, worktree: Path) -> list[dict]:
        findings, root = [], worktree.resolve()
        links = {}
        if ctx.head is None:
            for path in ctx.changes.files:
                file = worktree / path
                if file.is_symlink():
                    links[path] = os.readlink(file)
        rev = ctx.head or "HEAD"
        for path in ctx.changes.committed:
            entry = git(worktree, "ls-tree", rev, "--", path).split()
            if entry and entry[0] == "120000" and path not in links:
                links[path] = git(worktree, "cat-file", "-p", entry[2])
        for path, target in sorted(links.items()):
            # Resolve lexically: the link need not exist on this machine to be dangerous.
            resolved = Path(os.path.normpath((root / path).parent / target))
            if not str(resolved).startswith(str(root) + os.sep) and resolved != root:
                findings.append({"file": path, "line": None, "severity": "blocker", "rule": "symlink",
                                 "message": f"symlink {path} points outside the worktree ({target})"})
        return findings

    def _prohibited(self, ctx) -> list[dict]:
        report = ctx.report or {}
        findings = [{"file": None, "line": None, "severity": "blocker", "rule": "prohibited-action",
                     "message": f"the agent reports a prohibited action: {action}"}
                    for action in report.get("prohibitedActions") or []]
        for line in report.get("validation") or []:
            command = line.get("command") or ""
            for pattern in ctx.policy["deny"]["commands"]:
                if command and re.search(pattern, command):
                    findings.append({"file": None, "line": None, "severity": "blocker", "rule": "denied-command",
                                     "message": f"the agent ran a denied command: {command[:80]}"})
                    break
        return findings
