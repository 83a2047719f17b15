"""Shared git state the agent must not change: a trusted baseline taken before it runs, compared and restored after.

Worktrees share the repository's config, hooks, info/ files and refs with the
runner. The sandbox keeps them read-only; with `agent.isolation: none` (or a
runner killed mid-agent) this module is what guarantees the next runner git
command, and the next run, read only what was there before the agent.
"""

import base64
import json
import os
from pathlib import Path

from .gitutil import git


def _files(worktree: Path) -> list[Path]:
    from .agents.sandbox import git_paths

    paths = git_paths(worktree)
    common, own = paths["common"], paths["own"]
    found = [common / "config", paths["dotgit"], own / "commondir", own / "gitdir", own / "config.worktree"]
    for folder in (common / "hooks", common / "info"):
        found.append(folder)
        if folder.is_dir():
            found += sorted(p for p in folder.rglob("*"))
    home = Path(os.path.expanduser("~"))
    found += [home / ".gitconfig", home / ".config" / "git" / "config", home / ".config" / "git" / "attributes"]
    return found


def _read(path: Path):
    if path.is_symlink():
        return {"link": os.readlink(path)}
    if path.is_dir():
        return {"dir": True}
    if path.is_file():
        return {"data": base64.b64encode(path.read_bytes()).decode(), "mode": path.stat().st_mode & 0o777}
    return None


def _refs(worktree: Path, own_branch: str | None) -> dict:
    """Local branches and tags, minus this run's branch and the branches of the other runs' worktrees (beside
    this one in the workspace root: parallel runs own those). Remote-tracking refs are left out: the runner
    fetches before it reads them."""
    out = git(worktree, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags")
    refs = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    listing = git(worktree, "worktree", "list", "--porcelain")
    path = None
    for line in listing.splitlines():
        if line.startswith("worktree "):
            path = Path(line.split(" ", 1)[1])
        elif line.startswith("branch ") and path is not None and path.parent == Path(worktree).parent:
            refs.pop(line.split(" ", 1)[1], None)
    if own_branch:
        refs.pop(f"refs/heads/{own_branch}", None)
    return refs


def snapshot(worktree: Path, own_branch: str | None) -> dict:
    folders = _files(worktree)
    return {"worktree": str(worktree), "branch": own_branch,
            "files": {str(p): _read(p) for p in folders}, "refs": _refs(worktree, own_branch)}


def differences(before: dict) -> list[str]:
    """What changed in shared git state since `before` (paths and ref names)."""
    worktree = Path(before["worktree"])
    now = snapshot(worktree, before["branch"])
    changed = sorted(p for p in set(before["files"]) | set(now["files"])
                     if before["files"].get(p) != now["files"].get(p))
    refs = sorted(r for r in set(before["refs"]) | set(now["refs"]) if before["refs"].get(r) != now["refs"].get(r))
    return changed + refs


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        import shutil

        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def restore(before: dict) -> list[str]:
    """Put shared git state back as it was in `before`; returns what had changed."""
    changed = differences(before)
    if not changed:
        return []
    for name, entry in sorted(before["files"].items(), key=lambda item: len(item[0])):
        path = Path(name)
        current = _read(path)
        if current == entry:
            continue
        if entry is None or current is not None and ("dir" in entry) != ("dir" in current):
            _remove(path)
        if entry is None:
            continue
        if "dir" in entry:
            path.mkdir(parents=True, exist_ok=True)
        elif "link" in entry:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(entry["link"], path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(entry["data"]))
            path.chmod(entry["mode"])
    # Files that appeared in watched folders (a new hook, info/attributes) go.
    worktree = Path(before["worktree"])
    for path in _files(worktree):
        if str(path) not in before["files"]:
            _remove(path)
    now = _refs(worktree, before["branch"])
    for ref, sha in before["refs"].items():
        if now.get(ref) != sha:
            git(worktree, "update-ref", "--no-deref", ref, sha)
    for ref in set(now) - set(before["refs"]):
        git(worktree, "update-ref", "--no-deref", "-d", ref)
    return changed


def _pending(state_dir: Path, branch: str) -> Path:
    import hashlib

    return Path(state_dir) / "locks" / f"git-baseline-{hashlib.sha256(branch.encode()).hexdigest()[:16]}.json"


def save(before: dict, state_dir: Path) -> Path:
    """Keep the baseline where a later run finds it if this one dies before restoring."""
    path = _pending(state_dir, before["branch"] or "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(before))
    return path


def done(before: dict, state_dir: Path) -> None:
    _pending(state_dir, before["branch"] or "").unlink(missing_ok=True)


def settle(state_dir: Path, branch: str) -> list[str]:
    """Restore a baseline left behind by a run that died mid-agent; returns what it put back."""
    path = _pending(state_dir, branch)
    if not path.is_file():
        return []
    before = json.loads(path.read_text())
    changed = restore(before) if Path(before["worktree"]).is_dir() else []
    path.unlink(missing_ok=True)
    return changed
