"""Which changed files are runtime code, tests, or exempt (docs, config), by the policy's globs."""

from ..globs import match


def quality(policy) -> dict:
    return policy["reviewGates"]["quality"]


def test_files(ctx) -> list[str]:
    """Changed test files that exist at the head (deleted tests prove nothing)."""
    q = quality(ctx.policy)
    deleted = set(ctx.changes.deleted)
    return [p for p in ctx.changes.files if match(p, q["testChangedPathGlobs"]) and p not in deleted]


def runtime_files(ctx) -> list[str]:
    q = quality(ctx.policy)
    return [p for p in ctx.changes.files
            if match(p, q["runtimeChangedPathGlobs"]) and not match(p, q["testChangedPathGlobs"])
            and not match(p, q["exemptPathGlobs"])]


def head_content(ctx, path: str) -> bytes:
    """A file as the change leaves it: the working tree, or the head revision of a committed range (raw bytes)."""
    from pathlib import Path

    from .content import git_bytes

    if ctx.head is None:
        return (Path(ctx.worktree) / path).read_bytes()
    return git_bytes(ctx.worktree, "cat-file", "blob", f"{ctx.head}:{path}")
