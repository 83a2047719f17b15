"""What the egress proxy adds to each connection: one GET (a new connection each) to an HTTP server on 127.0.0.1,
directly, through the proxy's unix socket (plain HTTP, and a CONNECT tunnel as HTTPS uses), and through the bridge
an agent's sandbox talks to (bridge -> socket -> proxy)."""

import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

TITLE = "Egress proxy latency per connection (median of 200 GETs, each on a new connection, to 127.0.0.1)"
RUNS = 200


def _exchange(client: socket.socket, request: bytes, then: bytes = b"") -> bytes:
    """Send `request`, read to EOF; after the 200 to a CONNECT, send `then` through the tunnel."""
    with client:
        client.settimeout(10)
        client.sendall(request)
        data = b""
        while True:
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
            if then and b"\r\n\r\n" in data and data.startswith(b"HTTP/1.1 200"):
                client.sendall(then)
                then, data = b"", b""
    if b" 200 " not in data.split(b"\r\n", 1)[0] or not data.startswith(b"HTTP") or b"\r\n\r\nhello from " not in data:
        raise RuntimeError(f"unexpected answer: {data[:200]!r}")
    return data


def _unix(path: Path) -> socket.socket:
    client = socket.socket(socket.AF_UNIX)
    client.connect(str(path))
    return client


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(ctx) -> list[dict]:
    from cxo.agents.sandbox import egress
    from tests.support.http_servers import hello_server

    stack = ExitStack()
    port = stack.enter_context(hello_server())
    short = Path(tempfile.mkdtemp(prefix="cxo-bench-"))  # a unix socket's path holds 107 bytes at most
    bridge = None
    try:
        proxy = egress.start(egress.Rules([f"127.0.0.1:{port}"]), short / "proxy.sock", short / "egress.jsonl")
        try:
            bridge_port = _free_port()
            # The bridge as the sandbox runs it, here on the host's loopback, its "agent" waiting on stdin.
            bridge = subprocess.Popen(egress.bridge_argv(sys.executable, bridge_port, proxy.socket_path,
                                                         [sys.executable, "-c", "import sys; sys.stdin.read()"]),
                                      stdin=subprocess.PIPE)
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", bridge_port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or bridge.poll() is not None:
                        raise RuntimeError("the bridge did not start listening") from None
                    time.sleep(0.02)
            plain = f"GET http://127.0.0.1:{port}/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
            tunnel = f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
            direct = b"GET / HTTP/1.0\r\n\r\n"
            ways = {
                "direct": lambda: _exchange(socket.create_connection(("127.0.0.1", port)), direct),
                "proxy": lambda: _exchange(_unix(proxy.socket_path), plain),
                "connect": lambda: _exchange(_unix(proxy.socket_path), tunnel, then=direct),
                "bridge": lambda: _exchange(socket.create_connection(("127.0.0.1", bridge_port)), plain),
            }
            times: dict[str, list[float]] = {way: [] for way in ways}
            for index in range(RUNS + 5):  # interleaved; the first rounds warm up
                for way, request in ways.items():
                    began = time.perf_counter()
                    request()
                    if index >= 5:
                        times[way].append((time.perf_counter() - began) * 1000)
        finally:
            if bridge is not None:
                bridge.stdin.close()
                bridge.wait(timeout=10)
            proxy.stop()
    finally:
        stack.close()
        shutil.rmtree(short, ignore_errors=True)
    median = {way: statistics.median(values) for way, values in times.items()}
    return [
        {"what": "direct GET (new connection, median)", "value": median["direct"], "unit": "ms"},
        {"what": "GET through the proxy's unix socket (median)", "value": median["proxy"], "unit": "ms"},
        {"what": "  added by the proxy (plain HTTP)", "value": median["proxy"] - median["direct"], "unit": "ms"},
        {"what": "CONNECT tunnel + GET through the proxy (median)", "value": median["connect"], "unit": "ms"},
        {"what": "  added by the proxy (CONNECT, as HTTPS)", "value": median["connect"] - median["direct"],
         "unit": "ms"},
        {"what": "GET through bridge + proxy, the sandbox's path (median)", "value": median["bridge"], "unit": "ms"},
        {"what": "  added by bridge + proxy", "value": median["bridge"] - median["direct"], "unit": "ms"},
    ]
