"""Computed conflict sets: a child's declared ownership scope, widened by what it really touched.

A plan's scopes are the planner's guess. Before a child's gates run, the tree compares it with the children merged
into the integration branch since it started: each side's set is its changed files plus, for Python, the
modules those files import inside the repository (their import cone). When the sets meet, the child is brought
onto the integration head first (its work laid over the new head, `rebase`), so its gates check it with its
siblings' changes in place and it merges cleanly, instead of passing its gates on a stale base and breaking
the integration branch, or failing at merge time. A child whose work cannot be laid over the new head blocks
then, naming the files, before any gate time is spent.

Pure parts (`import_cone`, `widened`, `meet`) take file lists and texts; `rebase` runs git as the runner.
"""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path, PurePosixPath

from ..gitutil import git


def _module_files(name: str, known: set[str]) -> set[str]:
    """The repository files a dotted module name may be: `a/b.py`, `a/b/__init__.py` (also under `src/`, `lib/`)."""
    parts = name.split(".")
    out = set()
    for root in ("", "src/", "lib/"):
        for cut in range(len(parts), 0, -1):
            stem = root + "/".join(parts[:cut])
            for candidate in (f"{stem}.py", f"{stem}/__init__.py"):
                if candidate in known:
                    out.add(candidate)
            if out:
                break
    return out


def imports_of(path: str, text: str) -> set[str]:
    """Dotted names a Python file imports (relative imports resolved against its package)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return set()
    package = list(PurePosixPath(path).parent.parts)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            if module:
                names.add(module)
                names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def import_cone(changed: list[str], read, known: set[str]) -> set[str]:
    """The repository's Python modules the changed Python files import (one level: what they build on)."""
    cone: set[str] = set()
    for path in changed:
        if path.endswith(".py"):
            text = read(path)
            for name in imports_of(path, text or ""):
                cone.update(_module_files(name, known))
    return cone - set(changed)


def widened(changed: list[str], read, known: set[str]) -> set[str]:
    return set(changed) | import_cone(changed, read, known)


def meet(child: set[str], merged: set[str]) -> list[str]:
    """What two computed sets share: a changed file of one that the other changed or builds on."""
    return sorted(child & merged)


def rebase(worktree: Path, new_base: str) -> tuple[bool, list[str]]:
    """Lay the worktree's work (its commits and its files since HEAD) over `new_base`: (True, []) with the branch
    at `new_base` and the child's work uncommitted on top; (False, conflicted files) leaving it as it was."""
    with tempfile.TemporaryDirectory(prefix="cxo-rebase-") as scratch:
        index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        git(worktree, "read-tree", "HEAD", env=index)
        git(worktree, "add", "--all", "--", ".", env=index)
        tree = git(worktree, "write-tree", env=index).strip()
    work = git(worktree, "commit-tree", tree, "-p", "HEAD", "-m", "cxo: the child's work (not published)",
               env={"GIT_AUTHOR_NAME": "cxo", "GIT_AUTHOR_EMAIL": "cxo@localhost", "GIT_COMMITTER_NAME": "cxo",
                    "GIT_COMMITTER_EMAIL": "cxo@localhost"}).strip()
    out = git(worktree, "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", work, new_base,
              retcode=None)
    parts = [p for p in out.split("\0") if p]
    if len(parts) > 1:
        return False, sorted(set(parts[1:]))
    merged = parts[0]
    git(worktree, "reset", "--quiet", "--hard", new_base)
    git(worktree, "read-tree", "-u", "--reset", merged)  # the files: the new base with the child's work on it
    git(worktree, "reset", "--quiet")  # the index back at the new base: the work shows as the child's change
    return True, []
