"""`cxo-eval compare A B`: two evaluations of the same tasks side by side."""

import json
from pathlib import Path

from ..errors import InputError
from .stats import mcnemar_exact


def load_dir(path: Path) -> tuple[dict, dict[str, dict]]:
    """(summary, {instance_id: task result}) of an evaluation's output directory."""
    summary_path = Path(path) / "summary.json"
    try:
        summary = json.loads(summary_path.read_text())
    except FileNotFoundError:
        raise InputError(f"{summary_path}: no such file: give a directory written by `cxo-eval run`") from None
    except ValueError as exc:
        raise InputError(f"{summary_path}: not valid JSON ({exc}): run `cxo-eval run` again to rewrite it") from None
    results = {}
    for name in summary.get("instances") or []:
        task_path = Path(path) / "tasks" / f"{name}.json"
        try:
            results[name] = json.loads(task_path.read_text())
        except (OSError, ValueError):
            raise InputError(f"{task_path}: missing or unreadable: run `cxo-eval run --out {path}` again to finish "
                             "it") from None
    return summary, results


def compare(a: Path, b: Path) -> dict:
    sa, ra = load_dir(a)
    sb, rb = load_dir(b)
    if set(ra) != set(rb):
        only = sorted(set(ra) ^ set(rb))
        raise InputError(f"{a} and {b} did not evaluate the same tasks ({len(only)} differ, e.g. {only[0]}): "
                         "compare runs of one tasks file")
    only_a = sorted(i for i in ra if ra[i].get("resolved") and not rb[i].get("resolved"))
    only_b = sorted(i for i in ra if rb[i].get("resolved") and not ra[i].get("resolved"))
    changed = [{"instance_id": i, "a": _outcome(ra[i]), "b": _outcome(rb[i])}
               for i in sorted(ra) if _outcome(ra[i]) != _outcome(rb[i])]
    side = {}
    for key in ("tasks", "resolved", "resolve_rate", "resolve_rate_ci95", "published", "blocked", "false_accepts",
                "false_blocks", "cost", "wall_seconds_p50", "wall_seconds_p90"):
        side[key] = {"a": sa.get(key), "b": sb.get(key)}
    side["total_tokens"] = {"a": (sa.get("tokens") or {}).get("total_tokens"),
                            "b": (sb.get("tokens") or {}).get("total_tokens")}
    return {"a": str(a), "b": str(b), "tasks": len(ra),
            "resolve_rate_difference": round((sb.get("resolve_rate") or 0) - (sa.get("resolve_rate") or 0), 4),
            "resolved_only_a": only_a, "resolved_only_b": only_b,
            "mcnemar_p": round(mcnemar_exact(len(only_a), len(only_b)), 6),
            "changed": changed, "side_by_side": side}


def _outcome(result: dict) -> str:
    if result.get("resolved"):
        return "resolved"
    if result["outcome"] == "published":
        return "published, hidden tests fail"
    if result["outcome"] == "blocked":
        return f"blocked at {(result.get('blocked') or {}).get('gate')}" + (
            ", hidden tests pass" if result.get("false_block") else "")
    return "error"


def text(report: dict) -> str:
    """The comparison as a few lines for a terminal."""
    side = report["side_by_side"]
    lines = [f"A: {report['a']}", f"B: {report['b']}", f"tasks: {report['tasks']}",
             f"resolve rate: {side['resolve_rate']['a']:.1%} -> {side['resolve_rate']['b']:.1%} "
             f"({report['resolve_rate_difference']:+.1%}; McNemar exact p = {report['mcnemar_p']:.4g}, "
             f"{len(report['resolved_only_a'])} resolved only by A, {len(report['resolved_only_b'])} only by B)"]
    for key in ("published", "blocked", "false_accepts", "false_blocks", "total_tokens", "cost",
                "wall_seconds_p50", "wall_seconds_p90"):
        lines.append(f"{key}: {side[key]['a']} | {side[key]['b']}")
    if report["changed"]:
        lines.append("changed outcomes:")
        lines += [f"  {c['instance_id']}: {c['a']} -> {c['b']}" for c in report["changed"]]
    return "\n".join(lines)
