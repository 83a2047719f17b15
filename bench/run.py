#!/usr/bin/env python3
"""`make bench`: cxo's speed and request-count targets, measured (never asserted by tests).

Each bench/bench_*.py module has `TITLE` and `run(ctx) -> list[dict]`, rows of
{"what", "value", "unit", "target"}; this script runs them in name order and
prints one table. `make bench ARGS="cold_start"` runs only the named modules.
"""

import importlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Context:
    def __init__(self, root: Path, work: Path):
        self.root = root
        self.work = work
        self.bin = root / ".venv" / "bin"


def fmt(row: dict) -> str:
    value = row["value"]
    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
    target = row.get("target", "")
    verdict = ""
    if isinstance(target, int | float) and isinstance(value, int | float):
        verdict = "ok" if value <= target else "OVER"
        target = f"<= {target}"
    return f"  {row['what']:<58} {shown:>10} {row.get('unit', ''):<9} {str(target):<10} {verdict}"


def main(argv: list[str]) -> int:
    wanted = set(argv)
    modules = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    over = 0
    # cxo's byte code, as a pip install (the Actions workflow's) leaves it: an editable install under
    # PYTHONDONTWRITEBYTECODE=1 would compile every module in every process, which no deployment does.
    import compileall

    compileall.compile_dir(str(ROOT / "lib"), quiet=1)
    with tempfile.TemporaryDirectory(prefix="cxo-bench-") as tmp:
        ctx = Context(ROOT, Path(tmp))
        for name in modules:
            if wanted and name.removeprefix("bench_") not in wanted and name not in wanted:
                continue
            module = importlib.import_module(f"bench.{name}")
            print(f"\n{module.TITLE}", flush=True)
            started = time.perf_counter()
            try:
                rows = module.run(ctx)
            except Exception as exc:  # a broken benchmark is reported, the others still run
                print(f"  failed: {type(exc).__name__}: {exc}")
                over += 1
                continue
            for row in rows:
                print(fmt(row), flush=True)
                target = row.get("target")
                if isinstance(target, int | float) and not (isinstance(row["value"], int | float)
                                                            and row["value"] <= target):
                    over += 1
            print(f"  ({time.perf_counter() - started:.1f} s)")
    print(f"\n{over} measurement(s) over target" if over else "\nall measurements within target")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
