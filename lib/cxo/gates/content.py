"""The raw bytes of a change: every new blob in its commits and every changed working-tree file, past git attributes.

Nothing here goes through a diff: `.gitattributes` (`-diff`, `binary`, textconv drivers)
and `.git/info/attributes` cannot make a file look empty or "binary" to the scan.
"""

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20
# Attributes files other than the repository's own are ignored for every git command run here.
NEUTRAL = ("-c", "core.attributesFile=/dev/null")
GITLINK = "160000"


@dataclass(frozen=True)
class Source:
    """One thing to scan: a blob (by id, with the commit that brought it) or a working-tree file."""

    path: str
    size: int
    blob: str | None = None
    commit: str | None = None
    file: Path | None = None


def git_env(worktree=None) -> dict:
    from ..gitutil import SAFE_ENV, runner_view

    return {**os.environ, **SAFE_ENV, "GIT_ATTR_NOSYSTEM": "1", **(runner_view(worktree) if worktree else {})}


def git_bytes(worktree, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
    """git's raw stdout, undecoded (`git()` drops the bytes that are not UTF-8)."""
    from ..gitutil import GitError

    proc = subprocess.run(["git", *NEUTRAL, *args], cwd=worktree, input=input, capture_output=True,
                          env=git_env(worktree))
    if check and proc.returncode != 0:
        last = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed in {worktree}: {last[-1] if last else proc.returncode}")
    return proc.stdout


def _blob_sizes(worktree, blobs: list[str]) -> dict[str, int]:
    if not blobs:
        return {}
    out = git_bytes(worktree, "cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)",
                    input="".join(b + "\n" for b in blobs).encode()).decode()
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "blob":
            sizes[parts[0]] = int(parts[2])
    return sizes


def committed_sources(worktree, base: str, head: str) -> list[Source]:
    """Every blob the commits base..head add or change, once each: history is pushed too, not just the tip."""
    commits = git_bytes(worktree, "rev-list", "--reverse", f"{base}..{head}").decode().split()
    found: dict[str, tuple[str, str]] = {}
    for commit in commits:
        raw = git_bytes(worktree, "diff-tree", "-r", "-z", "-m", "--root", "--no-commit-id", "--no-renames",
                        "--no-abbrev", commit).split(b"\0")
        for meta, path in zip(raw[0::2], raw[1::2], strict=False):
            fields = meta.decode().lstrip(":").split()
            if len(fields) < 5 or fields[1] == GITLINK or set(fields[3]) == {"0"}:
                continue  # deleted, or a submodule commit
            found.setdefault(fields[3], (path.decode(errors="replace"), commit))
    sizes = _blob_sizes(worktree, list(found))
    return [Source(path=path, size=sizes[blob], blob=blob, commit=commit)
            for blob, (path, commit) in found.items() if blob in sizes]


def worktree_sources(worktree, paths: list[str]) -> list[Source]:
    """Changed files as they sit in the working tree (symlinks are never followed: the symlink check owns them)."""
    sources = []
    for path in paths:
        file = Path(worktree) / path
        if file.is_file() and not file.is_symlink():
            sources.append(Source(path=path, size=file.stat().st_size, file=file))
    return sources


def base_blob(worktree, base: str, path: str) -> Source | None:
    out = git_bytes(worktree, "ls-tree", "-z", base, "--", path, check=False).split(b"\0")[0].decode()
    fields = out.split()
    if len(fields) < 3 or fields[1] != "blob":
        return None
    return Source(path=path, size=_blob_sizes(worktree, [fields[2]]).get(fields[2], 0), blob=fields[2])


def chunks(worktree, source: Source, limit: int) -> Iterator[bytes]:
    """At most `limit` bytes of `source`, CHUNK bytes at a time."""
    left = limit
    if source.file is not None:
        with open(source.file, "rb") as handle:
            while left > 0 and (data := handle.read(min(CHUNK, left))):
                left -= len(data)
                yield data
        return
    proc = subprocess.Popen(["git", *NEUTRAL, "cat-file", "blob", source.blob], cwd=worktree,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=git_env(worktree))
    try:
        while left > 0 and (data := proc.stdout.read(min(CHUNK, left))):
            left -= len(data)
            yield data
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()
