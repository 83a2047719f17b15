"""The gate protocol: every gate is a class with `name`, `applies(ctx)` and `run(ctx)`.

A gate returns a verdict (schema/gate-verdict.schema.json). `run_gates` runs the
policy's gate order, records skipped gates with their reason, validates each
verdict, and turns a crashing gate into a `fail` verdict so the others still run.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..gitutil import ChangeSet
from ..measure import telemetry


@dataclass
class GateContext:
    worktree: Path
    base: str
    head: str | None  # None: the working tree, uncommitted changes included
    policy: object
    changes: ChangeSet
    run_dir: Path
    report: dict | None = None
    issue: dict | None = None  # {"number", "title", "labels"}
    say: object = print
    envelope: dict | None = None
    verdicts: list = field(default_factory=list)  # the verdicts of the gates that ran before


def verdict(gate: str, result: str, summary: str, evidence=None, findings=None, logs=None) -> dict:
    return {"gate": gate, "verdict": result, "summary": summary, "evidence": evidence or [],
            "findings": findings or [], "logs": [str(p) for p in (logs or [])]}


class Gate:
    name = "gate"

    def applies(self, ctx: GateContext) -> tuple[bool, str]:
        return True, ""

    def run(self, ctx: GateContext) -> dict:  # pragma: no cover - every gate overrides it
        raise NotImplementedError


def run_one(gate: Gate, ctx: GateContext) -> dict:
    from ..schemas import errors as schema_errors

    started = time.monotonic()
    try:
        applies, why = gate.applies(ctx)
        result = gate.run(ctx) if applies else verdict(gate.name, "skip", why or "does not apply")
    except Exception as exc:  # a broken gate fails itself, never the whole gate run
        result = verdict(gate.name, "fail", f"gate crashed: {type(exc).__name__}: {exc}")
    result["duration_seconds"] = round(time.monotonic() - started, 3)
    problems = schema_errors("gate-verdict", result)
    if problems:
        result = verdict(gate.name, "fail", f"gate returned an invalid verdict: {problems[0]}")
    return result


def run_gates(ctx: GateContext, names: list[str]) -> list[dict]:
    from . import load

    results = []
    for name in names:
        gate = load(name)
        ctx.say(f"gate {name}: running")
        with telemetry.span(f"cxo.gate.{name}", gate=name, verdict=lambda: result["verdict"]):  # noqa: B023 (read at its end)
            result = run_one(gate, ctx) if gate else verdict(name, "skip", "not available in this version")
        ctx.say(f"gate {name}: {result['verdict']} - {result['summary']}")
        results.append(result)
        ctx.verdicts = results
    return results
