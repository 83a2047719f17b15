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


def review() -> int:
    """The demo's reviewer: approves when the diff it was shown adds multiply and a test for it."""
    prompt = sys.stdin.read()
    ok = "+def multiply(a, b):" in prompt and "test_multiply" in prompt
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
    Path("tests/test_multiply.py").write_text(TEST)
    ops = Path("calc/ops.py")
    ops.write_text(ops.read_text() + FUNCTION)
    print("demo agent: added calc.ops.multiply and its test", flush=True)
    report = {
        "status": "completed",
        "summary": "Added `calc.ops.multiply` with a focused test written first.",
        "changes": [
            {"path": "calc/ops.py", "description": "new multiply(a, b)"},
            {"path": "tests/test_multiply.py", "description": "test for multiply"},
        ],
        "validation": [
            {"name": "unittest", "command": "python -m unittest", "status": "passed",
             "details": "test_multiply failed before the change and passes after it"},
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
