"""What cxo keeps on this machine: work trees (with the agent's repository in each) and earlier attempts' local
branches; listed with size and age, discarded or pruned on request. `cxo-worktrees` is this on the command line."""

import os
import re
import time
from pathlib import Path

from .agents import repository
from .errors import CxoError, InputError
from .gitutil import current_branch, git, is_clean

NAME = re.compile(r"^(issue|tree)-(\d+)(?:-attempt-(\d+))?$")  # an attempt of a best-of-N run: lib/cxo/attempts/


def _size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def attempts(policy) -> list[dict]:
    """Local `<branch>-attempt-K` branches: earlier attempts' work, never pushed."""
    out = git(policy.target, "for-each-ref", "--format=%(refname:short) %(objectname) %(committerdate:unix)",
              "refs/heads")
    found = []
    for line in out.splitlines():
        name, sha, when = line.split(" ")
        match = re.search(r"-attempt-(\d+)$", name)
        if match:
            issue = re.search(r"(?:issue|tree)-(\d+)", name)
            found.append({"branch": name, "sha": sha, "issue": int(issue.group(1)) if issue else None,
                          "age_seconds": int(time.time()) - int(when or 0)})
    return found


def listing(policy) -> dict:
    """Every kept tree (issue or tree, path, branch, clean, size, age) and every kept attempt branch."""
    root = policy.workspace_root
    trees = []
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        match = NAME.match(path.name)
        if not match or not path.is_dir():
            continue
        agent_tree = repository.is_agent_tree(path)
        branch = current_branch(path) if agent_tree or (path / ".git").is_file() else None
        trees.append({"issue": int(match.group(2)), "kind": "attempt" if match.group(3) else match.group(1),
                      "path": str(path), "branch": branch,
                      "clean": is_clean(path) if branch else None, "bytes": _size(path),
                      "age_seconds": int(time.time() - path.stat().st_mtime)})
    return {"worktrees": trees, "attempts": attempts(policy)}


def _busy(policy, issue: int) -> bool:
    from .recovery import IssueLock

    lock = IssueLock(policy, issue)
    if not lock.acquire():
        return True
    lock.release()
    return False


def discard(policy, issue: int, say) -> list[str]:
    """Remove issue `issue`'s kept tree, its local branch and its attempt branches (never anything pushed)."""
    if _busy(policy, issue):
        raise InputError(f"issue #{issue}: a run on this host is working on it: wait for it, or stop it first")
    removed = []
    for entry in listing(policy)["worktrees"]:
        if entry["issue"] != issue:
            continue
        repository.remove(policy.target, Path(entry["path"]))
        removed.append(entry["path"])
        if entry["branch"]:
            git(policy.target, "branch", "-D", "--", entry["branch"], retcode=None)
            removed.append(f"branch {entry['branch']}")
    for entry in attempts(policy):
        if entry["issue"] == issue:
            git(policy.target, "branch", "-D", "--", entry["branch"])
            removed.append(f"branch {entry['branch']}")
    if not removed:
        raise CxoError(f"issue #{issue}: nothing kept on this machine (see cxo-worktrees list)", 6)
    for item in removed:
        say(f"removed {item}")
    return removed


def prune(policy, tracker, say) -> dict:
    """What is safe to drop: trees whose PR is merged and that hold nothing uncommitted (the daemon's cleanup),
    pointers and registrations whose tree is gone."""
    from .cleanup import clean_worktrees

    result = clean_worktrees(policy, tracker, say=say)
    root = policy.workspace_root
    for pointer in root.glob(".*.runner-gitdir") if root.is_dir() else []:
        tree = root / pointer.name[1:-len(".runner-gitdir")]
        if not tree.exists():
            pointer.unlink()
            say(f"removed the runner's pointer of a gone tree {tree.name}")
    git(policy.target, "worktree", "prune")
    return result
