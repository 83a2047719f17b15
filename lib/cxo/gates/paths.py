"""Which changed files are runtime code, tests, or exempt (docs, config), by the policy's globs."""

import os

from ..globs import match


def quality(policy) -> dict:
    return policy["reviewGates"]["quality"]


def test_changes(ctx) -> list[str]:
    """Changed files under the test globs (testChangedPathGlobs) that exist at the head: test files and fixtures, the
    test-side change requireTestChange asks for (deleted tests prove nothing)."""
    q = quality(ctx.policy)
    deleted = set(ctx.changes.deleted)
    return [p for p in ctx.changes.files if match(p, q["testChangedPathGlobs"]) and p not in deleted]


def test_files(ctx) -> list[str]:
    """The changed test files the project's test runner would collect (testFilePatterns): the ones the tdd gate runs."""
    patterns = quality(ctx.policy)["testFilePatterns"]
    return [p for p in test_changes(ctx) if match(p, patterns)]


def fixture_files(ctx) -> list[str]:
    """Changed files under the test globs that no test runner collects (data, certificates, conftest.py, helpers):
    laid beside the tests, never run as one. Deleted ones too: the base tree loses them as the head did."""
    q = quality(ctx.policy)
    return [p for p in ctx.changes.files if match(p, q["testChangedPathGlobs"]) and not match(p, q["testFilePatterns"])]


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
        source = Path(ctx.worktree) / path
        if source.is_symlink():  # a link's own text, as git stores it: never what it points at (a runner file)
            return os.fsencode(os.readlink(source))
        return source.read_bytes()
    return git_bytes(ctx.worktree, "cat-file", "blob", f"{ctx.head}:{path}")


def lay(ctx, path: str, dest_root) -> None:
    """Put `path` as the change leaves it into `dest_root`: a file's bytes, a symbolic link as a link (dangling or
    not, never followed), nothing for a path that is gone."""
    from pathlib import Path

    source, dest = Path(ctx.worktree) / path, Path(dest_root) / path
    dest.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(dest):
        dest.unlink()
    if ctx.head is None and source.is_symlink():
        os.symlink(os.readlink(source), dest)
    elif ctx.head is not None or source.is_file():
        dest.write_bytes(head_content(ctx, path))
