"""What a sandboxed process may see: a list it is given, never the machine minus a list.

The system (`/usr`, `/bin`, `/lib*`, `/etc` without credentials, `/opt`) read-only;
the installations of the programs the policy runs (the agent CLI, interpreters and
virtual environments) read-only; `agent.readPaths`. Everything else (`/root`,
`/home`, `/run`, `/var`, `/srv`, `/mnt`, the target checkout, every state
directory) is simply not there.
"""

import os
import shlex
import shutil
from pathlib import Path

SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
# Inside /etc: what holds credentials. Masked (files read as empty, directories empty).
ETC_SECRETS = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers", "/etc/sudoers.d",
               "/etc/ssl/private", "/etc/pki/tls/private", "/etc/security/opasswd", "/etc/krb5.keytab",
               "/etc/docker", "/etc/containers/auth.json", "/etc/credstore", "/etc/credstore.encrypted",
               "/etc/letsencrypt", "/etc/netrc", "/etc/ppp/chap-secrets", "/etc/ppp/pap-secrets",
               "/etc/NetworkManager/system-connections", "/etc/wpa_supplicant", "/etc/openvpn",
               "/etc/wireguard", "/etc/ipsec.secrets", "/etc/cups/ssl", "/etc/gitlab-runner",
               "/etc/github-runner")
INTERPRETERS = ("python", "python3", "node", "nodejs", "ruby", "perl", "php", "java", "deno", "bun")


def under_system(path: Path) -> bool:
    return any(path == Path(root) or Path(root) in path.parents for root in SYSTEM)


def etc_secrets() -> list[Path]:
    found = [Path(p) for p in ETC_SECRETS if os.path.lexists(p)]
    found += sorted(Path("/etc/ssh").glob("ssh_host_*_key"))
    return found


def _venv_of(path: Path) -> Path | None:
    for place in path.parents:
        if (place / "pyvenv.cfg").is_file():
            return place
    return None


def _venv_home(venv: Path) -> Path | None:
    """The base interpreter's prefix of a venv (`home = …/bin` in pyvenv.cfg)."""
    try:
        for line in (venv / "pyvenv.cfg").read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                return Path(value.strip()).parent
    except OSError:
        pass
    return None


def _shebang(path: Path) -> list[str]:
    try:
        with open(path, "rb") as handle:
            first = handle.readline(256)
    except OSError:
        return []
    if not first.startswith(b"#!"):
        return []
    words = first[2:].decode(errors="ignore").split()
    if words and Path(words[0]).name == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    return words[:1]


def install_roots(program: str, path_env: str | None = None, depth: int = 0) -> list[Path]:
    """The directories `program` (a name on PATH or a path) needs to run: its venv and that venv's interpreter,
    an interpreter's prefix, a node_modules tree, a pyenv root, or else its own directory; then the same for
    its `#!` interpreter. Nothing for what lies in the system directories."""
    found = shutil.which(program, path=path_env) if os.sep not in program else program
    if not found or not os.path.exists(found):
        return []
    plain, real = Path(os.path.abspath(found)), Path(os.path.realpath(found))
    roots: list[Path] = []
    for candidate in (plain, real):
        venv = _venv_of(candidate)
        if venv:
            roots.append(venv)
            home = _venv_home(venv)
            if home:
                roots.append(home)
    for candidate in (plain, real):  # the path it is called by and where it lives (a linked tools directory)
        if "node_modules" in candidate.parts:
            index = len(candidate.parts) - 1 - candidate.parts[::-1].index("node_modules")
            roots.append(Path(*candidate.parts[: index + 1]))
    for candidate in (plain, real):
        if candidate.parent.name == "shims" and (candidate.parent.parent / "versions").is_dir():  # pyenv, rbenv
            roots.append(candidate.parent.parent)
    if not roots and not under_system(real):
        prefix = real.parent.parent
        lib = prefix / "lib"
        roots.append(prefix if real.parent.name == "bin" and lib.is_dir() else real.parent)
    if depth < 2:
        for interpreter in _shebang(real):
            roots += install_roots(interpreter, path_env, depth + 1)
    return [r for r in dict.fromkeys(roots) if not under_system(r)]


def first_word(command: str) -> str | None:
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    while words and "=" in words[0] and not words[0].startswith(("/", ".")):  # FOO=bar cmd
        words = words[1:]
    return words[0] if words else None


def is_interpreter(program: str) -> bool:
    name = Path(program).name
    return any(name == i or name.startswith(i) and name[len(i):].replace(".", "").isdigit() for i in INTERPRETERS)
