"""Remove runner-owned worktrees whose work has landed; preserve everything else, with the reason."""

from pathlib import Path

from .errors import CxoError
from .gitutil import current_branch, git, is_clean


def clean_worktrees(policy, tracker, active: set[str] = frozenset(), say=print) -> dict:
    """Remove worktrees under the workspace root that are not active, whose branch has a merged PR and that
    have no uncommitted or untracked changes. Returns {"removed": [...], "kept": [{"path", "reason"}]}."""
    removed, kept = [], []
    root = policy.workspace_root
    listed = git(policy.target, "worktree", "list", "--porcelain")
    paths = [Path(line[9:]) for line in listed.splitlines() if line.startswith("worktree ")]
    for path in paths:
        if path.resolve() == policy.target.resolve():
            continue
        if root not in path.resolve().parents:
            kept.append({"path": str(path), "reason": "outside the workspace root"})
            continue
        if str(path) in active:
            kept.append({"path": str(path), "reason": "active run"})
            continue
        if not path.is_dir():
            kept.append({"path": str(path), "reason": "missing on disk (git worktree prune cleans it)"})
            continue
        branch = current_branch(path)
        if not branch:
            kept.append({"path": str(path), "reason": "detached HEAD"})
            continue
        if not is_clean(path):
            kept.append({"path": str(path), "reason": "uncommitted or untracked changes"})
            pull = tracker.find_pull(branch, state="all")
            if pull is not None and _merged(pull):  # the one kept worktree a maintainer may not expect: say why
                say(f"kept merged worktree {path} ({branch}, PR #{pull['number']} merged): it has uncommitted or "
                    "untracked changes; save what you need, then remove it with git worktree remove --force")
            continue
        pull = tracker.find_pull(branch, state="all")
        if pull is None:
            kept.append({"path": str(path), "reason": "no pull request"})
            continue
        if not _merged(pull):
            kept.append({"path": str(path), "reason": f"PR #{pull['number']} is not merged"})
            continue
        try:
            from .agents import repository

            repository.remove(policy.target, path)
            git(policy.target, "branch", "-D", branch)
        except CxoError as exc:
            kept.append({"path": str(path), "reason": f"git refused: {exc.message}"})
            say(f"kept merged worktree {path} ({branch}, PR #{pull['number']} merged): git refused to remove it "
                f"({exc.message})")
            continue
        say(f"removed merged worktree {path} ({branch}, PR #{pull['number']})")
        removed.append(str(path))
    if kept:
        say(f"kept {len(kept)} worktree(s): " + "; ".join(f"{Path(k['path']).name}: {k['reason']}" for k in kept[:10])
            + (f"; … and {len(kept) - 10} more" if len(kept) > 10 else ""))
    return {"removed": removed, "kept": kept}


def _merged(pull: dict) -> bool:
    return bool(pull.get("merged_at") or (pull.get("pull_request") or {}).get("merged_at"))
