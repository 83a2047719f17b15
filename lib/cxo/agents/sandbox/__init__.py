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
NETWORKS = ("allowlist", "open", "none")
# The hosts each built-in agent CLI needs for its model (added to agent.allowHosts under `allowlist`) are its
# adapter's MODEL_HOSTS (lib/cxo/agents/__init__.py).


class SandboxError(CxoError):
    exit_code = 2


@dataclass
class Scope:
    """What one sandboxed process may touch: the system and `readable` read-only, `writable` read-write, nothing
    else. Paths are shown at their own place."""

    readable: list[Path] = field(default_factory=list)   # bound read-only
    writable: list[Path] = field(default_factory=list)   # bound read-write
    tmp: Path | None = None                              # bound at /tmp (a fresh, private one)
    hidden: list[Path] = field(default_factory=list)     # masked inside what is shown: directories emptied, files empty
    read_only: list[Path] = field(default_factory=list)  # bound read-only again, over a writable parent
    replaced: dict = field(default_factory=dict)         # {path seen inside: file bound read-only in its place}
    network: str = "allowlist"                           # allowlist | open | none
    allow_hosts: list[str] = field(default_factory=list)  # under allowlist: what the proxy lets through
    home: Path | None = None                             # the process's HOME (writable, listed in `writable` too)
    scratch: Path | None = None                          # runner-side files of this sandbox (filter, proxy socket)


class Sandbox(Protocol):
    kind: str

    def wrap(self, argv: list[str], cwd: Path) -> list[str]: ...

    def network_record(self) -> dict | None: ...

    def close(self) -> None: ...


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
    if problem:
        return False, problem
    net = {"allowlist": f"network: allowlist ({', '.join(allow_hosts(policy)) or 'no hosts'})",
           "none": "network: none", "open": "network: OPEN (agent.network: open reaches every host and service)"}
    return True, f"{bubblewrap.describe()}: agents run sandboxed, default-deny; {net[network(policy)]}"


def hidden_agent_paths(policy) -> list[str]:
    """The agent command's own files that the sandbox's private /tmp would hide from it: the command (a venv's
    interpreter, a script) and absolute paths among its arguments that lie under /tmp and are not in
    agent.readPaths / agent.writePaths. Without them the agent could only fail obscurely."""
    if isolation(policy) == "none":
        return []
    import shutil

    from .. import command_of

    codex, agent = policy["codex"], policy["agent"]
    command = command_of(policy)[1]
    wanted = [shutil.which(command) or command] + [a for a in codex["args"] or [] if isinstance(a, str)]
    shown = [Path(os.path.expanduser(p)) for p in list(agent["readPaths"]) + list(agent["writePaths"])]
    hidden = []
    for text in wanted:
        path = Path(text)  # not resolved: a venv's python is a link whose venv must stay visible
        if path.is_absolute() and (path == Path("/tmp") or Path("/tmp") in path.parents) \
                and not any(place == path or place in path.parents for place in shown):
            hidden.append(text)
    return hidden


def describe(box) -> str:
    """Which sandbox ran, for reports: the bwrap binary and where it came from, the network mode."""
    if box.kind == "none":
        return "none (agent.isolation: none): no isolation"
    from . import bubblewrap

    return f"{bubblewrap.describe(full=False)}, network {box.scope.network}"


def strip_setid(places) -> list[str]:
    """Remove setuid/setgid bits from every file and directory under `places` (the seccomp filter refuses them;
    this is the second line). Returns the paths that had one."""
    import stat

    found = []
    for place in places:
        for root, dirs, files in os.walk(place):
            for name in dirs + files:
                path = os.path.join(root, name)
                try:
                    mode = os.lstat(path).st_mode
                except OSError:
                    continue
                if not stat.S_ISLNK(mode) and mode & (stat.S_ISUID | stat.S_ISGID):
                    os.chmod(path, stat.S_IMODE(mode) & ~(stat.S_ISUID | stat.S_ISGID))
                    found.append(os.path.relpath(path, place))
    return found


def network(policy) -> str:
    value = policy["agent"].get("network", "allowlist")
    return {True: "open", False: "none"}.get(value, value)


def allow_hosts(policy) -> list[str]:
    """agent.allowHosts, plus the built-in agent's model hosts (and the host of its base URL variable:
    OPENAI_BASE_URL, ANTHROPIC_BASE_URL, GOOGLE_GEMINI_BASE_URL)."""
    from .. import adapter, kind_of

    hosts = list(policy["agent"].get("allowHosts") or [])
    agent = adapter(kind_of(policy))
    hosts += agent.MODEL_HOSTS
    if agent.BASE_URL_ENV:
        base = os.environ.get(agent.BASE_URL_ENV)
        if base:
            from urllib.parse import urlsplit

            parts = urlsplit(base)
            if parts.hostname:
                port = parts.port or (443 if parts.scheme == "https" else 80)
                hosts.append(f"{parts.hostname}:{port}")
    return list(dict.fromkeys(hosts))


def objects_dir(policy) -> Path | None:
    """The runner's object store, which agent repositories borrow read-only (objects/info/alternates)."""
    from ...gitutil import git

    try:
        common = git(policy.target, "rev-parse", "--path-format=absolute", "--git-common-dir").strip()
    except CxoError:
        return None
    return Path(common) / "objects"


def policy_programs(policy) -> list[tuple[str, str]]:
    """(where, program) for every command the policy runs inside the sandbox."""
    from .. import command_of
    from .view import first_word

    found = [command_of(policy)]
    reviewer = policy["reviewGates"]["reviewer"]
    if reviewer:
        found.append(("reviewGates.reviewer.command", str(reviewer["command"])))
    for index, check in enumerate(policy["checks"] or []):
        found.append((f"checks[{index}].command", first_word(check["command"]) or ""))
    for index, step in enumerate(policy.data.get("setup") or []):
        found.append((f"setup[{index}].command", first_word(step["command"]) or ""))
    quality = policy["reviewGates"]["quality"]
    found.append(("reviewGates.quality.testCommand", first_word(quality.get("testCommand") or "") or ""))
    return [(where, program) for where, program in found if program]


def tool_paths(policy) -> list[Path]:
    """What the policy's programs need to run, read-only: the agent CLI's installation, the interpreters and
    virtual environments the commands use (an activated venv included)."""
    from .view import install_roots, is_interpreter

    path_env = os.environ.get("PATH", os.defpath)
    roots: list[Path] = []
    reviewer = policy["reviewGates"]["reviewer"] or {}
    for arg in list(policy["codex"]["args"] or []) + list(reviewer.get("args") or []):
        # A script the agent command runs (`python /opt/agent/main.py`): that file, not its whole directory.
        if isinstance(arg, str) and os.path.isabs(arg) and os.path.isfile(arg):
            roots.append(Path(arg))
    for where, program in policy_programs(policy):
        if where.startswith(("codex.", "agent.", "reviewGates.reviewer")) or is_interpreter(program) or \
                _in_venv(program, path_env):
            roots += install_roots(program, path_env)
    venv = os.environ.get("VIRTUAL_ENV")
    if venv and Path(venv).is_dir():
        roots += [Path(venv)] + install_roots(str(Path(venv) / "bin" / "python"), path_env)
    return list(dict.fromkeys(roots))


def _in_venv(program: str, path_env: str) -> bool:
    import shutil

    from .view import _venv_of

    found = shutil.which(program, path=path_env) if os.sep not in program else program
    return bool(found) and _venv_of(Path(os.path.abspath(found))) is not None


def outside_view(policy) -> list[str]:
    """One line per configured program that the sandbox would not show, naming what to add to agent.readPaths."""
    if isolation(policy) == "none":
        return []
    import shutil

    from .view import install_roots, under_system

    shown = [Path(os.path.expanduser(p)) for p in policy["agent"]["readPaths"]] + tool_paths(policy)
    path_env = os.environ.get("PATH", os.defpath)
    lines = []
    for where, program in policy_programs(policy):
        found = shutil.which(program, path=path_env) if os.sep not in program else program
        if not found or not os.path.isabs(found) and not os.path.exists(found):
            continue
        if not os.path.isabs(program) and os.sep in program:
            continue  # relative to the work tree: inside the view
        real = Path(os.path.realpath(found))
        if under_system(real) or any(place == real or place in real.parents for place in shown):
            continue
        need = install_roots(program, path_env) or [real.parent]
        lines.append(f"{where} runs {real}, which the agent's sandbox does not show: add {need[0]} to "
                     "agent.readPaths")
    return lines


def worktree_scope(policy, worktree: Path, scratch: Path, writable=(), git_write: bool = True,
                   worktree_write: bool = True, readable=(), home: Path | None = None) -> Scope:
    """The scope of a process working in `worktree`: the tree (with its own git repository when `git_write`),
    its scratch directory and `writable`; the system, the policy's tools, the runner's objects (which an agent
    repository borrows) and agent.readPaths read-only. Nothing else exists inside."""
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = scratch / "tmp"
    tmp.mkdir(exist_ok=True)
    agent = policy["agent"]
    places = ([Path(worktree)] if worktree_write else []) + [Path(p) for p in writable]
    places += [Path(os.path.expanduser(p)) for p in agent["writePaths"]]
    read_only = [] if git_write or not worktree_write else [Path(worktree) / ".git"]
    seen = [Path(worktree)] + [Path(p) for p in readable] + tool_paths(policy)
    objects = objects_dir(policy)
    if objects is not None and (Path(worktree) / ".git").is_dir():
        seen.append(objects)
    seen += [Path(os.path.expanduser(p)) for p in agent["readPaths"]]
    return Scope(readable=seen, writable=places, tmp=tmp, read_only=read_only, network=network(policy),
                 allow_hosts=allow_hosts(policy), home=home, scratch=scratch)
