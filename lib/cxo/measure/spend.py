"""Spend read back from GitHub: the `<!-- cxo:usage {...} -->` markers every runner writes into its reports
(lib/cxo/report.py), from every host, and what they cost at `runner.prices`.

Only markers in text written by a runner login count (anyone can type a marker). A run's review report is both
the PR body and the issue's report comment: runs are counted once, by run id.
"""

from __future__ import annotations

import re
from datetime import datetime

from .. import jsonin
from .clock import parse

USAGE = re.compile(r"<!-- cxo:usage (\{[^<>]*?\}) -->")
TOKEN_KEYS = ("input_tokens", "cached_input_tokens", "output_tokens", "total_tokens")


def _by_runner(item: dict, logins: set[str]) -> bool:
    return str((item.get("user") or {}).get("login") or "").lower() in logins


def records(texts: list[dict], logins: set[str]) -> list[dict]:
    """Usage records ({run, issue, at, tokens...}) in runner-written comments and PR/issue bodies, one per run."""
    runs: dict[str, dict] = {}
    for item in texts:
        if not _by_runner(item, logins):
            continue
        for raw in USAGE.findall(item.get("body") or ""):
            try:
                data = jsonin.loads(raw)
                at = parse(str(data["at"]))
                record = {"run": str(data["run"]), "issue": int(data["issue"]), "at": at,
                          **{k: max(0, int(data.get(k) or 0)) for k in TOKEN_KEYS}}
            except (ValueError, KeyError, TypeError):
                continue
            runs.setdefault(record["run"], record)
    return sorted(runs.values(), key=lambda r: (r["at"], r["run"]))


def cost(prices: dict | None, record: dict) -> float | None:
    """The price of one run's tokens (per 1M tokens; cached input at cachedInput, else at input), or None."""
    if not prices:
        return None
    cached = min(record.get("cached_input_tokens", 0), record.get("input_tokens", 0))
    fresh = record.get("input_tokens", 0) - cached
    cached_price = prices.get("cachedInput")
    cached_price = prices["input"] if cached_price is None else cached_price
    return (fresh * prices["input"] + cached * cached_price + record.get("output_tokens", 0) * prices["output"]) / 1e6


def total(records_: list[dict], prices: dict | None, since: datetime | None = None) -> dict:
    chosen = [r for r in records_ if since is None or r["at"] >= since]
    costs = [cost(prices, r) for r in chosen]
    return {"runs": len(chosen), "tokens": sum(r["total_tokens"] for r in chosen),
            "cost": None if prices is None else round(sum(c or 0.0 for c in costs), 6)}


def read(policy, tracker, since: datetime, issues: list[dict] | None = None) -> list[dict]:
    """Every run's usage published since `since`: one repository-wide comment listing and one issue listing
    (PR bodies; pass `issues` when it was listed already with state=all since `since`)."""
    from ..connect import runner_logins
    from .clock import iso

    comments = tracker.list_repo_comments(since=iso(since))
    issues = tracker.list_issues(state="all", since=iso(since)) if issues is None else issues
    logins = runner_logins(policy, tracker)
    return [r for r in records(comments + issues, logins) if r["at"] >= since]
