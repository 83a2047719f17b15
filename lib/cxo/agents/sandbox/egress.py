"""The agent's only way out: the runner's HTTP(S) proxy on a unix socket, letting through allowlisted hosts only.

The sandbox has its own network namespace (loopback only). bridge.py, inside it,
forwards 127.0.0.1:PORT to `socket_path`, where proxy.py (run here, on the host,
as the runner's process) tunnels CONNECT without touching TLS and forwards plain
HTTP, after `Rules` allowed the destination. Every CONNECT or request is one JSON
line in the log; `Egress.record()` sums it up for the run's report.
"""

import functools
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ...errors import CxoError

# The cloud metadata service lives here: never reachable, whatever the allowlist says.
LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
LOOPBACK_NAMES = ("localhost",)
START_TIMEOUT_S = 5.0


class EgressError(CxoError):
    exit_code = 2


def _ip(host: str):
    """The IP address `host` spells (also the legacy IPv4 forms getaddrinfo accepts: 127.1, 0x7f.1, 2130706433),
    IPv4-mapped, NAT64 and 6to4 IPv6 unwrapped; None for a name."""
    text = host.strip("[]").split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        if not text or any(c not in "0123456789abcdefx." for c in text):
            return None
        try:  # inet_aton is pure parsing: 127.1 must not slip past as a "name"
            ip = ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    if ip.version == 6:  # an IPv4 address inside IPv6 reaches that IPv4 host: judge it as one
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        return ip.ipv4_mapped or ip.sixtofour or ip
    return ip


def _name(host: str) -> str:
    """A host name compared the way DNS does: lower case, IDNA (punycode), no trailing dot. ValueError if invalid."""
    name = host.strip().rstrip(".")
    if not name or any(c.isspace() or c in "/@?#[]\\" for c in name):
        raise ValueError(f"invalid host name {host!r}")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"invalid host name {host!r} ({exc})") from None
    return name.lower()


def _link_local(ip) -> bool:
    return any(ip in net for net in LINK_LOCAL if net.version == ip.version)


def _special(ip) -> bool:
    """Loopback, private, unique-local, unspecified, multicast, reserved: not the open internet."""
    return ip.is_multicast or ip.is_unspecified or ip.is_loopback or ip.is_private or not ip.is_global


def _loopback_name(name: str) -> bool:
    return name in LOOPBACK_NAMES or name.endswith(".localhost")


class Rules:
    """The allowlist: `host` (any port), `host:port`, `*.suffix` (any subdomain, not the suffix itself) and
    `*.suffix:port`; `[v6]:port` for IPv6. Loopback and private destinations only as an exact `host:port` entry,
    link-local never."""

    def __init__(self, allow_hosts: list[str]):
        self.allow_hosts = [str(entry) for entry in allow_hosts]
        # (kind: name|suffix|ip, value, port or None); a bad entry is a ValueError here, not a surprise later
        self.entries = [self._parse(entry) for entry in self.allow_hosts]

    @staticmethod
    def _parse(entry: str) -> tuple[str, object, int | None]:
        text, port = entry.strip(), None
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"egress allowlist entry {entry!r}: expected [ipv6]:port")
                port = rest[1:]
        elif text.count(":") == 1:
            host, port = text.split(":")
        else:
            host = text  # a name, or a bare IPv6 literal
        if port is not None:
            if not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"egress allowlist entry {entry!r}: bad port {port!r}")
            port = int(port)
        ip = _ip(host)
        if ip is not None:
            return "ip", ip, port
        if host.startswith("*."):
            return "suffix", _name(host[2:]), port
        if "*" in host:
            raise ValueError(f"egress allowlist entry {entry!r}: a wildcard only as a leading *.")
        return "name", _name(host), port

    def _listed(self, kind: str, value, port: int, exact: bool = False) -> bool:
        return any(k == kind and v == value and (p == port or (p is None and not exact)) for k, v, p in self.entries)

    def decide(self, host: str, port: int) -> tuple[bool, str]:
        """(allowed, one-line reason) for a connection to host:port, on the rules alone (no DNS)."""
        if not isinstance(port, int) or not 0 < port < 65536:
            return False, f"{host}:{port}: bad port"
        ip = _ip(host)
        if ip is not None:
            if _link_local(ip):
                return False, f"{ip}:{port}: link-local address (cloud metadata service), never allowed"
            if _special(ip):
                if self._listed("ip", ip, port, exact=True):
                    return True, f"{ip}:{port}: listed exactly"
                return False, f"{ip}:{port}: loopback/private address, allowed only when listed as {ip}:{port}"
            if self._listed("ip", ip, port):
                return True, f"{ip}:{port}: listed"
            return False, f"{ip}:{port}: not on the egress allowlist"
        try:
            name = _name(host)
        except ValueError as exc:
            return False, str(exc)
        if _loopback_name(name):
            if self._listed("name", name, port, exact=True):
                return True, f"{name}:{port}: listed exactly"
            return False, f"{name}:{port}: loopback name, allowed only when listed as {name}:{port}"
        if self._listed("name", name, port):
            return True, f"{name}:{port}: listed"
        for kind, suffix, p in self.entries:
            if kind == "suffix" and name.endswith("." + suffix) and p in (None, port):
                return True, f"{name}:{port}: matches *.{suffix}"
        return False, f"{name}:{port}: not on the egress allowlist"

    def check_resolved(self, host: str, addresses: list[str], port: int | None = None) -> tuple[bool, str]:
        """(allowed, reason) for an allowed name once resolved: refused if any address is link-local (a name
        pointed at the metadata service), or loopback/unspecified (the runner's own services) unless the name is
        a loopback name decide() let through or that `ip:port` is listed."""
        if not addresses:
            return False, f"{host}: did not resolve"
        for address in addresses:
            ip = _ip(address)
            if ip is None:
                return False, f"{host}: resolved to a non-address {address!r}"
            if _link_local(ip):
                return False, f"{host} resolves to {ip}: link-local address (cloud metadata service), never allowed"
            if ip.is_loopback or ip.is_unspecified:
                try:
                    loopback_name = _loopback_name(_name(host))
                except ValueError:
                    loopback_name = False
                if not loopback_name and (port is None or not self._listed("ip", ip, port, exact=True)):
                    return False, f"{host} resolves to {ip}: loopback, allowed only when listed as {ip}:{port}"
        return True, f"{host} resolves to {', '.join(addresses)}"


# -- the proxy process -------------------------------------------------------------------------------------------

def _log_line(path: str, record: dict) -> None:
    # One write() per line on an O_APPEND file: lines from threads and acceptor processes never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode())
    finally:
        os.close(fd)


@functools.cache
def _served_rules() -> Rules:
    return Rules(json.loads(os.environ["CXO_EGRESS_RULES"]))


@functools.cache
def _plugin_class():
    """The proxy.py plugin, built on first use: importing proxy.py costs ~0.1 s the runner need not pay."""
    from proxy.common.utils import text_
    from proxy.http.exception import HttpRequestRejected
    from proxy.http.proxy import HttpProxyBasePlugin

    class AllowlistPlugin(HttpProxyBasePlugin):
        """Allow or refuse (403, one-line reason) each CONNECT and request before any upstream connection."""

        pinned: str | None = None

        def before_upstream_connection(self, request):
            host, port = text_(request.host or b""), request.port
            method = text_(request.method or b"")
            rules = _served_rules()
            allowed, why = rules.decide(host, port) if host else (False, "no destination host in the request")
            if allowed and _ip(host) is not None:
                self.pinned = str(_ip(host))
            elif allowed:
                allowed, why, self.pinned = self._resolve(rules, host, port)
            _log_line(os.environ["CXO_EGRESS_LOG"], {"time": round(time.time(), 3), "method": method, "host": host,
                                                     "port": port, "allowed": allowed, "reason": why})
            if not allowed:
                raise HttpRequestRejected(status_code=403, reason=b"Forbidden",
                                          headers={b"Content-Type": b"text/plain; charset=utf-8"},
                                          body=f"cxo egress: refused: {why}\n".encode())
            return request

        @staticmethod
        def _resolve(rules: Rules, host: str, port: int) -> tuple[bool, str, str | None]:
            try:
                found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                return False, f"{host}: did not resolve ({exc})", None
            addresses = list(dict.fromkeys(info[4][0] for info in found))
            allowed, why = rules.check_resolved(host, addresses, port)
            return allowed, why, addresses[0] if allowed else None

        def resolve_dns(self, host, port):
            # Connect to the very address check_resolved() saw: a second lookup could answer differently.
            return self.pinned, None

    return AllowlistPlugin


def __getattr__(name: str):
    if name == "AllowlistPlugin":  # proxy.py loads the plugin by dotted name
        return _plugin_class()
    raise AttributeError(name)


def _watch_parent(parent: int) -> None:
    """The proxy is the runner's: when the runner dies without stop(), the proxy and its workers go too."""
    while os.getppid() == parent:
        time.sleep(1)
    os.killpg(os.getpgrp(), signal.SIGTERM)


def serve(argv: list[str]) -> None:
    """The proxy process's main (start() runs it in a session of its own)."""
    from proxy.proxy import Proxy, sleep_loop

    parent = int(os.environ.get("CXO_EGRESS_PARENT", "0"))
    if parent and os.getppid() == parent:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    with Proxy(argv) as proxy:
        sleep_loop(proxy)


# -- the runner's side ---------------------------------------------------------------------------------------------

class Egress:
    """A running egress proxy; stop() (or leaving the `with` block) ends it and removes its socket."""

    def __init__(self, proc: subprocess.Popen, socket_path: Path, log_path: Path, stderr_path: Path, data_dir: Path):
        self.proc, self.socket_path, self.log_path, self.stderr_path = proc, socket_path, log_path, stderr_path
        self.data_dir = data_dir

    def __enter__(self) -> "Egress":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc.poll() is None:
            # The proxy leads its own process group (with proxy.py's acceptor processes in it).
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.socket_path.unlink(missing_ok=True)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def record(self) -> dict:
        """{"asked": ["host:port"...], "allowed": [...], "refused": [{"host", "port", "reason"}...]}, each once."""
        asked, allowed, refused = {}, {}, {}
        try:
            lines = self.log_path.read_text().splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a killed proxy
            where = f"{entry['host']}:{entry['port']}"
            asked[where] = True
            if entry["allowed"]:
                allowed[where] = True
            else:
                refused[(entry["host"], entry["port"], entry["reason"])] = True
        return {"asked": list(asked), "allowed": list(allowed),
                "refused": [{"host": h, "port": p, "reason": r} for h, p, r in refused]}


def proxy_env(port: int) -> dict:
    """What the agent's environment needs to use the bridge on 127.0.0.1:`port`."""
    url = f"http://127.0.0.1:{port}"
    return {"HTTP_PROXY": url, "HTTPS_PROXY": url, "http_proxy": url, "https_proxy": url, "ALL_PROXY": url,
            "all_proxy": url, "NO_PROXY": "", "no_proxy": ""}


BRIDGE = Path(__file__).with_name("bridge.py")


def bridge_argv(python: str, port: int, socket_path: Path, argv: list[str]) -> list[str]:
    """`argv` run behind the bridge (isolated interpreter: only the standard library is needed inside)."""
    return [python, "-I", "-S", str(BRIDGE), "--listen", f"127.0.0.1:{port}", "--socket", str(socket_path), "--",
            *argv]


def _free(socket_path: Path) -> None:
    """Remove a stale socket left by a proxy that died; refuse a live one or anything that is not a socket."""
    if not socket_path.exists() and not socket_path.is_symlink():
        return
    if not socket_path.is_socket():
        raise EgressError(f"egress proxy socket {socket_path} exists and is not a socket: remove it")
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(str(socket_path))
    except OSError:
        socket_path.unlink()
        return
    finally:
        probe.close()
    raise EgressError(f"egress proxy socket {socket_path} is in use by another process")


def start(rules: Rules, socket_path: Path, log_path: Path, timeout_s: float = START_TIMEOUT_S) -> Egress:
    """Start the proxy on `socket_path` (mode 0600: the sandboxed process is the runner's uid on the host);
    return once it accepts connections, EgressError naming the cause otherwise."""
    socket_path, log_path = Path(socket_path), Path(log_path)
    if len(os.fsencode(socket_path)) > 107:  # sun_path holds 108 bytes with the terminating NUL
        raise EgressError(f"egress proxy socket path is too long for a unix socket (>107 bytes): {socket_path}")
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    _free(socket_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text("")
    stderr_path = log_path.with_name(log_path.stem + ".proxy.log")
    # proxy.py creates data and cache directories at start: in a place of the proxy's own, not in ~/.proxy.
    data_dir = Path(tempfile.mkdtemp(prefix="cxo-egress-"))
    env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
           "CXO_EGRESS_RULES": json.dumps(rules.allow_hosts), "CXO_EGRESS_LOG": str(log_path),
           "CXO_EGRESS_PARENT": str(os.getpid()), "HOME": str(data_dir)}
    # --threaded: a thread per connection adds ~0.5 ms; the default (threadless) loop added ~26 ms to each one.
    argv = ["--unix-socket-path", str(socket_path), "--threaded", "--num-acceptors", "1", "--log-level", "WARNING",
            "--data-dir", str(data_dir), "--cache-dir", str(data_dir / "cache"),
            "--plugins", f"{__name__}.AllowlistPlugin"]
    code = f"import sys; from {__name__} import serve; serve(sys.argv[1:])"
    with open(stderr_path, "wb") as err:
        # Its own session: the agent's process group is killed on timeouts, the proxy must outlive that.
        proc = subprocess.Popen([sys.executable, "-c", code, *argv], env=env, cwd="/", stdin=subprocess.DEVNULL,
                                stdout=err, stderr=err, start_new_session=True, close_fds=True, umask=0o077)
    egress = Egress(proc, socket_path, log_path, stderr_path, data_dir)
    deadline = time.monotonic() + timeout_s
    while True:
        probe = socket.socket(socket.AF_UNIX)
        try:
            probe.connect(str(socket_path))
            break
        except OSError:
            pass
        finally:
            probe.close()
        if proc.poll() is not None or time.monotonic() > deadline:
            why = f"exited with status {proc.returncode}" if proc.poll() is not None else \
                f"not accepting connections after {timeout_s:.0f}s"
            egress.stop()
            tail = [line for line in stderr_path.read_text(errors="replace").splitlines() if line.strip()]
            raise EgressError(f"egress proxy did not start on {socket_path}: {why}"
                              + (f": {tail[-1].strip()}" if tail else "") + f" (log: {stderr_path})")
        time.sleep(0.01)
    os.chmod(socket_path, 0o600)
    return egress
