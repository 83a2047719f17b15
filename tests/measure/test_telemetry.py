"""OpenTelemetry end to end: a real issue runs through the real pipeline with OTEL_EXPORTER_OTLP_ENDPOINT pointing
at a collector in this test (plain HTTP, /v1/traces), which decodes what arrives as OTLP protobuf
(ExportTraceServiceRequest): one trace, a span per step, per gate and per agent call, with the issue, run id,
verdict, tokens and cost, and no secret anywhere. Without the variable nothing is sent and OpenTelemetry is never
imported."""

import gzip
import http.server
import json
import subprocess
import sys
import threading
import zlib

import pytest

from cxo.measure import telemetry
from cxo.runner import run_issue
from tests.e2e.test_run_auto import CHANGE, open_issue
from tests.support.git_fixtures import GOOD_REPORT, scripted_agent

SECRET = "sk-otel-SECRET-4c1d9e77"
PRICES = {"input": 2.0, "output": 8.0}
SPEND = {"stdout": json.dumps({"type": "turn.completed", "usage": {"input_tokens": 1000, "cached_input_tokens": 0,
                                                                   "output_tokens": 200}})}


class Collector(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        body = gzip.decompress(body) if encoding == "gzip" else zlib.decompress(body) if encoding == "deflate" \
            else body
        self.server.received.append((self.path, self.headers.get("Content-Type"), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def collector(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    server.received = []
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    # A tracer of this test's own (the process may have made none or another): fresh state, then none again.
    monkeypatch.setattr(telemetry, "_state", {"tracer": None, "provider": None, "unavailable": False})
    monkeypatch.setattr(telemetry, "_runs", {})
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    yield server
    server.shutdown()
    server.server_close()


def value(any_value):
    return getattr(any_value, any_value.WhichOneof("value"))


def decoded(received):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    spans = []
    for path, content_type, body in received:
        assert path == "/v1/traces" and content_type == "application/x-protobuf"
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                spans += [{"name": s.name, "trace": s.trace_id.hex(), "id": s.span_id.hex(),
                           "parent": s.parent_span_id.hex(), "attrs": {a.key: value(a.value) for a in s.attributes}}
                          for s in scope.spans]
    return spans


def test_a_run_is_one_trace_with_a_span_per_step_gate_and_agent_call(target_repo, hub_repo, tmp_path, collector):
    scripted_agent(target_repo, tmp_path, [CHANGE, SPEND, {"report": GOOD_REPORT}],
                   extra_policy={"runner": {"prices": PRICES}})
    number = open_issue(hub_repo)["number"]
    env = run_issue(target_repo, number)
    assert env["publish"]["outcome"] == "review"

    assert collector.received, "no trace reached the collector"
    raw = b"".join(body for _, _, body in collector.received)
    assert SECRET.encode() not in raw and hub_repo.token.encode() not in raw
    spans = decoded(collector.received)
    assert len({s["trace"] for s in spans}) == 1
    by_name = {s["name"]: s for s in spans}
    gates = [v["gate"] for v in env["gate"]["verdicts"]]
    assert sorted(by_name) == sorted(["cxo.run", "cxo.agent"] + [f"cxo.step.{s}" for s in (
        "claim", "worktree", "codex", "gate", "publish")] + [f"cxo.gate.{g}" for g in gates])
    assert len(spans) == len(by_name)  # each once
    run = by_name["cxo.run"]
    assert run["parent"] == ""
    assert all(by_name[f"cxo.step.{s}"]["parent"] == run["id"] for s in ("claim", "worktree", "codex", "gate",
                                                                          "publish"))
    assert by_name["cxo.agent"]["parent"] == by_name["cxo.step.codex"]["id"]
    assert all(by_name[f"cxo.gate.{g}"]["parent"] == by_name["cxo.step.gate"]["id"] for g in gates)
    cost = round((1000 * 2.0 + 200 * 8.0) / 1e6, 6)
    assert run["attrs"]["cxo.issue"] == number and run["attrs"]["cxo.run_id"] == env["run_id"]
    assert run["attrs"]["cxo.verdict"] == "pass" and run["attrs"]["cxo.outcome"] == "review"
    assert run["attrs"]["cxo.tokens.total"] == 1200 and run["attrs"]["cxo.cost"] == cost
    agent = by_name["cxo.agent"]["attrs"]
    assert (agent["cxo.role"], agent["cxo.issue"], agent["cxo.run_id"]) == ("implement", number, env["run_id"])
    assert (agent["cxo.tokens.input"], agent["cxo.tokens.output"], agent["cxo.cost"]) == (1000, 200, cost)
    for v in env["gate"]["verdicts"]:
        assert by_name[f"cxo.gate.{v['gate']}"]["attrs"] == {"cxo.gate": v["gate"], "cxo.verdict": v["verdict"]}
    assert by_name["cxo.step.claim"]["attrs"]["cxo.step"] == "claim"
    every = [str(v) for s in spans for v in s["attrs"].values()]
    assert not [v for v in every if SECRET in v or hub_repo.token in v or "/home/" in v]


def test_without_the_endpoint_nothing_is_sent_and_opentelemetry_is_not_imported(target_repo, tmp_path):
    code = ("import sys, cxo.pipeline, cxo.steps.codex, cxo.gates.base\n"
            "from cxo.measure import telemetry\n"
            "with telemetry.run(lambda: {'run_id': 'r', 'issue': {'number': 1}}):\n"
            "    with telemetry.span('cxo.step.claim', step='claim'):\n"
            "        pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


def test_a_best_of_n_runs_attempts_are_spans_of_the_same_trace(target_repo, hub_repo, tmp_path, collector):
    # Attempts run in worker threads: they must still be children of the run's trace, not traces of their own.
    scripted_agent(target_repo, tmp_path, [CHANGE, SPEND, {"report": GOOD_REPORT}],
                   extra_policy={"runner": {"prices": PRICES}, "agent": {"attempts": 2}})
    env = run_issue(target_repo, open_issue(hub_repo)["number"])
    assert env["publish"]["outcome"] == "review" and len(env["attempts"]["items"]) == 2
    spans = decoded(collector.received)
    assert len({s["trace"] for s in spans}) == 1
    ids = {s["id"] for s in spans}
    agents = [s for s in spans if s["name"] == "cxo.agent"]
    assert len(agents) == 2 and all(s["parent"] in ids for s in agents)
