#!/usr/bin/env python3
"""A scripted reviewer process: fake_reviewer.py --mode approve|request-changes|malformed|write-workspace.

It reads the review prompt on stdin (like any agent) and writes its verdict to
$CODEX_ORCHESTRATOR_REPORT_FILE; `--prompt-copy FILE` keeps the prompt for the test,
`--role-copy FILE` the $CODEX_ORCHESTRATOR_ROLE it was given.
"""

import json
import os
import sys
from pathlib import Path


def main() -> int:
    mode = sys.argv[sys.argv.index("--mode") + 1]
    prompt = sys.stdin.read()
    if "--prompt-copy" in sys.argv:
        Path(sys.argv[sys.argv.index("--prompt-copy") + 1]).write_text(prompt)
    if "--role-copy" in sys.argv:
        Path(sys.argv[sys.argv.index("--role-copy") + 1]).write_text(os.environ.get("CODEX_ORCHESTRATOR_ROLE", ""))
    out = Path(os.environ["CODEX_ORCHESTRATOR_REPORT_FILE"])
    if mode == "approve":
        out.write_text(json.dumps({"verdict": "approve", "summary": "Looks right.", "findings": []}))
    elif mode == "request-changes":
        out.write_text(json.dumps({"verdict": "request-changes", "summary": "multiply ignores floats",
                                   "findings": [{"file": "app/calc.py", "line": 5, "severity": "major",
                                                 "message": "multiply(0.5, 2) is untested"}]}))
    elif mode == "malformed":
        out.write_text(json.dumps({"verdict": "maybe", "summary": "?"}))
    elif mode == "write-workspace":
        Path("sneaky.txt").write_text("I changed the code under review\n")
        out.write_text(json.dumps({"verdict": "approve", "summary": "fine", "findings": []}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
