"""safety: deny-listed paths, secret-looking content, symlinks out of the worktree, admitted prohibited actions."""

import os
import re
from pathlib import Path

from ..gitutil import git
from ..globs import match
from ..untrusted import one_line
from . import content
from .base import Gate, verdict

SECRET_PATTERNS = [
    ("private key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    ("GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,}"),
    ("GitHub fine-grained token", r"\bgithub_pat_[A-Za-z0-9_]{22,}"),
    ("AWS access key", r"\bAKIA[0-9A-Z]{16}\b"),
    ("Slack token", r"\bxox[baprs]-[A-Za-z0-9-]{10,}"),
    ("hard-coded credential", r"(?i)\b(api[_-]?key|secret|password|passwd|token)\b\s*[:=]\s*['\"][^'\"\s]{12,}['\"]"),
]
OVERLAP = 4096  # bytes carried from one chunk to the next, so a secret across a chunk boundary is still seen
MAX_FINDINGS_PER_FILE = 20
DEFAULT_MAX_SCAN = 10 << 20


def mask(text: str) -> str:
    return text[:4] + "…" if len(text) > 4 else "…"


def scan(data, patterns) -> dict[int, tuple[str, str]]:
    """{line: (pattern name, matched text)} for byte chunks, whatever their encoding or NUL bytes."""
    hits: dict[int, tuple[str, str]] = {}
    tail, lines_before = b"", 0  # newlines before `tail`
    for chunk in data:
        buf = tail + chunk
        # Text with NULs between its characters (UTF-16, or a NUL to look binary) is also read without them.
        for variant in (buf, buf.replace(b"\0", b"")) if b"\0" in buf else (buf,):
            text = variant.decode(errors="replace")
            for name, pattern in patterns:
                for hit in pattern.finditer(text):
                    line = lines_before + text.count("\n", 0, hit.start()) + 1
                    hits.setdefault(line, (name, hit.group(0)))
        tail = buf[-OVERLAP:]
        lines_before += buf.count(b"\n") - tail.count(b"\n")
    return hits


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
        findings += self._secrets(ctx, worktree)
        findings += self._symlinks(ctx, worktree)
        findings += self._prohibited(ctx)
        if findings:
            return verdict(self.name, "fail", f"{len(findings)} safety finding(s): "
                           + "; ".join(f["message"] for f in findings[:3]), findings=findings)
        return verdict(self.name, "pass", f"{len(changes.files)} changed file(s): no denied paths, secrets, "
                       "escaping symlinks or prohibited actions")

    def _secrets(self, ctx, worktree: Path) -> list[dict]:
        """Scan the raw bytes of every new blob and changed file; hits already in the base version are old news."""
        deny = ctx.policy["deny"]
        limit = deny.get("maxScanBytes") or DEFAULT_MAX_SCAN
        patterns = [(name, re.compile(p)) for name, p in SECRET_PATTERNS]
        patterns += [("policy content pattern", re.compile(p)) for p in deny.get("contentPatterns") or []]
        sources = content.committed_sources(worktree, ctx.changes.base, ctx.head or "HEAD")
        if ctx.head is None:
            gone = set(ctx.changes.deleted)
            sources += content.worktree_sources(worktree, [p for p in ctx.changes.files if p not in gone])
        findings, seen, baselines = [], set(), {}
        for source in sources:
            if source.size > limit and not deny.get("allowUnscannable"):
                findings.append({"file": source.path, "line": None, "severity": "blocker", "rule": "unscannable",
                                 "message": f"{source.path} is {source.size} bytes, over the scan limit "
                                            f"(deny.maxScanBytes {limit}): too large to check for secrets"})
                continue
            hits = scan(content.chunks(worktree, source, limit), patterns)
            if hits and source.path not in baselines:
                old = content.base_blob(worktree, ctx.changes.base, source.path)
                baselines[source.path] = ({text for _, text in scan(content.chunks(worktree, old, limit),
                                                                    patterns).values()} if old else set())
            kept = 0
            for line, (name, text) in sorted(hits.items()):
                if text in baselines[source.path] or (source.path, line, text) in seen:
                    continue
                seen.add((source.path, line, text))
                kept += 1
                if kept > MAX_FINDINGS_PER_FILE:
                    break
                where = f" (commit {source.commit[:12]})" if source.commit else ""
                findings.append({"file": source.path, "line": line, "severity": "blocker", "rule": "secret",
                                 "message": f"{name} in added content ({mask(text)}){where}"})
        return findings

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
                                     "message": f"the agent ran a denied command: {one_line(command, 80)}"})
                    break
        return findings
