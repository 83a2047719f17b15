#!/usr/bin/env python3
"""A scripted agent of known quality for cxo-eval's tests: eval_agent.py --mode MODE [--sleep S]
[--pause-once K MARKER].

It reads the issue from the prompt on stdin ("fn_K should return x + K") and, in the work tree:
  right    fixes app/m_K.py and adds its own test                  (resolves the task)
  overfit  special-cases its own test's input, adds that test      (passes its test, fails the hidden one)
  breaker  fixes app/m_K.py, adds a test, and breaks app/base.py   (breaks existing tests)
  lazy     fixes app/m_K.py and adds no test                       (right, but the tdd gate blocks it)
  coin:P   right with probability P per task and attempt (a seed of K and $CXO_ATTEMPT), else breaker
           (the best-of-N bench: known success probability)
It prints one JSON usage line (1,000 input, 200 output tokens) and writes a completion report.
"""

import json
import os
import re
import sys
import time
from pathlib import Path


def main() -> int:
    mode = sys.argv[sys.argv.index("--mode") + 1]
    if "--sleep" in sys.argv:
        time.sleep(float(sys.argv[sys.argv.index("--sleep") + 1]))
    k = int(re.search(r"fn_(\d+) should return x \+ (\d+)", sys.stdin.read()).group(1))
    if mode.startswith("coin:"):
        import hashlib

        seed = f"coin:{k}:{os.environ.get('CXO_ATTEMPT', '1')}".encode()
        draw = int(hashlib.sha256(seed).hexdigest()[:8], 16) / 2 ** 32
        mode = "right" if draw < float(mode.split(":", 1)[1]) else "breaker"
    if "--pause-once" in sys.argv:  # --pause-once K MARKER: on task K, the first time, say so and wait a minute
        at = sys.argv.index("--pause-once")
        marker = Path(sys.argv[at + 2])
        if int(sys.argv[at + 1]) == k and not marker.exists():
            marker.write_text("paused")
            time.sleep(60)
    module, test = Path(f"app/m_{k}.py"), Path(f"tests/test_agent_m_{k}.py")
    if mode == "overfit":
        module.write_text(f"def fn_{k}(x):\n    return x + {k} if x == 3 else x\n")
    else:
        module.write_text(f"def fn_{k}(x):\n    return x + {k}\n")
    if mode != "lazy":
        test.write_text(f"from app.m_{k} import fn_{k}\n\n\ndef test_fn_{k}_three():\n"
                        f"    assert fn_{k}(3) == {3 + k}\n")
    if mode == "breaker":
        Path("app/base.py").write_text("def double(x):\n    return 3 * x\n")
    changes = [str(module)] + ([str(test)] if mode != "lazy" else []) + (["app/base.py"] if mode == "breaker" else [])
    print(json.dumps({"type": "turn.completed", "usage": {"input_tokens": 1000, "cached_input_tokens": 0,
                                                          "output_tokens": 200}}), flush=True)
    Path(os.environ["CODEX_ORCHESTRATOR_REPORT_FILE"]).write_text(json.dumps({
        "status": "completed", "summary": f"Fixed fn_{k}.", "changes": changes,
        "validation": [{"name": "pytest", "command": "pytest -q", "status": "passed"}],
        "artifacts": [], "skippedChecks": [], "residualRisks": [], "prohibitedActions": []}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
