"""The bubblewrap sandbox: own PID namespace and /proc, read-only filesystem but for the scope, secrets masked.

The process sees the machine read-only (so tools installed anywhere keep working:
pyenv, nvm, ~/.local/bin, the Codex CLI), a private /tmp, and writes only where its
scope says. The runner's processes (and their environments) are invisible: the
sandbox has its own PID namespace and /proc.
"""

import functools
import os
import shutil
import subprocess
from pathlib import Path

from . import Scope

FIX = ("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap). On Ubuntu 24.04 and later, unprivileged "
       "user namespaces are restricted by AppArmor: add an AppArmor profile for bwrap or set "
       "kernel.apparmor_restrict_unprivileged_userns=0; inside Docker, run with a seccomp profile that allows "
       "user namespaces (e.g. --security-opt seccomp=unconfined)")


def binary() -> str | None:
    return os.environ.get("CXO_BWRAP") or shutil.which("bwrap")


@functools.cache
def version() -> str:
    found = binary()
    if not found:
        return ""
    out = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=10)
    return out.stdout.strip().split()[-1] if out.returncode == 0 and out.stdout.strip() else ""


@functools.cache
def problem() -> str | None:
    """Why bubblewrap cannot sandbox here (tried once per process), or None."""
    found = binary()
    if not found:
        return f"bwrap not found on PATH: {FIX}"
    probe = [found, "--die-with-parent", "--unshare-pid", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
             "--tmpfs", "/tmp", "--", "true"]
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

    def args(self, cwd: Path) -> list[str]:
        s = self.scope
        args = [binary() or "bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try"]
        if not s.network:
            args.append("--unshare-net")
        args += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        args += ["--bind", str(s.tmp), "/tmp"] if s.tmp else ["--tmpfs", "/tmp"]
        # What the process must see even where the private /tmp covers it (a worktree under /tmp), read-only;
        # then masks, then the writable places (a run's scratch may sit inside a masked state directory),
        # then what must stay read-only inside a writable place.
        for path in s.visible:
            if path.exists():
                args += ["--ro-bind", str(path), str(path)]
        for path in s.hidden:
            if s.tmp is not None and Path("/tmp") in path.parents:
                continue  # the private /tmp already hides it
            if path.is_dir() and not path.is_symlink():
                args += ["--tmpfs", str(path)]
            elif path.exists():
                args += ["--ro-bind", "/dev/null", str(path)]
        # The private /tmp is also shown at its real path: a sandbox started inside this one (the Codex CLI's
        # own) resolves /tmp to it through the mount table.
        for path in s.writable + ([s.tmp] if s.tmp else []):
            args += ["--bind", str(path), str(path)]
        for inside, source in s.replaced.items():
            args += ["--ro-bind", str(source), str(inside)]
        for path in s.read_only:
            if path.exists():
                args += ["--ro-bind", str(path), str(path)]
        return args + ["--chdir", str(cwd)]

    def wrap(self, argv: list[str], cwd: Path) -> list[str]:
        return self.args(cwd) + ["--", *argv]
