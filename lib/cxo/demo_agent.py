"""The agent `make demo` runs: a small deterministic program in the place of Codex.

It is run through the same command adapter as any agent (`codex.command` +
`codex.args`), reads the prompt on stdin like Codex does, makes a real
test-first change in the sample project and writes the completion report.
"""

import json
import os
import sys
from pathlib import Path

TEST = '''import unittest

from calc.ops import multiply


class MultiplyTest(unittest.TestCase):
    def test_multiply(self):
        self.assertEqual(multiply(6, 7), 42)
        self.assertEqual(multiply(-2, 3), -6)
'''

FUNCTION = '''

def multiply(a, b):
    """The product of a and b."""
    return a * b
'''


POWER_TEST = '''import unittest

from calc.power import power


class PowerTest(unittest.TestCase):
    def test_power(self):
        self.assertEqual(power(2, 10), 1024)
        self.assertEqual(power(5, 0), 1)
'''

POWER = '''from calc.ops import multiply


def power(base, exponent):
    """base ** exponent for a whole exponent >= 0, by repeated multiply."""
    result = 1
    for _ in range(exponent):
        result = multiply(result, base)
    return result
'''

PLAN = {
    "parent": {"title": "A calculator with powers",
               "body": "## Goal\nThe calculator gains multiply and power.\n\n## Acceptance\n"
                       "- multiply(6, 7) == 42\n- power(2, 10) == 1024, built on multiply"},
    "graph": {"nodes": [
        {"stableId": "multiply", "title": "Add multiply to calc.ops", "body": "Add multiply(a, b) with a test.",
         "afkHitl": "afk", "ownershipScope": ["calc/ops.py", "tests/test_multiply.py"], "dependsOn": [],
         "verification": ["python -m unittest"]},
        {"stableId": "power", "title": "Add calc.power.power", "body": "Add power(base, exponent) using multiply.",
         "afkHitl": "afk", "ownershipScope": ["calc/power.py", "tests/test_power.py"], "dependsOn": ["multiply"],
         "verification": ["python -m unittest"]},
    ], "edges": [{"from": "multiply", "to": "power", "reason": "power multiplies"}], "specGate": "wave-level"},
}


def review() -> int:
    """The demo's reviewer: approves when the diff it was shown adds a function and a test for it."""
    prompt = sys.stdin.read()
    ok = "+def " in prompt and "+class " in prompt and "test_" in prompt
    verdict = {"verdict": "approve" if ok else "request-changes",
               "summary": "multiply is implemented and tested" if ok else "the diff lacks multiply or its test",
               "findings": [] if ok else [{"file": "calc/ops.py", "line": 1, "severity": "major",
                                           "message": "expected multiply(a, b) with a test"}]}
    Path(os.environ["CODEX_ORCHESTRATOR_REPORT_FILE"]).write_text(json.dumps(verdict))
    print(f"demo reviewer: {verdict['verdict']}", flush=True)
    return 0


def main() -> int:
    if "--review" in sys.argv:
        return review()
    prompt = sys.stdin.read()
    print(f"demo agent: read a prompt of {len(prompt)} characters", flush=True)
    if os.environ.get("CODEX_ORCHESTRATOR_ROLE") == "plan":  # make demo-tree: the planner, read-only
        Path(os.environ["CODEX_ORCHESTRATOR_REPORT_FILE"]).write_text(json.dumps(PLAN, indent=2))
        print("demo agent: planned two children (multiply, then power)", flush=True)
        return 0
    if "Stable ID: power" in prompt:
        Path("tests/test_power.py").write_text(POWER_TEST)
        Path("calc/power.py").write_text(POWER)
        return finish("Added `calc.power.power` on top of multiply, test first.", ["calc/power.py",
                                                                                  "tests/test_power.py"])
    Path("tests/test_multiply.py").write_text(TEST)
    ops = Path("calc/ops.py")
    ops.write_text(ops.read_text() + FUNCTION)
    print("demo agent: added calc.ops.multiply and its test", flush=True)
    return finish("Added `calc.ops.multiply` with a focused test written first.", ["calc/ops.py",
                                                                                  "tests/test_multiply.py"])


def finish(summary: str, paths: list[str]) -> int:
    report = {
        "status": "completed",
        "summary": summary,
        "changes": [{"path": path, "description": "changed by the demo agent"} for path in paths],
        "validation": [
            {"name": "unittest", "command": "python -m unittest", "status": "passed",
             "details": "the new test failed before the change and passes after it"},
        ],
        "artifacts": [],
        "skippedChecks": [],
        "residualRisks": ["None known: the change is one pure function."],
        "prohibitedActions": [],
    }
    Path(os.environ["CODEX_ORCHESTRATOR_REPORT_FILE"]).write_text(json.dumps(report, indent=2))
    print("demo agent: wrote the completion report", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
