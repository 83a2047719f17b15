"""Inside the sandbox's own network namespace: forward 127.0.0.1:PORT to the runner's egress proxy's unix socket.

Usage: python3 -I -S bridge.py --listen 127.0.0.1:PORT --socket /path/proxy.sock -- AGENT_ARGV...

Standard library only, no cxo import: inside the sandbox only the interpreter is
certain to be there. The listener is bound before the agent starts (so its first
request cannot race it); the bridge exits with the agent's status (128+signal
when a signal ended it), and ends when the agent does.
"""

import os
import signal
import socket
import subprocess
import sys
import threading

BUFFER = 65536
FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


def _shut(sock: socket.socket, how: int) -> None:
    try:
        sock.shutdown(how)
    except OSError:
        pass  # already closed or reset: nothing left to tell the peer


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy src to dst until src's EOF, then half-close dst: the other direction may still be talking."""
    try:
        while True:
            data = src.recv(BUFFER)
            if not data:
                break
            dst.sendall(data)
        _shut(dst, socket.SHUT_WR)
    except OSError:
        # A reset on one side ends both directions (the other pump is woken by the shutdown).
        _shut(src, socket.SHUT_RDWR)
        _shut(dst, socket.SHUT_RDWR)


def _serve(client: socket.socket, socket_path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(socket_path)
    except OSError as exc:
        # An HTTP answer rather than a silent close: the agent's HTTP client then says why.
        body = f"cxo egress bridge: proxy unreachable at {socket_path}: {exc}\n".encode()
        try:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass
        client.close()
        upstream.close()
        return
    up = threading.Thread(target=_pump, args=(client, upstream), daemon=True)
    up.start()
    _pump(upstream, client)
    up.join()
    client.close()
    upstream.close()


def _accept(listener: socket.socket, socket_path: str) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            continue  # e.g. ECONNABORTED: the next client is not affected
        threading.Thread(target=_serve, args=(client, socket_path), daemon=True).start()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"bridge: --listen wants HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def main(argv: list[str]) -> int:
    if "--" not in argv:
        raise SystemExit("usage: bridge.py --listen 127.0.0.1:PORT --socket PATH -- AGENT_ARGV...")
    split = argv.index("--")
    options, child_argv = argv[:split], argv[split + 1:]
    settings = dict(zip(options[::2], options[1::2], strict=False))
    if len(options) % 2 or set(settings) != {"--listen", "--socket"} or not child_argv:
        raise SystemExit("usage: bridge.py --listen 127.0.0.1:PORT --socket PATH -- AGENT_ARGV...")
    host, port = _address(settings["--listen"])
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family, backlog=128)
    threading.Thread(target=_accept, args=(listener, settings["--socket"]), daemon=True).start()
    try:
        child = subprocess.Popen(child_argv)
    except OSError as exc:
        print(f"bridge: cannot start {child_argv[0]}: {exc}", file=sys.stderr)
        return 127
    # Termination requests meant for the agent reach it; Ctrl-C already reaches the whole process group, and
    # the bridge must outlive the agent's own handling of it.
    for number in FORWARDED:
        signal.signal(number, lambda signum, _frame: child.send_signal(signum))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    status = child.wait()
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # not sys.exit: daemon threads blocked in recv() must not delay the agent's exit status
