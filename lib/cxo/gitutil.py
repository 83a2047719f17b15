"""git, run through plumbum. Every failure becomes a one-line GitError."""

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CxoError

_REMOTE_RE = re.compile(r"(?:[:/])(?P<owner>[^/:]+)/(?P<repo>[^/]+?)(?:\.git)?/?$")


class GitError(CxoError):
    exit_code = 4


def _git():
    from plumbum import local

    return local["git"]


def git(cwd: Path | str, *args: str, env: dict | None = None, retcode=0, input: str | None = None) -> str:
    """Run git in `cwd` and return stdout; raise GitError with git's own last line."""
    from plumbum import ProcessExecutionError

    cmd = _git()[args]
    if input is not None:
        cmd = cmd << input
    run_env = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    if env:
        run_env.update(env)
    try:
        from plumbum import local

        with local.cwd(str(cwd)), local.env(**run_env):
            code, out, err = cmd.run(retcode=retcode)
    except ProcessExecutionError as exc:
        last = (exc.stderr or exc.stdout or "").strip().splitlines()
        detail = last[-1] if last else f"exit {exc.retcode}"
        raise GitError(f"git {_subcommand(args)} failed in {cwd}: {detail}") from None
    return out


def _subcommand(args) -> str:
    """`push origin` out of `-c core.hooksPath=/dev/null push origin …`, for error messages."""
    rest = list(args)
    while rest and rest[0] == "-c":
        rest = rest[2:]
    return " ".join(rest[:2])


def remote_url(target: Path, remote: str) -> str | None:
    try:
        return git(target, "remote", "get-url", remote).strip() or None
    except CxoError:
        return None


def parse_remote(url: str) -> tuple[str, str] | None:
    match = _REMOTE_RE.search(url.strip())
    if not match:
        return None
    return match.group("owner"), match.group("repo")


def remote_repo(target: Path, remote: str = "origin") -> tuple[str, str] | None:
    url = remote_url(target, remote)
    return parse_remote(url) if url else None


def is_repo(path: Path) -> bool:
    try:
        git(path, "rev-parse", "--git-dir")
        return True
    except CxoError:
        return False


def rev_parse(cwd: Path, rev: str) -> str:
    return git(cwd, "rev-parse", "--verify", "--quiet", rev + "^{commit}").strip()


def current_branch(cwd: Path) -> str | None:
    out = git(cwd, "symbolic-ref", "--quiet", "--short", "HEAD", retcode=None).strip()
    return out or None


def status_porcelain(cwd: Path) -> list[str]:
    """`git status --porcelain` lines, untracked files included."""
    out = git(cwd, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    return [entry for entry in out.split("\0") if entry]


def is_clean(cwd: Path) -> bool:
    return not status_porcelain(cwd)


@dataclass
class ChangeSet:
    """Everything the agent changed relative to the base: commits and the working tree."""

    base: str
    head: str
    commits: list[dict] = field(default_factory=list)  # {"sha", "subject"}
    committed: list[str] = field(default_factory=list)  # paths changed by local commits
    staged: list[str] = field(default_factory=list)
    unstaged: list[str] = field(default_factory=list)
    untracked: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[str]:
        return sorted(set(self.committed + self.staged + self.unstaged + self.untracked))

    @property
    def empty(self) -> bool:
        return not self.files and not self.commits

    def to_json(self) -> dict:
        return {
            "base": self.base,
            "head": self.head,
            "commits": self.commits,
            "committed": self.committed,
            "staged": self.staged,
            "unstaged": self.unstaged,
            "untracked": self.untracked,
            "deleted": self.deleted,
            "files": self.files,
        }

    @classmethod
    def from_json(cls, data: dict) -> "ChangeSet":
        keys = ("base", "head", "commits", "committed", "staged", "unstaged", "untracked", "deleted")
        return cls(**{k: data.get(k, [] if k not in ("base", "head") else "") for k in keys})


def _names(cwd: Path, *args: str) -> list[str]:
    out = git(cwd, *args, "-z")
    return sorted({p for p in out.split("\0") if p})


def collect_changes(worktree: Path, base: str, head: str = "HEAD") -> ChangeSet:
    """The full change set of `worktree` against `base`: local commits, staged, unstaged, untracked."""
    worktree = Path(worktree)
    head_sha = rev_parse(worktree, head)
    log = git(worktree, "log", "--format=%H%x00%s", f"{base}..{head_sha}")
    commits = [dict(zip(("sha", "subject"), line.split("\0", 1), strict=False)) for line in log.splitlines()]
    changes = ChangeSet(base=rev_parse(worktree, base), head=head_sha, commits=commits)
    changes.committed = _names(worktree, "diff", "--name-only", "--no-renames", f"{base}..{head_sha}")
    if head == "HEAD":
        changes.staged = _names(worktree, "diff", "--cached", "--name-only", "--no-renames")
        changes.unstaged = _names(worktree, "diff", "--name-only", "--no-renames")
        changes.untracked = _names(worktree, "ls-files", "--others", "--exclude-standard")
        deleted_tree = _names(worktree, "diff", "HEAD", "--name-only", "--diff-filter=D", "--no-renames")
    else:
        deleted_tree = []
    deleted_commits = _names(
        worktree, "diff", "--name-only", "--diff-filter=D", "--no-renames", f"{base}..{head_sha}"
    )
    changes.deleted = sorted(set(deleted_tree + deleted_commits))
    return changes


def token_env(token: str | None, url: str | None = None) -> dict:
    """Environment that gives git an Authorization header without putting the token in argv or URLs."""
    if not token:
        return {}
    import base64

    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    key = "http.extraHeader" if not url else f"http.{url}.extraHeader"
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": key,
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
    }



def config_fingerprint(worktree: Path) -> str:
    """A hash of the git configuration, hooks and info/attributes the runner's own git commands would obey.

    Worktrees share the repository's config: an agent that rewrites it (push URLs,
    `url.*.insteadOf`, `core.hooksPath`, includes) could redirect or hijack the
    runner's push. The runner's own bookkeeping (`branch.*.cxobase`, written by
    parallel runs) is left out.
    """
    import hashlib

    digest = hashlib.sha256()
    effective = git(worktree, "config", "--list", "--includes")
    for line in sorted(effective.splitlines()):
        if not (line.startswith("branch.") and ".cxobase=" in line):
            digest.update(line.encode() + b"\n")
    common = Path(git(worktree, "rev-parse", "--git-common-dir").strip())
    common = common if common.is_absolute() else (Path(worktree) / common)
    hooks = Path(git(worktree, "rev-parse", "--git-path", "hooks").strip())
    hooks = hooks if hooks.is_absolute() else (Path(worktree) / hooks)
    # info/attributes steers the runner's `git add` (eol, encodings, ident) and hides content from diffs,
    # and unlike .gitattributes it is not part of the change anyone reviews.
    attributes = Path(git(worktree, "rev-parse", "--git-path", "info/attributes").strip())
    attributes = attributes if attributes.is_absolute() else (Path(worktree) / attributes)
    if attributes.is_file():
        digest.update(b"info/attributes\0" + attributes.read_bytes())
    for directory in {common / "hooks", hooks}:
        if directory.is_dir():
            for hook in sorted(directory.iterdir()):
                if hook.is_file() and not hook.name.endswith(".sample"):
                    digest.update(str(hook).encode() + hook.read_bytes())
    return digest.hexdigest()
