"""Merge one child's checked commit into the integration worktree: a merge commit by the runner, or the
conflicting files named and the integration branch left as it was."""

from pathlib import Path

from ..errors import CxoError
from ..gitutil import git, rev_parse


class MergeConflict(CxoError):
    exit_code = 3

    def __init__(self, files: list[str]):
        super().__init__(f"merge conflict in {', '.join(files[:10]) or '(unknown files)'}")
        self.files = files


def merge(integration: Path, sha: str, message: str, author: dict) -> str:
    """Merge `sha` into the integration worktree's branch; returns the new head or raises MergeConflict."""
    code = git(integration, "merge", "--no-ff", "--no-edit", "-m", message, "--", sha, env=author, retcode=None)
    del code
    unmerged = [p for p in git(integration, "diff", "--name-only", "--diff-filter=U").splitlines() if p]
    if unmerged or git(integration, "rev-parse", "-q", "--verify", "MERGE_HEAD", retcode=None).strip():
        git(integration, "merge", "--abort", retcode=None)
        raise MergeConflict(unmerged)
    return rev_parse(integration, "HEAD")
