"""A scripted model server on 127.0.0.1 that speaks the Anthropic Messages API (streaming SSE) the way Claude
Code (`claude -p`) uses it. Stdlib only; see docs/claude-code.md for the protocol facts this relies on.

Point Claude Code at it with ANTHROPIC_BASE_URL=server.url (and any ANTHROPIC_API_KEY). Each POST to
`/v1/messages` that offers tools (the agent's loop) is answered with the next turn of the script, as one SSE
stream: `message_start`, a content block per action (`content_block_start` / `_delta` / `_stop`),
`message_delta` (stop_reason `tool_use` or `end_turn`, with the output tokens) and `message_stop`. A turn is a
list of actions:

- `{"bash": "command line"}`: a `tool_use` block of the `Bash` tool;
- `{"write": ["path", "content"]}`: a `tool_use` block of the `Write` tool;
- `{"tool": "Name", "input": {...}}`: any other tool;
- `{"write_report": "content"}`: the `Write` tool on the report path the prompt names (`report_path_in`), for a
  role whose shell is denied (a reviewer);
- `{"message": "text"}`: a text block; a turn without tool_use blocks ends the agent's turn.

A turn may also be a function of the server that returns the actions (for a turn that needs an earlier tool
result).

Claude Code sends the tool results back in the next POST as `tool_result` blocks with the same `tool_use_id`;
`server.output_of(id)` finds them (ids are `toolu_<request>_<action>`). A POST without tools (a side request,
such as a title) is answered with a short text message and uses no turn of the script. Every streamed
response reports `usage` (`usage=`: input_tokens, output_tokens, cache_read_input_tokens,
cache_creation_input_tokens; default 1 in, 1 out). Once the script is used up the server answers
`{"message": "done"}`. `fail_status=500` makes every POST fail with that status.
"""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "claude-sonnet-4-5"


def _sse(kind: str, data: dict) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


def report_path_in(text: str) -> str | None:
    """The report path a cxo prompt names: `$CODEX_ORCHESTRATOR_REPORT_FILE` (path), else the first absolute
    path ending in report.json or verdict.json."""
    found = re.search(r"REPORT_FILE`?\s*\((/[^)\s]+)\)", text) or re.search(r"(/[^\s`'\"()]+/(?:report|verdict)\.json)",
                                                                        text)
    return found.group(1) if found else None


def _texts(body: dict) -> str:
    parts = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        for block in content if isinstance(content, list) else []:
            if block.get("type") == "text":
                parts.append(block.get("text", ""))
    return "\n".join(parts)


def _block(action: dict, n: int, i: int) -> dict:
    if "bash" in action:
        return {"type": "tool_use", "id": f"toolu_{n}_{i}", "name": "Bash",
                "input": {"command": action["bash"], "description": "scripted command"}}
    if "write" in action:
        path, content = action["write"]
        return {"type": "tool_use", "id": f"toolu_{n}_{i}", "name": "Write",
                "input": {"file_path": path, "content": content}}
    if "tool" in action:
        return {"type": "tool_use", "id": f"toolu_{n}_{i}", "name": action["tool"], "input": action["input"]}
    return {"type": "text", "text": action["message"]}


class ScriptedAnthropicServer:
    def __init__(self, script: list[list[dict]], usage: dict | None = None, fail_status: int | None = None):
        self.script = list(script)
        self.usage = {"input_tokens": 1, "output_tokens": 1, "cache_read_input_tokens": 0,
                      "cache_creation_input_tokens": 0, **(usage or {})}
        self.fail_status = fail_status
        self.requests: list[dict] = []  # the agent loop's POSTs: {"path", "headers", "body"}
        self.side_requests: list[dict] = []  # POSTs without tools
        self.other_requests: list[dict] = []  # anything else: {"method", "path"}
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
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def do_HEAD(self):
                server.other_requests.append({"method": "HEAD", "path": self.path})
                self._send(200, b"")

            def do_GET(self):
                server.other_requests.append({"method": "GET", "path": self.path})
                self._send(404, b'{"type": "error", "error": {"type": "not_found_error", "message": "no"}}')

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not self.path.split("?")[0].rstrip("/").endswith("/v1/messages"):
                    server.other_requests.append({"method": "POST", "path": self.path})
                    return self._send(404, b'{"type": "error", "error": {"type": "not_found_error", '
                                           b'"message": "no such path"}}')
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                if server.fail_status:
                    with server._lock:
                        server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    return self._send(server.fail_status, b'{"type": "error", "error": {"type": "api_error", '
                                                          b'"message": "scripted failure"}}')
                looping = bool(body.get("tools"))
                with server._lock:
                    record = {"path": self.path, "headers": dict(self.headers), "body": body}
                    (server.requests if looping else server.side_requests).append(record)
                    n = len(server.requests)
                    turn = (server.script.pop(0) if server.script else [{"message": "done"}]) if looping \
                        else [{"message": "ok"}]
                turn = turn(server) if callable(turn) else turn
                turn = [{"write": [report_path_in(_texts(body)), a["write_report"]]} if "write_report" in a else a
                        for a in turn]
                blocks = [_block(action, n, i) for i, action in enumerate(turn)]
                stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
                message = {"id": f"msg_{n}_{len(server.side_requests)}", "type": "message", "role": "assistant",
                           "model": body.get("model") or MODEL, "content": [], "stop_reason": None,
                           "stop_sequence": None, "usage": {**server.usage, "output_tokens": 1}}
                if not body.get("stream"):
                    done = {**message, "content": blocks, "stop_reason": stop, "usage": server.usage}
                    return self._send(200, json.dumps(done).encode())
                chunks = [_sse("message_start", {"message": message})]
                for index, block in enumerate(blocks):
                    if block["type"] == "text":
                        chunks.append(_sse("content_block_start", {"index": index,
                                                                   "content_block": {"type": "text", "text": ""}}))
                        chunks.append(_sse("content_block_delta", {"index": index, "delta": {
                            "type": "text_delta", "text": block["text"]}}))
                    else:
                        start = {**block, "input": {}}
                        chunks.append(_sse("content_block_start", {"index": index, "content_block": start}))
                        chunks.append(_sse("content_block_delta", {"index": index, "delta": {
                            "type": "input_json_delta", "partial_json": json.dumps(block["input"])}}))
                    chunks.append(_sse("content_block_stop", {"index": index}))
                chunks.append(_sse("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                                     "usage": {"output_tokens": server.usage["output_tokens"]}}))
                chunks.append(_sse("message_stop", {}))
                self._send(200, b"".join(chunks), "text/event-stream")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

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

    def tools(self, n: int = 0) -> list[str]:
        """The tool names the agent offered in its n-th loop request."""
        return [t.get("name") for t in self.requests[n]["body"].get("tools") or []]

    def prompt(self, n: int = 0) -> str:
        """The text of the first user message of the n-th loop request (Claude Code puts context blocks first)."""
        content = self.requests[n]["body"]["messages"][0]["content"]
        if isinstance(content, str):
            return content
        return "\n".join(block.get("text", "") for block in content if block.get("type") == "text")

    def output_of(self, tool_use_id: str):
        """What Claude Code sent back for one tool call (text), or None if it never came."""
        for request in self.requests:
            for message in request["body"].get("messages") or []:
                content = message.get("content")
                for block in content if isinstance(content, list) else []:
                    if block.get("type") == "tool_result" and block.get("tool_use_id") == tool_use_id:
                        inner = block.get("content")
                        if isinstance(inner, list):
                            return "\n".join(part.get("text", "") for part in inner)
                        return inner
        return None


def claude_env(home, url: str, path: str | None = None) -> dict:
    """The minimal environment for `claude -p` in tests: its own HOME and CLAUDE_CONFIG_DIR, a fake key, the
    scripted server as ANTHROPIC_BASE_URL, and no nonessential traffic."""
    import os

    return {"PATH": path or os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(home / ".claude"), "ANTHROPIC_API_KEY": "sk-ant-test-not-a-key",
            "ANTHROPIC_BASE_URL": url, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "LANG": "C.UTF-8"}
