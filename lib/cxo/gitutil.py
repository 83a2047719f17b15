"""git, run as a subprocess with a fixed safe configuration. Every failure becomes a one-line GitError."""

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CxoError

_REMOTE_RE = re.compile(r"(?:[:/])(?P<owner>[^/:]+)/(?P<repo>[^/]+?)(?:\.git)?/?$")


class GitError(CxoError):
    exit_code = 4


# Every runner git command runs with these, whatever the repository's (or an agent's) configuration says:
# no hooks, no fsmonitor program, no automatic gc, no ext:: transport, no credential helper from any config,
# and no replace refs: what a commit id names is what its object holds (an agent's `git replace` of the base
# once made an honest run build on a forged tree).
SAFE_CONFIG = (("core.hooksPath", "/dev/null"), ("core.fsmonitor", "false"), ("gc.auto", "0"),
               ("protocol.ext.allow", "never"), ("credential.helper", ""), ("core.askPass", ""),
               ("core.useReplaceRefs", "false"), ("maintenance.auto", "false"))
# The same for what only the environment controls: replace objects and grafts ignored.
SAFE_ENV = {"GIT_NO_REPLACE_OBJECTS": "1", "GIT_GRAFT_FILE": "/dev/null", "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}
# Beside each agent work tree, in the runner-only workspace root: the runner's own git directory for that tree.
SIDECAR = ".{}.runner-gitdir"


def runner_view(cwd: Path | str) -> dict:
    """GIT_DIR/GIT_WORK_TREE for a runner git command run in (or below) an agent's work tree: the runner's own
    linked-worktree directory, never the `.git` inside the tree, which is the agent's repository. {} elsewhere.

    The pointer lives beside the tree in the workspace root, which no sandbox shows, so nothing the agent can
    write decides which git directory the runner reads."""
    here = Path(os.path.abspath(cwd))
    found = {}
    # The outermost pointer wins: one inside a tree (`<tree>/sub/.x.runner-gitdir`) is the agent's writing.
    for tree in (here, *here.parents):
        pointer = tree.parent / SIDECAR.format(tree.name)
        if tree.name and pointer.is_file():
            found = {"GIT_DIR": pointer.read_text().strip(), "GIT_WORK_TREE": str(tree)}
    return found


def config_env(pairs=()) -> dict:
    """GIT_CONFIG_COUNT variables for SAFE_CONFIG plus `pairs` (command-line config, never written anywhere)."""
    env = dict(SAFE_ENV)
    items = list(SAFE_CONFIG) + list(pairs)
    env["GIT_CONFIG_COUNT"] = str(len(items))
    for index, (key, value) in enumerate(items):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def git(cwd: Path | str, *args: str, env: dict | None = None, retcode=0, input: str | None = None) -> str:
    """Run git in `cwd` with the safe configuration and return stdout; raise GitError with git's own last line.

    `retcode`: the exit code expected (None: any). stdin is a pipe holding `input` (or nothing); output is
    decoded with the file system encoding, undecodable bytes dropped. A plain subprocess, not a shell, and
    cwd/environment bound per call: a tree run works in several worktrees from several threads at once."""
    encoding = sys.getfilesystemencoding()
    run_env = {**os.environ, **config_env(), **runner_view(cwd), **(env or {})}
    proc = subprocess.run(["git", *args], cwd=str(cwd), env=run_env, capture_output=True,
                          input=(input or "").encode(encoding))
    out, err = proc.stdout.decode(encoding, "ignore"), proc.stderr.decode(encoding, "ignore")
    if retcode is not None and proc.returncode != retcode:
        last = (err or out).strip().splitlines()
        detail = last[-1] if last else f"exit {proc.returncode}"
        raise GitError(f"git {_subcommand(args)} failed in {cwd}: {detail}")
    return out


def remote(cwd: Path | str, command: str, url: str, refspec: str | list[str], *options: str,
           token: str | None = None) -> str:
    """`git fetch|push` of one refspec (or a list of them) to exactly `url`. The token reaches git only through
    a credential helper bound to that URL that reads it from an inherited pipe: never argv, the environment, a
    file or any git config. Refused when the configuration would rewrite the URL (url.*.insteadOf / pushInsteadOf)."""
    effective = git(cwd, "ls-remote", "--get-url", url).strip()
    if effective != url:
        raise GitError(f"git {command}: the repository configuration rewrites {url} to {effective} "
                       "(url.*.insteadOf): remove that setting; cxo only talks to the repository's own URL")
    pairs = [("http.followRedirects", "false")]
    read_end = None
    if token:
        read_end, write_end = os.pipe()
        os.write(write_end, f"username=x-access-token\npassword={token}\n".encode())
        os.close(write_end)
        # useHttpPath: the helper answers only for this repository's path, not for the whole host.
        pairs.append(("credential.useHttpPath", "true"))
        pairs.append((f"credential.{url}.helper", f'!f() {{ test "$1" = get && cat /dev/fd/{read_end}; }}; f'))
    env = {**os.environ, **config_env(pairs), **runner_view(cwd)}
    try:
        proc = subprocess.run(["git", command, *options, "--", url,
                                *([refspec] if isinstance(refspec, str) else refspec)], cwd=str(cwd), env=env,
                              capture_output=True, text=True, pass_fds=(read_end,) if read_end is not None else ())
    finally:
        if read_end is not None:
            os.close(read_end)
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout or "").strip().splitlines()
        raise GitError(f"git {command} failed in {cwd}: {last[-1] if last else f'exit {proc.returncode}'}")
    return proc.stdout


def is_ancestor(cwd: Path | str, older: str, newer: str) -> bool:
    """Whether commit `older` is `newer` or one of its ancestors (False when either is unknown)."""
    proc = subprocess.run(["git", "merge-base", "--is-ancestor", older, newer], cwd=str(cwd), capture_output=True,
                          env={**os.environ, **config_env(), **runner_view(cwd)})
    return proc.returncode == 0


def check_ref_name(name: str, where: str) -> str:
    """A branch name git accepts and that cannot be read as an option; CxoError naming `where` otherwise."""
    if not name or name.startswith("-") or git(".", "check-ref-format", "--branch", name, retcode=None).strip() != name:
        raise CxoError(f"{where}: {name!r} is not a valid branch name: fix it (see git check-ref-format)", 2)
    return name


def check_remote(target: Path, name: str, where: str = "git.remote") -> str:
    """`name` must be a remote configured in `target` (never an option or a URL from data)."""
    names = git(target, "remote").split()
    if name.startswith("-") or name not in names:
        raise CxoError(f"{where}: {name!r} is not a configured remote of {target} "
                       f"(configured: {', '.join(names) or 'none'}): fix the policy or add the remote", 2)
    return name


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


def export_tree(repo: Path | str, rev: str, dest: Path) -> Path:
    """The files of `rev` written to `dest` (a plain directory, no `.git`), through a throw-away index."""
    import tempfile

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cxo-index-") as scratch:
        index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        git(repo, "read-tree", rev, env=index)
        git(repo, "checkout-index", "--all", "--force", f"--prefix={dest}/", env=index)
    return dest


def token_env(token: str | None, url: str | None = None) -> dict:
    """An Authorization header for git through the environment: for the hub's own tools (cxo-hub create-repo,
    the demo) acting as a maintainer. The runner never uses it: its token goes through `remote`."""
    if not token:
        return {}
    import base64

    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    key = "http.extraHeader" if not url else f"http.{url}.extraHeader"
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": key, "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}
