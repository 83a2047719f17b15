"""An evaluation's report: report.md, and report.html (one static page, charts as inline SVG, no scripts)."""

from html import escape


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _outcome(r: dict) -> str:
    if r.get("resolved"):
        return "resolved"
    if r["outcome"] == "published":
        return "false accept" if r.get("false_accept") else "published"
    if r["outcome"] == "blocked":
        return ("false block" if r.get("false_block") else "blocked") + f" ({(r.get('blocked') or {}).get('gate')})"
    return "error"


def markdown(summary: dict, results: list[dict]) -> str:
    low, high = summary["resolve_rate_ci95"]
    cost = "n/a (no runner.prices in the policy)" if summary["cost"] is None else \
        f"{summary['cost']:.4f} {summary.get('currency') or ''}".rstrip()
    lines = [
        "# cxo-eval report", "",
        f"**Resolved {summary['resolved']} of {summary['tasks']} tasks: {_pct(summary['resolve_rate'])}** "
        f"(95 % Wilson interval {_pct(low)} to {_pct(high)}).", "",
        "| | |", "|---|---|",
        f"| published (draft PR) | {summary['published']} |",
        f"| blocked by cxo | {summary['blocked']} |",
        f"| false accepts (published, hidden tests fail) | {summary['false_accepts']} |",
        f"| false blocks (blocked, the change passes the hidden tests) | {summary['false_blocks']} |",
        f"| errors | {summary['errors']} |",
        f"| tokens (total) | {summary['tokens']['total_tokens']:,} |",
        f"| cost | {cost} |",
        f"| pipeline time per task p50 / p90 | {summary['wall_seconds_p50']} s / {summary['wall_seconds_p90']} s |",
        "",
    ]
    if summary["blocked_by_gate"]:
        lines += ["Blocked by: " + ", ".join(f"{g} {n}" for g, n in summary["blocked_by_gate"].items()), ""]
    lines += ["| task | outcome | gates | hidden F2P | hidden P2P | tokens | seconds |",
              "|---|---|---|---|---|---|---|"]
    for r in results:
        hidden = r.get("hidden") or {}
        f2p, p2p = hidden.get("FAIL_TO_PASS") or {}, hidden.get("PASS_TO_PASS") or {}
        gates = " ".join(f"{g['gate']}:{g['verdict']}" for g in r.get("gates") or [])
        lines.append(f"| {r['instance_id']} | {_outcome(r)} | {gates} | {sum(f2p.values())}/{len(f2p)} | "
                     f"{sum(p2p.values())}/{len(p2p)} | {(r.get('tokens') or {}).get('total_tokens', 0):,} | "
                     f"{r.get('wall_seconds')} |")
    return "\n".join(lines) + "\n"


def _rate_chart(summary: dict) -> str:
    width, left = 540, 16
    rate = summary["resolve_rate"]
    low, high = summary["resolve_rate_ci95"]
    scale = width - 2 * left

    def x(v):
        return left + v * scale

    ticks = "".join(f'<line x1="{x(t / 4):.1f}" y1="44" x2="{x(t / 4):.1f}" y2="50" stroke="#888"/>'
                    f'<text x="{x(t / 4):.1f}" y="62" font-size="10" text-anchor="middle">{t * 25}%</text>'
                    for t in range(5))
    return (f'<svg role="img" aria-label="resolve rate" width="{width}" height="70" viewBox="0 0 {width} 70">'
            f'<rect x="{left}" y="10" width="{scale}" height="30" fill="#eee"/>'
            f'<rect x="{left}" y="10" width="{rate * scale:.1f}" height="30" fill="#2f7d32"/>'
            f'<line x1="{x(low):.1f}" y1="25" x2="{x(high):.1f}" y2="25" stroke="#111" stroke-width="2"/>'
            f'<line x1="{x(low):.1f}" y1="17" x2="{x(low):.1f}" y2="33" stroke="#111" stroke-width="2"/>'
            f'<line x1="{x(high):.1f}" y1="17" x2="{x(high):.1f}" y2="33" stroke="#111" stroke-width="2"/>'
            f'{ticks}<title>resolve rate {_pct(rate)}, 95% CI {_pct(low)} to {_pct(high)}</title></svg>')


def _bars(rows: list[tuple[str, float, str]], unit: str, label_width: int = 220) -> str:
    """Horizontal bars: (label, value, colour) each."""
    width, row_h = 640, 20
    top = max((v for _, v, _ in rows), default=0) or 1
    span = width - label_width - 100
    parts = []
    for i, (label, value, colour) in enumerate(rows):
        y = i * row_h + 4
        parts.append(f'<text x="{label_width - 6}" y="{y + 13}" font-size="11" text-anchor="end">'
                     f'{escape(label[:40])}</text>'
                     f'<rect x="{label_width}" y="{y}" width="{value / top * span:.1f}" height="{row_h - 6}" '
                     f'fill="{colour}"/><text x="{label_width + value / top * span + 4:.1f}" y="{y + 13}" '
                     f'font-size="11">{value:g} {escape(unit)}</text>')
    height = len(rows) * row_h + 8
    return f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">{"".join(parts)}</svg>'


def _verdict_stacks(results: list[dict]) -> str:
    """One stacked bar per gate: how many tasks it passed, failed and skipped."""
    order: list[str] = []
    counts: dict[str, dict[str, int]] = {}
    for r in results:
        for g in r.get("gates") or []:
            if g["gate"] not in counts:
                order.append(g["gate"])
                counts[g["gate"]] = {}
            counts[g["gate"]][g["verdict"]] = counts[g["gate"]].get(g["verdict"], 0) + 1
    colours = {"pass": "#2f7d32", "fail": "#c62828", "skip": "#bdbdbd"}
    width, label_width, row_h = 640, 120, 20
    top = max((sum(c.values()) for c in counts.values()), default=0) or 1
    span = width - label_width - 160
    parts = []
    for i, gate in enumerate(order):
        y, x = i * row_h + 4, float(label_width)
        parts.append(f'<text x="{label_width - 6}" y="{y + 13}" font-size="11" text-anchor="end">{escape(gate)}</text>')
        for verdict in ("pass", "fail", "skip"):
            n = counts[gate].get(verdict, 0)
            if n:
                w = n / top * span
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" '
                             f'fill="{colours[verdict]}"><title>{escape(gate)} {verdict}: {n}</title></rect>')
                x += w
        shown = ", ".join(f"{counts[gate][v]} {v}" for v in ("pass", "fail", "skip") if counts[gate].get(v))
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 13}" font-size="11">{escape(shown)}</text>')
    height = len(order) * row_h + 8
    return f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">{"".join(parts)}</svg>'


COLOURS = {"resolved": "#2f7d32", "false accept": "#c62828", "published": "#ef6c00", "error": "#6d4c41"}


def html(summary: dict, results: list[dict]) -> str:
    outcomes: dict[str, int] = {}
    for r in results:
        key = _outcome(r)
        outcomes[key] = outcomes.get(key, 0) + 1
    outcome_rows = [(k, v, COLOURS.get(k, "#c62828" if k.startswith("false block") else "#1565c0"))
                    for k, v in sorted(outcomes.items())]
    time_rows = [(r["instance_id"], r.get("wall_seconds") or 0, "#5c6bc0") for r in results]
    token_rows = [(r["instance_id"], (r.get("tokens") or {}).get("total_tokens", 0), "#00838f") for r in results]
    table = markdown(summary, results).split("\n| task |", 1)[1]
    rows = [line.strip("|").split(" | ") for line in ("| task |" + table).splitlines() if line.startswith("|")]
    head, body = rows[0], rows[2:]
    table_html = "<table><tr>" + "".join(f"<th>{escape(c.strip())}</th>" for c in head) + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{escape(c.strip())}</td>" for c in row) + "</tr>" for row in body) + "</table>"
    low, high = summary["resolve_rate_ci95"]
    cost = "n/a" if summary["cost"] is None else f"{summary['cost']:.4f} {summary.get('currency') or ''}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cxo-eval report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}
table{{border-collapse:collapse;font-size:.85rem}}td,th{{border:1px solid #ccc;padding:.2rem .4rem;text-align:left}}
.big{{font-size:1.4rem}}</style></head><body>
<h1>cxo-eval report</h1>
<p class="big">Resolved <b>{summary['resolved']} of {summary['tasks']}</b> tasks: <b>{_pct(summary['resolve_rate'])}</b>
(95&nbsp;% Wilson interval {_pct(low)} to {_pct(high)})</p>
<h2>Resolve rate</h2>{_rate_chart(summary)}
<p>published {summary['published']} · blocked {summary['blocked']} · false accepts {summary['false_accepts']} ·
false blocks {summary['false_blocks']} · errors {summary['errors']} · tokens {summary['tokens']['total_tokens']:,} ·
cost {escape(cost)} · pipeline time p50 {summary['wall_seconds_p50']} s, p90 {summary['wall_seconds_p90']} s</p>
<h2>Outcome by gate</h2>{_bars(outcome_rows, "tasks")}
<h3>Each gate's verdicts</h3>{_verdict_stacks(results)}
<h2>Time per task</h2>{_bars(time_rows, "s")}
<h2>Tokens per task</h2>{_bars(token_rows, "tokens")}
<h2>Tasks</h2>{table_html}
</body></html>
"""
