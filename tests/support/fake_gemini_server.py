"""A scripted model server on 127.0.0.1 that speaks the Gemini API (`streamGenerateContent?alt=sse`) the way the
Gemini CLI (`gemini -p`) uses it. Stdlib only; see docs/gemini-cli.md for the protocol facts this relies on.

Point the Gemini CLI at it with GOOGLE_GEMINI_BASE_URL=server.url (and any GEMINI_API_KEY). Each POST to
`/v1beta/models/<model>:streamGenerateContent` that offers tools (the agent's loop) is answered with the next
turn of the script, as one SSE chunk whose candidate's parts are the turn's actions:

- `{"shell": "command line"}`: a `functionCall` of `run_shell_command`;
- `{"write": ["path", "content"]}`: a `functionCall` of `write_file`;
- `{"tool": "name", "args": {...}}`: any other function;
- `{"write_report": "content"}`: `write_file` on the report path the prompt names, for a role whose shell is
  denied (a reviewer);
- `{"message": "text"}`: a text part; a turn without function calls ends the agent's turn.

A turn may also be a function of the server that returns the actions (for a turn that needs an earlier tool
result).

The CLI sends the function results back in the next POST as `functionResponse` parts; `server.output_of(name, n)`
finds the n-th one of a function. Any other POST (`:generateContent` side requests: routing, next-speaker
checks; `:countTokens`) is answered with a short JSON text and uses no turn of the script. Every streamed
response reports `usageMetadata` (`usage=`: promptTokenCount, candidatesTokenCount, cachedContentTokenCount;
default 1 and 1). Once the script is used up the server answers `{"message": "done"}`. `fail_status=500` makes
every POST fail with that status.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.fake_anthropic_server import report_path_in

MODEL = "gemini-2.5-pro"


def _part(action: dict) -> dict:
    if "shell" in action:
        return {"functionCall": {"name": "run_shell_command", "args": {"command": action["shell"],
                                                                       "description": "scripted command"}}}
    if "write" in action:
        path, content = action["write"]
        return {"functionCall": {"name": "write_file", "args": {"file_path": path, "content": content}}}
    if "tool" in action:
        return {"functionCall": {"name": action["tool"], "args": action["args"]}}
    return {"text": action["message"]}


class ScriptedGeminiServer:
    def __init__(self, script: list[list[dict]], usage: dict | None = None, fail_status: int | None = None):
        self.script = list(script)
        self.usage = {"promptTokenCount": 1, "candidatesTokenCount": 1, "cachedContentTokenCount": 0,
                      **(usage or {})}
        self.fail_status = fail_status
        self.requests: list[dict] = []  # the agent loop's POSTs: {"path", "headers", "body"}
        self.side_requests: list[dict] = []  # every other POST
        self.other_requests: list[dict] = []  # GETs and the like: {"method", "path"}
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

            def do_GET(self):
                server.other_requests.append({"method": "GET", "path": self.path})
                self._send(404, b'{"error": {"code": 404, "message": "no such path", "status": "NOT_FOUND"}}')

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                record = {"path": self.path, "headers": dict(self.headers), "body": body}
                if server.fail_status:
                    with server._lock:
                        server.requests.append(record)
                    return self._send(server.fail_status, json.dumps({"error": {
                        "code": server.fail_status, "message": "scripted failure", "status": "INTERNAL"}}).encode())
                path = self.path.split("?")[0]
                looping = path.endswith(":streamGenerateContent") and bool(body.get("tools"))
                usage = {**server.usage, "totalTokenCount": server.usage["promptTokenCount"]
                         + server.usage["candidatesTokenCount"]}
                if path.endswith(":countTokens"):
                    server.side_requests.append(record)
                    return self._send(200, b'{"totalTokens": 1}')
                with server._lock:
                    (server.requests if looping else server.side_requests).append(record)
                    turn = (server.script.pop(0) if server.script else [{"message": "done"}]) if looping else \
                        [{"message": json.dumps({"reasoning": "scripted", "next_speaker": "user",
                                                 "model_choice": "flash", "complexity_score": 1})}]
                turn = turn(server) if callable(turn) else turn
                if looping:
                    text = "\n".join(part.get("text", "") for content in body.get("contents") or []
                                     for part in content.get("parts") or [])
                    turn = [{"write": [report_path_in(text), a["write_report"]]} if "write_report" in a else a
                            for a in turn]
                answer = {"candidates": [{"content": {"role": "model", "parts": [_part(a) for a in turn]},
                                          "finishReason": "STOP", "index": 0}],
                          "usageMetadata": usage, "modelVersion": MODEL}
                if path.endswith(":streamGenerateContent"):
                    self._send(200, f"data: {json.dumps(answer)}\r\n\r\n".encode(), "text/event-stream")
                else:
                    self._send(200, json.dumps(answer).encode())

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
        """The function names the CLI offered in its n-th loop request."""
        return [d.get("name") for tool in self.requests[n]["body"].get("tools") or []
                for d in tool.get("functionDeclarations") or []]

    def prompt(self, n: int = 0) -> str:
        """All user text of the n-th loop request (the CLI puts its session context first)."""
        return "\n".join(part.get("text", "") for content in self.requests[n]["body"].get("contents") or []
                         if content.get("role") == "user" for part in content.get("parts") or [])

    def output_of(self, name: str, index: int = 0):
        """The response the CLI sent back for the index-th call of function `name`, or None."""
        seen = []
        for content in (self.requests[-1]["body"].get("contents") or []) if self.requests else []:
            for part in content.get("parts") or []:
                response = part.get("functionResponse")
                if response and response.get("name") == name:
                    seen.append(response.get("response"))
        return seen[index] if len(seen) > index else None


def gemini_env(home, url: str, path: str | None = None) -> dict:
    """The minimal environment for `gemini -p` in tests: its own HOME and GEMINI_CLI_HOME, a fake key and the
    scripted server as GOOGLE_GEMINI_BASE_URL. The settings cxo writes into that home come from the adapter."""
    import os

    return {"PATH": path or os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": str(home),
            "GEMINI_CLI_HOME": str(home), "GEMINI_API_KEY": "gemini-test-not-a-key", "GOOGLE_GEMINI_BASE_URL": url,
            "LANG": "C.UTF-8"}
