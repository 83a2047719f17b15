"""The hub's HTTP plumbing: the request handler (API dispatch, ETags, faults, git smart HTTP) and `HubServer`."""

import hashlib
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .model import Hub
from .routing import ROUTES, FaultConfig, HubError, Request, check_params, not_found, valid_login, valid_repo_name
from .store import now_iso

GIT_PATH = re.compile(
    r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)\.git(?P<rest>/(?:info/refs|git-upload-pack|git-receive-pack))$")


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    plain = etag.removeprefix("W/")
    return any(part.strip() == "*" or part.strip().removeprefix("W/") == plain for part in header.split(","))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cxo-hub"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle and delayed ACKs add ~40 ms a request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # quiet: tests and demos read stderr
        if getattr(self.server, "verbose", False):
            super().log_message(fmt, *args)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: dict, payload: bytes):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def _handle(self):
        hub: Hub = self.server.hub
        parts = urlsplit(self.path)
        body = self._body()
        match = GIT_PATH.match(parts.path)
        if match:
            return self._git(hub, match, parts, body)
        with hub.store.lock:
            status, headers, payload, op_id, drop = self._api(hub, parts, body)
        if drop:  # a lost response: the write happened, the client hears nothing
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if hub.on_response is not None:
            hub.on_response(op_id, self.command, parts.path, status, headers, payload)
        self._send(status, headers, payload)

    def _api(self, hub, parts, body):
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        method = self.command
        headers = {"Content-Type": "application/json; charset=utf-8", "X-GitHub-Media-Type": "github.v3; format=json",
                   "X-GitHub-Api-Version-Selected": "2022-11-28"}
        op_id, login, billable, drop = "hub/unknown", None, True, False
        try:
            handler, params, r_op, needs_auth = None, {}, None, False
            for r_method, regex, candidate_op, fn, auth in ROUTES:
                found = regex.match(path)
                if found and r_method == method:
                    handler, r_op, needs_auth = fn, candidate_op, auth
                    params = {k: unquote(v) for k, v in found.groupdict().items()}
                    break
            if r_op is not None and r_op.startswith("hub/"):
                op_id = r_op
                hub.require_admin(self.headers.get("Authorization"))  # admin routes take only the admin token
            else:
                login = hub.authenticate(self.headers.get("Authorization"))
                if handler is None:
                    raise not_found()
                op_id = r_op
                if needs_auth and login is None:
                    raise HubError(401, "Requires authentication")
            check_params(params)
            admin = op_id.startswith("hub/")
            if not admin:
                drop = self._inject_faults(hub, method)
            req = Request(method, path, query, self.headers, body, login)
            status, data, extra = handler(hub, req, **params)
            headers.update(extra)
        except HubError as err:
            status, data = err.status, err.body()
            headers.update(err.headers or {})
            admin = op_id.startswith("hub/")
        if isinstance(data, bytes):  # a log's text (actions/jobs/{id}/logs' download)
            payload = data
            headers["Content-Type"] = "text/plain; charset=utf-8"
        else:
            payload = b"" if data is None else json.dumps(data).encode()
        if method == "GET" and status == 200:
            etag = '"' + hashlib.sha1(payload).hexdigest() + '"'
            headers["ETag"] = etag
            if _etag_matches(self.headers.get("If-None-Match"), etag):
                status, payload, billable = 304, b"", False
        if op_id == "rate-limit/get":
            billable = False
        if not admin:
            headers.update(hub.rate_headers(login, billable))
            with hub.stats_lock:
                stats = hub.stats
                stats["total"] += 1
                stats["billable"] += int(billable)
                stats["not_modified"] += int(status == 304)
                stats["writes"] += int(method != "GET")
                stats["by_op"][op_id] = stats["by_op"].get(op_id, 0) + 1
        if status == 204:
            headers.pop("Content-Type", None)
        return status, headers, payload, op_id, drop

    def _inject_faults(self, hub, method) -> bool:
        faults = hub.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        roll = hub._rng.random()
        if roll < faults.error_rate:
            with hub.stats_lock:
                hub.stats["faults"]["errors"] += 1
            raise HubError(hub._rng.choice([502, 503]), "Server Error (injected by cxo-hub)")
        if method != "GET" and roll < faults.error_rate + faults.drop_rate:
            with hub.stats_lock:
                hub.stats["faults"]["dropped"] += 1
            return True
        return False

    def _git(self, hub, match, parts, body):
        owner, name, rest = unquote(match["owner"]), unquote(match["repo"]), match["rest"]
        valid = valid_login(owner) and valid_repo_name(name)  # the API's name rules, before any lookup
        with hub.store.lock:
            repo = hub.store.repo(owner, name) if valid else None
        with hub.stats_lock:
            hub.stats["git"] += 1
        if repo is None:
            return self._send(404, {"Content-Type": "text/plain"}, b"Repository not found\n")
        pushing = rest.endswith("git-receive-pack") or "service=git-receive-pack" in parts.query
        user = hub.git_user(self.headers.get("Authorization"))
        if (pushing or repo["private"]) and user is None:
            return self._send(401, {"WWW-Authenticate": 'Basic realm="GitHub"', "Content-Type": "text/plain"},
                              b"Authentication required\n")
        with hub.store.lock:
            hidden = bool(repo["private"]) and not hub._can_read(repo, user)
        if hidden:  # a private repository the user cannot read does not exist for them
            return self._send(404, {"Content-Type": "text/plain"}, b"Repository not found\n")
        if pushing:
            # Both the receive-pack advertisement and the POST need push access, as on GitHub (git shows the
            # text/plain body as "remote: ..."); nothing reaches git http-backend otherwise.
            with hub.store.lock:
                allowed = hub.can_push(repo, user)
            if not allowed:
                message = f"Permission to {repo['owner']}/{repo['name']}.git denied to {user}.\n"
                return self._send(403, {"Content-Type": "text/plain"}, message.encode())
        path_info = f"/{repo['owner'].lower()}/{repo['name'].lower()}.git{rest}"
        status, headers, payload = hub.git.http_backend(self.command, path_info, parts.query, self.headers, body,
                                                        user)
        if rest.endswith("git-receive-pack") and status == 200:
            with hub.store.lock:
                hub.store.run("UPDATE repos SET pushed_at = ? WHERE id = ?", now_iso(), repo["id"])
                branches = hub.git.branches(repo["owner"], repo["name"])
                if branches and repo["default_branch"] not in branches:
                    hub.store.run("UPDATE repos SET default_branch = ? WHERE id = ?",
                                  "main" if "main" in branches else branches[0], repo["id"])
        self._send(status, dict(headers), payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class HubServer:
    """The hub in a background thread: `start()`, `url`, `stop()`; `on_response` sees every API response."""

    def __init__(self, data_dir, tokens=None, host: str = "127.0.0.1", port: int = 0,
                 faults: FaultConfig | None = None, verbose: bool = False, admin_token: str | None = None):
        self.hub = Hub(Path(data_dir), tokens, faults, admin_token)
        self.httpd = _Server((host, port), Handler)
        self.httpd.hub = self.hub
        self.httpd.verbose = verbose
        self.host, self.port = self.httpd.server_address[:2]
        self.url = f"http://{host}:{self.port}"
        self.hub.base = self.url
        self._thread = None

    @property
    def admin_token(self) -> str:
        """The token `/_hub/*` routes require (also `admin` when the hub runs without a token list)."""
        return self.hub.admin_token

    @property
    def on_response(self):
        return self.hub.on_response

    @on_response.setter
    def on_response(self, fn):
        self.hub.on_response = fn

    def start(self) -> "HubServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="cxo-hub", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        self.httpd.serve_forever()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

