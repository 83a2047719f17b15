"""Gate registry: name -> "module:Class", imported only when the gate runs."""

import importlib

REGISTRY = {
    "safety": "cxo.gates.safety:SafetyGate",
    "report": "cxo.gates.report:ReportGate",
    "checks": "cxo.gates.checks:ChecksGate",
    "tdd": "cxo.gates.tdd:TddGate",
    "review": "cxo.gates.review:ReviewGate",
    "cleanup": "cxo.gates.cleanup:CleanupGate",
    "visual": "cxo.gates.visual:VisualGate",
}
# Gates the policy may name that this version does not implement yet: they skip, never pass.
KNOWN = ("safety", "report", "checks", "tdd", "review", "cleanup", "visual")


def names() -> list[str]:
    return list(REGISTRY)


def load(name: str):
    spec = REGISTRY.get(name)
    if spec is None:
        return None
    module, _, cls = spec.partition(":")
    return getattr(importlib.import_module(module), cls)()
