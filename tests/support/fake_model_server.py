"""A scripted model server on 127.0.0.1 that speaks the Responses API (SSE) the way `codex exec` uses it.

Each POST to /v1/responses is answered with the next turn of the script. A turn
is a list of actions: {"shell": "command line"} asks the agent to run a shell
command through whichever shell tool the request offers; {"message": "text"}
is the assistant's final answer. The server records every request body.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SHELL_TOOLS = ("shell_command", "shell", "exec_command", "local_shell")


def _tool_names(body: dict) -> list[str]:
    names = []
    for tool in body.get("tools") or []:
        names.append(tool.get("name") or (tool.get("function") or {}).get("name") or tool.get("type"))
    return [n for n in names if n]


def _shell_call(tools: list[str], command: str, call_id: str) -> dict:
    name = next((n for n in SHELL_TOOLS if n in tools), "shell")
    if name == "shell":
        args = {"command": ["bash", "-lc", command]}
    elif name == "exec_command":
        args = {"cmd": command}
    else:
        args = {"command": command}
    if name == "local_shell":
        return {"type": "local_shell_call", "call_id": call_id, "status": "completed",
                "action": {"type": "exec", "command": ["bash", "-lc", command]}}
    return {"type": "function_call", "name": name, "arguments": json.dumps(args), "call_id": call_id}


def _event(kind: str, data: dict) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


class ScriptedModelServer:
    def __init__(self, script: list[list[dict]], fail_status: int | None = None):
        self.script = list(script)
        self.fail_status = fail_status
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                payload = json.dumps({"object": "list", "data": [], "models": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode(errors="replace")}
                server.requests.append({"path": self.path, "body": body})
                if server.fail_status:
                    payload = b'{"error": {"message": "scripted failure"}}'
                    self.send_response(server.fail_status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                turn = server.script.pop(0) if server.script else [{"message": "done"}]
                n = len(server.requests)
                chunks = [_event("response.created", {"response": {"id": f"resp_{n}"}})]
                for i, action in enumerate(turn):
                    if "shell" in action:
                        item = _shell_call(_tool_names(body), action["shell"], f"call_{n}_{i}")
                    else:
                        item = {"type": "message", "role": "assistant", "id": f"msg_{n}_{i}",
                                "content": [{"type": "output_text", "text": action["message"]}]}
                    chunks.append(_event("response.output_item.done", {"item": item}))
                chunks.append(_event("response.completed", {"response": {
                    "id": f"resp_{n}", "usage": {"input_tokens": 1, "input_tokens_details": None,
                                                 "output_tokens": 1, "output_tokens_details": None,
                                                 "total_tokens": 2}}}))
                payload = b"".join(chunks)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def codex_provider_args(url: str) -> list[str]:
    """`-c` overrides that point `codex exec` at the scripted server, with no real credential."""
    return ["-c", 'model_provider="cxo_scripted"',
            "-c", 'model_providers.cxo_scripted.name="cxo scripted"',
            "-c", f'model_providers.cxo_scripted.base_url="{url}"',
            "-c", 'model_providers.cxo_scripted.wire_api="responses"',
            "-c", "model_providers.cxo_scripted.request_max_retries=0",
            "-c", "model_providers.cxo_scripted.stream_max_retries=0",
            "-c", 'model="scripted-model"']
