"""Cold start of every executable (`--help`), next to a bare `python -c pass`."""

import statistics
import subprocess
import time

TITLE = "Cold start (median of 7 runs of `<exe> --help`; target <= 150 ms each)"
def _executables() -> list[str]:
    """Every entry point, from pyproject.toml (the one list of them)."""
    import tomllib
    from pathlib import Path

    return sorted(tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["scripts"])


EXECUTABLES = _executables()


def median_ms(argv: list[str], runs: int = 7) -> float | str:
    """Median wall time in ms, or "fails" when the command does not exit 0 (a broken --help is no start)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append((time.perf_counter() - started) * 1000)
        if proc.returncode != 0:
            return "fails"
    return statistics.median(times)


def run(ctx) -> list[dict]:
    rows = [{"what": "python -c pass (baseline)", "value": median_ms([str(ctx.bin / "python"), "-c", "pass"]),
             "unit": "ms"}]
    for name in EXECUTABLES:
        exe = ctx.bin / name
        if not exe.exists():
            rows.append({"what": f"{name} --help", "value": "missing", "unit": ""})
            continue
        rows.append({"what": f"{name} --help", "value": median_ms([str(exe), "--help"]), "unit": "ms",
                     "target": 150})
    return rows
