"""The agent sandbox: what agent-written code may touch. Kinds: `bubblewrap` (the default) and `none`.

Everything that executes code the agent wrote (the agent itself, the reviewer,
checks, tdd runs, proof commands) runs inside the sandbox the policy's
`agent.isolation` names. Where bubblewrap cannot start, cxo refuses to run an
agent unless the policy says `agent.isolation: none`.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ...errors import CxoError

KINDS = ("bubblewrap", "none")
# Credentials and agent sockets under the runner's HOME that no sandboxed process may read.
HOME_SECRETS = (".netrc", ".git-credentials", ".gitconfig", ".config/git", ".config/gh", ".config/hub", ".ssh",
                ".gnupg", ".docker", ".npmrc", ".pypirc", ".aws", ".azure", ".kube", ".config/gcloud", ".codex",
                ".local/share/keyrings", ".password-store")
SYSTEM_SOCKETS = ("/run/docker.sock", "/var/run/docker.sock", "/run/containerd", "/run/podman")


class SandboxError(CxoError):
    exit_code = 2


@dataclass
class Scope:
    """What one sandboxed process may touch: everything else is read-only, secrets are masked."""

    visible: list[Path] = field(default_factory=list)    # bound read-only first (may sit in the private /tmp)
    writable: list[Path] = field(default_factory=list)   # bound read-write
    tmp: Path | None = None                              # bound at /tmp (a fresh, private one)
    hidden: list[Path] = field(default_factory=list)     # masked: directories emptied, files read as empty
    read_only: list[Path] = field(default_factory=list)  # bound read-only again, over a writable parent
    replaced: dict = field(default_factory=dict)         # {path seen inside: file bound read-only in its place}
    network: bool = True


class Sandbox(Protocol):
    kind: str

    def wrap(self, argv: list[str], cwd: Path) -> list[str]: ...


def home_secrets(home: Path | None = None) -> list[Path]:
    home = Path(home or os.path.expanduser("~"))
    found = [home / rel for rel in HOME_SECRETS if (home / rel).exists() or (home / rel).is_symlink()]
    found += [Path(p) for p in SYSTEM_SOCKETS if Path(p).exists()]
    run_user = Path(f"/run/user/{os.getuid()}")
    return found + ([run_user] if run_user.is_dir() else [])


def isolation(policy) -> str:
    return policy["agent"]["isolation"]


def make(policy, scope: Scope) -> Sandbox:
    """The sandbox the policy asks for, around `scope`; SandboxError (with the cause and the fix) if it cannot start."""
    kind = isolation(policy)
    if kind == "none":
        from .none import NoSandbox

        return NoSandbox()
    from . import bubblewrap

    problem = bubblewrap.problem()
    if problem:
        raise SandboxError(f"agent sandbox (bubblewrap) cannot start: {problem} (or set agent.isolation: none in "
                           "the policy to run agents without isolation, at your own risk)")
    return bubblewrap.Bubblewrap(scope)


def status(policy) -> tuple[bool, str]:
    """(usable, one line) for cxo-health and reports."""
    kind = isolation(policy)
    if kind == "none":
        return True, "agent.isolation is none: agents run WITHOUT a sandbox (they can read the runner's files)"
    from . import bubblewrap

    problem = bubblewrap.problem()
    return (False, problem) if problem else (True, f"bubblewrap {bubblewrap.version()}: agents run sandboxed")


def hidden_agent_paths(policy) -> list[str]:
    """The agent command's own files that the sandbox's private /tmp would hide from it: the command (a venv's
    interpreter, a script) and absolute paths among its arguments that lie under /tmp and are not in
    agent.readPaths / agent.writePaths. Without them the agent could only fail obscurely."""
    if isolation(policy) == "none":
        return []
    import shutil

    codex, agent = policy["codex"], policy["agent"]
    command = str(codex["command"])
    wanted = [shutil.which(command) or command] + [a for a in codex["args"] or [] if isinstance(a, str)]
    shown = [Path(os.path.expanduser(p)) for p in list(agent["readPaths"]) + list(agent["writePaths"])]
    hidden = []
    for text in wanted:
        path = Path(text)  # not resolved: a venv's python is a link whose venv must stay visible
        if path.is_absolute() and (path == Path("/tmp") or Path("/tmp") in path.parents) \
                and not any(place == path or place in path.parents for place in shown):
            hidden.append(text)
    return hidden


def git_paths(worktree: Path) -> dict:
    """The shared git places a worktree depends on: common dir, its own git dir, the `.git` file."""
    from ...gitutil import git

    common, own = map(Path, git(worktree, "rev-parse", "--path-format=absolute", "--git-common-dir",
                                "--git-dir").splitlines())
    return {"common": common, "own": own, "dotgit": Path(worktree) / ".git"}


def sanitized_config(common: Path, out: Path) -> Path:
    """A copy of the repository config with only what git needs to read the repository (no remotes, hooks,
    helpers, includes or credentials): the sandbox shows it in place of the real one."""
    import subprocess

    keep = r"^(core\.(repositoryformatversion|filemode|bare|logallrefupdates|ignorecase|precomposeunicode|symlinks)|" \
           r"extensions\..*)$"
    found = subprocess.run(["git", "config", "--file", str(common / "config"), "--get-regexp", keep],
                           capture_output=True, text=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("")
    for line in found.stdout.splitlines():
        key, _, value = line.partition(" ")
        subprocess.run(["git", "config", "--file", str(out), key, value], check=True, capture_output=True)
    return out


def worktree_scope(policy, worktree: Path, scratch: Path, writable=(), git_write: bool = True,
                   worktree_write: bool = True, readable=()) -> Scope:
    """The scope of a process working in `worktree`: the worktree (and, with git_write, what `git add`/`commit`
    there need), its scratch directory and `writable`; the runner's state, the real repository config, its hooks
    and the machine's credentials masked."""
    paths = git_paths(worktree)
    common, own = paths["common"], paths["own"]
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = scratch / "tmp"
    tmp.mkdir(exist_ok=True)
    agent = policy["agent"]
    places = ([Path(worktree)] if worktree_write else []) + [Path(p) for p in writable]
    places += [Path(os.path.expanduser(p)) for p in agent["writePaths"]]
    if git_write:
        places += [p for p in (own, common / "objects", common / "refs", common / "logs") if p.exists()]
    read_only = [paths["dotgit"], own / "commondir", own / "gitdir", own / "config.worktree",
                 common / "packed-refs"]
    read_only += [Path(p) for p in readable]
    hidden = [policy.state_dir, common / "hooks"] + home_secrets()
    replaced = {common / "config": sanitized_config(common, scratch / "git-config")}
    # The policy's readPaths are a base layer too: a broad one must not cover a writable place.
    visible = [common, own, Path(worktree)] + [Path(os.path.expanduser(p)) for p in agent["readPaths"]]
    # The user's active venv is the target project's interpreter (agents/environment.py passes VIRTUAL_ENV on):
    # show it read-only even where the private /tmp would hide it.
    venv = os.environ.get("VIRTUAL_ENV")
    if venv and Path(venv).is_dir():
        visible.append(Path(venv))
    return Scope(visible=visible, writable=places, tmp=tmp, hidden=hidden, read_only=read_only, replaced=replaced,
                 network=agent["network"])
