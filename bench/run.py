#!/usr/bin/env python3
"""`make bench`: cxo's speed and request-count targets, measured (never asserted by tests).

Each bench/bench_*.py module has `TITLE` and `run(ctx) -> list[dict]`, rows of
{"what", "value", "unit", "target"}; this script runs them in name order and
prints one table. `make bench ARGS="cold_start"` runs only the named modules;
`ARGS="--json=FILE"` also writes every row, by module, and the count over target to FILE.
"""

import importlib
import json
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
    modules = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    if {"-h", "--help"} & set(argv):
        print(__doc__.strip() + "\n\nmodules: " + " ".join(m.removeprefix("bench_") for m in modules))
        return 0
    json_path = next((a.split("=", 1)[1] for a in argv if a.startswith("--json=")), None)
    wanted = {a for a in argv if not a.startswith("--json=")}
    over = 0
    results: dict[str, dict] = {}
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
                results[name] = {"title": module.TITLE, "failed": f"{type(exc).__name__}: {exc}"}
                continue
            results[name] = {"title": module.TITLE, "rows": rows,
                             "seconds": round(time.perf_counter() - started, 1)}
            for row in rows:
                print(fmt(row), flush=True)
                target = row.get("target")
                if isinstance(target, int | float) and not (isinstance(row["value"], int | float)
                                                            and row["value"] <= target):
                    over += 1
            print(f"  ({time.perf_counter() - started:.1f} s)")
    print(f"\n{over} measurement(s) over target" if over else "\nall measurements within target")
    if json_path:
        Path(json_path).write_text(json.dumps({"over_target": over, "modules": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
