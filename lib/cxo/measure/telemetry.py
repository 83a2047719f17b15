"""OpenTelemetry traces of cxo's runs: one trace per run (`cxo.run`), a span per pipeline step
(`cxo.step.<name>`), per review gate (`cxo.gate.<name>`) and per agent call (`cxo.agent`), with the issue, the run
id, the verdict, tokens and cost as attributes.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set and the `otel` extra is
installed: otherwise every hook is a no-op and OpenTelemetry is never imported. Spans are exported over OTLP/HTTP
(the exporter reads the standard OTEL_* variables) when a run ends and when the process exits. Attributes are
runner facts only (numbers, names, verdicts), strings redacted (lib/cxo/redact.py): never the agent's output, a
prompt, a token or an environment value.

The hooks in shared code are one context manager each: `run(lambda: env)` around a pipeline call, `span(name,
**attributes)` around a step, gate or agent call. An attribute given as a callable is read when the span ends
(`env=lambda: env` gives the envelope's issue, run id, outcome and tokens; `usage=meter.usage` the tokens;
`policy=` the prices for the cost).
"""

from __future__ import annotations

import atexit
import os
from contextlib import contextmanager

ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_state: dict = {"tracer": None, "provider": None, "unavailable": False}
_runs: dict = {}  # run id -> its open cxo.run span (a run spans several pipeline calls in one process)


def enabled() -> bool:
    return any(os.environ.get(name) for name in ENDPOINTS)


def _tracer():
    if not enabled() or _state["unavailable"]:
        return None
    if _state["tracer"] is None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError:  # the otel extra is not installed: no traces, and no error for the run
            _state["unavailable"] = True
            return None
        provider = TracerProvider(resource=Resource.create({"service.name": "cxo"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        _state["provider"], _state["tracer"] = provider, provider.get_tracer("cxo")
        atexit.register(provider.shutdown)
        atexit.register(_end_open_runs)  # runs first (last registered): open runs end, then the flush
    return _state["tracer"]


def _end_open_runs() -> None:
    for span in list(_runs.values()):
        span.end()
    _runs.clear()


def _clean(value):
    from ..redact import redact

    if isinstance(value, bool | int | float):
        return value
    return redact(str(value))[:300]


def _cost(policy, figures: dict):
    prices = policy["runner"].get("prices") if policy is not None else None
    if not prices or not figures:
        return None
    from .spend import cost

    return round(cost(prices, figures), 6)


def _usage_attrs(figures: dict | None, policy) -> dict:
    if not figures:
        return {}
    out = {f"cxo.tokens.{key.removesuffix('_tokens')}": int(figures.get(key) or 0)
           for key in ("input_tokens", "cached_input_tokens", "output_tokens", "total_tokens")}
    price = _cost(policy, figures)
    if price is not None:
        out["cxo.cost"] = price
    return out


def _env_attrs(env: dict, policy) -> dict:
    out = {"cxo.run_id": env.get("run_id"), "cxo.issue": (env.get("issue") or {}).get("number")}
    blocked = env.get("blocked")
    if blocked:
        out.update({"cxo.verdict": "blocked", "cxo.blocked.step": blocked.get("step")})
    elif "gate" in env:
        out["cxo.verdict"] = "pass" if (env.get("gate") or {}).get("passed") else "no-change"
    if (env.get("publish") or {}).get("outcome"):
        out["cxo.outcome"] = env["publish"]["outcome"]
    out.update(_usage_attrs((env.get("codex") or {}).get("usage"), policy))
    return out


def _attributes(attrs: dict, policy) -> dict:
    out: dict = {}
    for key, value in attrs.items():
        if callable(value):
            try:
                value = value()
            except Exception:  # a value the failed block never made: left out
                continue
        if key == "env" and isinstance(value, dict):
            out.update(_env_attrs(value, policy))
        elif key == "usage" and isinstance(value, dict):
            out.update(_usage_attrs(value, policy))
        elif value is not None:
            out[f"cxo.{key}"] = value
    return {k: _clean(v) for k, v in out.items() if v is not None}


def _over(env: dict) -> bool:
    return "publish" in (env.get("steps_done") or []) or "claim" not in env


@contextmanager
def run(env_of, policy=None):
    """The run's root span around a pipeline call: opened by the run's first call, ended by the call that
    publishes it (or refuses it before a claim), or at exit."""
    tracer = _tracer()
    if tracer is None:
        yield
        return
    from opentelemetry import context, trace

    env = env_of()
    run_id = env.get("run_id")
    span = _runs.get(run_id)
    if span is None:
        span = _runs[run_id] = tracer.start_span("cxo.run", attributes=_attributes({"env": env}, policy))
    token = context.attach(trace.set_span_in_context(span))
    failed = True
    try:
        yield
        failed = False
    finally:
        context.detach(token)
        env = env_of()
        span.set_attributes(_attributes({"env": env}, policy))
        if failed or _over(env):
            if failed:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            span.end()
            _runs.pop(run_id, None)
            _state["provider"].force_flush()


@contextmanager
def span(name: str, policy=None, **attrs):
    """A child span of the current one; callable attributes are read when it ends."""
    tracer = _tracer()
    if tracer is None:
        yield
        return
    now = {k: v for k, v in attrs.items() if not callable(v)}
    with tracer.start_as_current_span(name, attributes=_attributes(now, policy)) as current:
        yield
        current.set_attributes(_attributes({k: v for k, v in attrs.items() if callable(v)}, policy))
