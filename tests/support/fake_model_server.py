"""A scripted model server on 127.0.0.1 that speaks the Responses API (SSE) the way `codex exec` uses it.

Stdlib only. Point codex at it with `codex_provider_args(server.url)` and run codex with
`codex_env(codex_home)`; see docs/codex-cli.md for the protocol facts this relies on.

Each POST to `{url}/responses` is answered with the next turn of the script, as one SSE
stream (`response.created`, one `response.output_item.done` per action, `response.completed`).
A turn is a list of actions:

- `{"shell": "command line"}` or `{"shell": ["bash", "-lc", "..."]}`: a call of whichever shell
  tool the request offers (`exec_command` in codex 0.169, else `shell_command`, `shell`, `local_shell`);
- `{"apply_patch": "*** Begin Patch ... *** End Patch"}`: the `apply_patch` tool when offered
  (freeform or JSON), else the same patch through the shell tool as `apply_patch <<'EOF' ... EOF`,
  which codex intercepts and applies itself;
- `{"message": "text"}`: an assistant message; a turn that ends with one ends the agent's turn.

Codex sends the tool results back in the next POST as `function_call_output` /
`custom_tool_call_output` items with the same `call_id`; `server.output_of(call_id)` finds them.
Every response reports `usage` (default 1 input + 1 output token; `usage=` sets it).
Once the script is used up the server answers `{"message": "done"}`. `fail_status=500` makes
every POST to /responses fail with that status (`fail_times=N`: only the first N).
Any other path answers 404 with an OpenAI-style error body, except GET `.../models` (an empty list).
"""

import json
import os
import shlex
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SHELL_TOOLS = ("exec_command", "shell_command", "shell", "local_shell")
PROVIDER_ID = "cxo_scripted"
MODEL = "gpt-5.5"  # a slug codex 0.169 ships metadata for: no "model metadata not found" warning event


def _tools(body: dict) -> dict[str, str]:
    """Tool name -> tool type ("function", "custom", "local_shell", ...) offered in a request."""
    out = {}
    for tool in body.get("tools") or []:
        name = tool.get("name") or (tool.get("function") or {}).get("name") or tool.get("type")
        if name:
            out[name] = tool.get("type", "function")
    return out


def _shell_call(tools: dict, command, call_id: str) -> dict:
    argv = list(command) if isinstance(command, (list, tuple)) else ["bash", "-lc", command]
    if isinstance(command, str):
        line = command
    elif len(argv) == 3 and argv[0] in ("bash", "sh", "/bin/bash", "/bin/sh") and argv[1] in ("-c", "-lc"):
        line = argv[2]  # exec_command already runs `cmd` through the user's shell: don't wrap twice
    else:
        line = shlex.join(argv)
    name = next((n for n in SHELL_TOOLS if n in tools), "exec_command")
    if name == "local_shell":
        return {"type": "local_shell_call", "call_id": call_id, "status": "completed",
                "action": {"type": "exec", "command": argv}}
    args = {"exec_command": {"cmd": line}, "shell_command": {"command": line}, "shell": {"command": argv}}[name]
    return {"type": "function_call", "name": name, "arguments": json.dumps(args), "call_id": call_id}


def _patch_call(tools: dict, patch: str, call_id: str) -> dict:
    kind = tools.get("apply_patch")
    if kind == "custom":
        return {"type": "custom_tool_call", "name": "apply_patch", "input": patch, "call_id": call_id}
    if kind == "function":
        return {"type": "function_call", "name": "apply_patch", "arguments": json.dumps({"input": patch}),
                "call_id": call_id}
    return _shell_call(tools, f"apply_patch <<'PATCH'\n{patch.rstrip()}\nPATCH\n", call_id)


def _event(kind: str, data: dict) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


class ScriptedModelServer:
    def __init__(self, script: list[list[dict]], fail_status: int | None = None, fail_times: int | None = None,
                 usage: dict | None = None):
        self.script = list(script)
        self.fail_status = fail_status
        self.fail_times = fail_times
        # What every response reports it used (codex adds them up into its token_count events).
        self.usage = usage or {"input_tokens": 1, "input_tokens_details": None, "output_tokens": 1,
                               "output_tokens_details": None, "total_tokens": 2}
        self.requests: list[dict] = []  # POSTs to /responses: {"path", "headers", "body"}
        self.other_requests: list[dict] = []  # anything else codex asked for: {"method", "path"}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, payload: bytes, ctype: str = "application/json"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _not_found(self):
                self._send(404, json.dumps({"error": {"message": f"Invalid URL ({self.command} {self.path})",
                                                      "type": "invalid_request_error"}}).encode())

            def do_GET(self):
                server.other_requests.append({"method": "GET", "path": self.path})
                if self.path.split("?")[0].rstrip("/").endswith("/models"):
                    self._send(200, json.dumps({"object": "list", "data": [], "models": []}).encode())
                else:
                    self._not_found()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not self.path.split("?")[0].rstrip("/").endswith("/responses"):
                    server.other_requests.append({"method": "POST", "path": self.path})
                    return self._not_found()
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode(errors="replace")}
                with server._lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    n = len(server.requests)
                    failing = server.fail_status and (server.fail_times is None or n <= server.fail_times)
                    turn = None if failing else (server.script.pop(0) if server.script else [{"message": "done"}])
                if failing:
                    return self._send(server.fail_status, b'{"error": {"message": "scripted failure", '
                                                          b'"type": "server_error"}}')
                tools = _tools(body)
                chunks = [_event("response.created", {"response": {"id": f"resp_{n}"}})]
                for i, action in enumerate(turn):
                    call_id = f"call_{n}_{i}"
                    if "shell" in action:
                        item = _shell_call(tools, action["shell"], call_id)
                    elif "apply_patch" in action:
                        item = _patch_call(tools, action["apply_patch"], call_id)
                    else:
                        item = {"type": "message", "role": "assistant", "id": f"msg_{n}_{i}",
                                "content": [{"type": "output_text", "text": action["message"]}]}
                    chunks.append(_event("response.output_item.done", {"item": item}))
                chunks.append(_event("response.completed", {"response": {"id": f"resp_{n}", "usage": server.usage}}))
                self._send(200, b"".join(chunks), "text/event-stream")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def output_of(self, call_id: str):
        """The output codex sent back for one tool call (a string, or None if it never came)."""
        for request in self.requests:
            for item in request["body"].get("input") or []:
                if item.get("call_id") == call_id and item.get("type", "").endswith("_output"):
                    return item.get("output")
        return None


def codex_provider_args(url: str, retries: int = 0) -> list[str]:
    """`-c` overrides that point `codex exec` at the scripted server, with no credential at all:
    a provider without `env_key` and with `requires_openai_auth=false` sends no Authorization header."""
    p = f"model_providers.{PROVIDER_ID}"
    return ["-c", f'model_provider="{PROVIDER_ID}"',
            "-c", f'{p}.name="cxo scripted"',
            "-c", f'{p}.base_url="{url}"',
            "-c", f'{p}.wire_api="responses"',
            "-c", f"{p}.requires_openai_auth=false",
            "-c", f"{p}.request_max_retries={retries}",
            "-c", f"{p}.stream_max_retries={retries}",
            "-c", f"{p}.stream_idle_timeout_ms=30000",
            "-c", f'model="{MODEL}"']


def codex_env(codex_home, path: str | None = None) -> dict:
    """The minimal environment for `codex exec` in tests: its own CODEX_HOME (and HOME) so no user
    config or login is read, PATH for node and git, and nothing else: no GITHUB_TOKEN, no OPENAI_API_KEY.
    CODEX_HOME must be an existing directory."""
    return {"PATH": path or os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": str(codex_home),
            "CODEX_HOME": str(codex_home), "LANG": "C.UTF-8"}


def through_proxy(server) -> dict:
    """The policy's `agent` section that lets the sandboxed Codex CLI reach the scripted server (a loopback
    host:port) through the runner's egress proxy: the allowlist names it, nothing else on loopback."""
    from urllib.parse import urlsplit

    parts = urlsplit(server.url)
    return {"network": "allowlist", "allowHosts": [f"{parts.hostname}:{parts.port}"]}
