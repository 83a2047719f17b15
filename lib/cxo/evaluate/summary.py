"""An evaluation's summary (schema/eval-summary.schema.json) from its per-task results."""

from collections import Counter

from .stats import percentile, wilson


def summarize(results: list[dict], prices: dict | None = None) -> dict:
    n = len(results)
    resolved = sum(1 for r in results if r.get("resolved"))
    tokens = {"input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    for r in results:
        for key in tokens:
            tokens[key] += int((r.get("tokens") or {}).get(key, 0) or 0)
    costs = [r["cost"] for r in results if r.get("cost") is not None]
    walls = [r["wall_seconds"] for r in results if r.get("wall_seconds") is not None]
    overheads = [r["overhead_seconds"] for r in results if r.get("overhead_seconds") is not None]
    gates = Counter((r.get("blocked") or {}).get("gate") or "unknown" for r in results if r["outcome"] == "blocked")
    return {
        "tasks": n,
        "resolved": resolved,
        "resolve_rate": round(resolved / n, 4) if n else 0.0,
        "resolve_rate_ci95": wilson(resolved, n),
        "published": sum(1 for r in results if r["outcome"] == "published"),
        "blocked": sum(1 for r in results if r["outcome"] == "blocked"),
        "errors": sum(1 for r in results if r["outcome"] == "error"),
        "false_accepts": sum(1 for r in results if r.get("false_accept")),
        "false_blocks": sum(1 for r in results if r.get("false_block")),
        "blocked_by_gate": dict(sorted(gates.items())),
        "tokens": tokens,
        "cost": round(sum(costs), 6) if costs else None,
        "currency": (prices or {}).get("currency") if costs else None,
        "wall_seconds_p50": percentile(walls, 50),
        "wall_seconds_p90": percentile(walls, 90),
        "overhead_seconds_p50": percentile(overheads, 50),
        "instances": sorted(r["instance_id"] for r in results),
    }


def write(out, results: list[dict], prices: dict | None = None) -> dict:
    """OUT/summary.json (checked against its schema), OUT/report.md and OUT/report.html."""
    import json
    from pathlib import Path

    from .. import schemas
    from . import report
    from .tasks import atomic_write

    out = Path(out)
    summary = summarize(results, prices)
    schemas.validate("eval-summary", summary, "the evaluation's summary", "report this as a bug")
    atomic_write(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    ordered = sorted(results, key=lambda r: r["instance_id"])
    atomic_write(out / "report.md", report.markdown(summary, ordered))
    atomic_write(out / "report.html", report.html(summary, ordered))
    return summary
