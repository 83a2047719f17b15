"""cxo in operation, read from GitHub alone: issues run, draft PRs opened and merged, time to merge, feedback
rounds, PRs merged without a human commit, why runs blocked, and tokens and cost per merged PR, per ISO week.

Sources, all runner-written (a marker anyone else typed counts for nothing): claim comments (an issue run),
blocked reports (`<!-- cxo:blocked issue=N -->`, their Step and Reason lines), round reports
(`<!-- cxo:feedback-round n=K -->`), usage markers (lib/cxo/measure/spend.py) and cxo's PRs (`<!-- cxo:report
issue=N -->` in the body). Requests: one repository-wide comment listing and one issue listing (both `since`), the
runner's login (kept), and one `GET pulls/N` per merged cxo PR for its head commit: a merged PR whose head is
the commit cxo last pushed (`<!-- cxo:pushed sha=... -->`) has no human commit on top.
"""

from __future__ import annotations

import re
import statistics
from datetime import datetime

from .clock import iso, parse

BLOCKED = re.compile(r"<!-- cxo:blocked issue=(\d+) -->")
STEP_LINE = re.compile(r"^\*\*Step:\*\* `([a-z-]+)`", re.M)
REASON_LINE = re.compile(r"^\*\*Reason:\*\* (.*)$", re.M)
NUMBER = re.compile(r"/(?:issues|pulls)/(\d+)$")


def week(moment: datetime) -> str:
    year, number, _ = moment.isocalendar()
    return f"{year}-W{number:02d}"


def _number(comment: dict) -> int | None:
    match = NUMBER.search(comment.get("issue_url") or "")
    return int(match.group(1)) if match else None


def _at(item: dict, key: str = "created_at") -> datetime | None:
    try:
        return parse(item.get(key) or "")
    except ValueError:
        return None


def reason_kind(body: str) -> str:
    """A blocked report's step and the start of its reason (before the first colon): what to group by."""
    step = STEP_LINE.search(body)
    reason = REASON_LINE.search(body)
    head = (reason.group(1) if reason else "").split(":", 1)[0].strip()[:80]
    return f"{step.group(1) if step else '?'}: {head or '?'}"


def collect(policy, tracker, since: datetime, until: datetime) -> dict:
    """Every figure cxo-metrics shows, from GitHub, for [since, until]."""
    from ..connect import runner_logins
    from ..github.claims import MARKER, by_runners
    from ..github.feedback import REPORT, ROUND, is_cxo_pull, last_pushed
    from .spend import cost, records

    comments = tracker.list_repo_comments(since=iso(since))
    items = tracker.list_issues(state="all", since=iso(since))
    logins = runner_logins(policy, tracker)
    prices = policy["runner"].get("prices")
    ours = [c for c in by_runners(comments, logins) if (t := _at(c)) and since <= t <= until]

    def inside(moment):
        return moment is not None and since <= moment <= until

    weeks: dict[str, dict] = {}

    def bucket(moment: datetime) -> dict:
        return weeks.setdefault(week(moment), {"week": week(moment), "issues_run": set(), "runs": 0,
                                               "prs_opened": 0, "prs_merged": 0, "blocked": 0, "tokens": 0,
                                               "cost": None if prices is None else 0.0})

    issues_run: set[int] = set()
    for comment in ours:
        if MARKER.search(comment.get("body") or "") and (number := _number(comment)) is not None:
            issues_run.add(number)
            b = bucket(_at(comment))
            b["issues_run"].add(number)
            b["runs"] += 1
    reasons: dict[str, int] = {}
    for comment in ours:
        if BLOCKED.search(comment.get("body") or ""):
            kind = reason_kind(comment.get("body") or "")
            reasons[kind] = reasons.get(kind, 0) + 1
            bucket(_at(comment))["blocked"] += 1
    runs = [r for r in records(comments + items, logins) if inside(r["at"])]
    for r in runs:
        b = bucket(r["at"])
        b["tokens"] += r["total_tokens"]
        if prices is not None:
            b["cost"] = round(b["cost"] + cost(prices, r), 6)
    rounds_of: dict[int, list[dict]] = {}
    for comment in by_runners(comments, logins):
        if ROUND.search(comment.get("body") or "") and (number := _number(comment)) is not None:
            rounds_of.setdefault(number, []).append(comment)
    pulls = []
    for item in sorted(items, key=lambda i: i["number"]):
        if item.get("pull_request") is None or not is_cxo_pull(item, logins):
            continue
        opened, merged = _at(item), _at(item.get("pull_request") or {}, "merged_at")
        if not inside(opened) and not inside(merged):
            continue
        issue = int(REPORT.search(item.get("body") or "").group(1))
        spent = [r for r in runs if r["issue"] == issue]
        entry = {"number": item["number"], "issue": issue, "opened_at": iso(opened) if opened else None,
                 "merged_at": iso(merged) if merged else None, "state": item.get("state"),
                 "rounds": len(rounds_of.get(item["number"], [])),
                 "hours_to_merge": round((merged - opened).total_seconds() / 3600, 2) if merged and opened else None,
                 "human_commits": None, "tokens": sum(r["total_tokens"] for r in spent),
                 "cost": None if prices is None else round(sum(cost(prices, r) for r in spent), 6)}
        if inside(opened):
            bucket(opened)["prs_opened"] += 1
        if inside(merged):
            bucket(merged)["prs_merged"] += 1
            head = ((tracker.get_pull(item["number"]).get("head") or {}).get("sha"))
            pushed = last_pushed(item, rounds_of.get(item["number"], []))
            entry["human_commits"] = bool(head) and head != pushed
        pulls.append(entry)
    merged = [p for p in pulls if p["merged_at"] and inside(parse(p["merged_at"]))]
    opened = [p for p in pulls if p["opened_at"] and inside(parse(p["opened_at"]))]
    hours = [p["hours_to_merge"] for p in merged if p["hours_to_merge"] is not None]
    tokens = sum(r["total_tokens"] for r in runs)
    total_cost = None if prices is None else round(sum(cost(prices, r) for r in runs), 6)
    totals = {
        "issues_run": len(issues_run), "runs": sum(b["runs"] for b in weeks.values()), "prs_opened": len(opened),
        "prs_merged": len(merged),
        "median_hours_to_merge": round(statistics.median(hours), 2) if hours else None,
        "rounds_per_pr": round(sum(p["rounds"] for p in opened) / len(opened), 2) if opened else None,
        "merged_without_human_commits": round(sum(1 for p in merged if p["human_commits"] is False) / len(merged),
                                              3) if merged else None,
        "blocked": sum(reasons.values()), "tokens": tokens, "cost": total_cost,
        "tokens_per_merged_pr": round(tokens / len(merged)) if merged else None,
        "cost_per_merged_pr": round(total_cost / len(merged), 6) if merged and total_cost is not None else None,
    }
    return {"repository": f"{policy.owner}/{policy.repo}", "since": iso(since), "until": iso(until),
            "totals": totals,
            "weeks": [dict(b, issues_run=len(b["issues_run"])) for _, b in sorted(weeks.items())],
            "blocked_reasons": [{"reason": k, "count": v} for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])],
            "pulls": pulls}


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(data: dict) -> str:
    """The human view: totals, a row per week, the blocked reasons."""
    t = data["totals"]
    share = t["merged_without_human_commits"]
    lines = [f"cxo metrics for {data['repository']}, {data['since']} .. {data['until']}", "",
             f"issues run {_cell(t['issues_run'])} ({_cell(t['runs'])} runs), draft PRs opened "
             f"{_cell(t['prs_opened'])}, merged {_cell(t['prs_merged'])}",
             f"median time to merge {_cell(t['median_hours_to_merge'])} h, feedback rounds per PR "
             f"{_cell(t['rounds_per_pr'])}, merged without human commits "
             f"{'-' if share is None else f'{share:.0%}'}",
             f"tokens {_cell(t['tokens'])} ({_cell(t['tokens_per_merged_pr'])} per merged PR), cost "
             f"{_cell(t['cost'])} ({_cell(t['cost_per_merged_pr'])} per merged PR), blocked {_cell(t['blocked'])}",
             "", "| week | issues run | runs | PRs opened | merged | blocked | tokens | cost |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {w['week']} | {_cell(w['issues_run'])} | {_cell(w['runs'])} | {_cell(w['prs_opened'])} | "
              f"{_cell(w['prs_merged'])} | {_cell(w['blocked'])} | {_cell(w['tokens'])} | {_cell(w['cost'])} |"
              for w in data["weeks"]]
    if data["blocked_reasons"]:
        lines += ["", "blocked reasons:"] + [f"  {r['count']:>4}  {r['reason']}" for r in data["blocked_reasons"]]
    return "\n".join(lines)
