"""Spend caps (`runner.budget`): no new issue starts once the tokens or the cost spent today or this week reach a cap.

The spend is what every runner published in its reports' usage markers (lib/cxo/measure/spend.py), so every host
counts the same total. Windows are the UTC day and the ISO week (Monday 00:00 UTC); a cap resets at the next
window. The check is made before the claim, the way the reviewer pacing is (lib/cxo/pace.py): an issue past a cap
is never half-run, it stays eligible and starts after the reset. A run still going counts once it reports.

Only new issues are held back, like the pacing: feedback rounds, resumed runs, `--continue` and the children of a
running tree finish what was started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..errors import PolicyError
from .clock import iso
from .clock import now as clock_now

CAPS = (("tokensPerDay", "tokens", "day"), ("tokensPerWeek", "tokens", "week"),
        ("costPerDay", "cost", "day"), ("costPerWeek", "cost", "week"))


def windows(moment: datetime) -> dict[str, tuple[datetime, datetime]]:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    week = day - timedelta(days=day.weekday())
    return {"day": (day, day + timedelta(days=1)), "week": (week, week + timedelta(days=7))}


@dataclass
class Caps:
    limits: dict  # runner.budget
    now: datetime
    spent: dict = field(default_factory=dict)  # "day"/"week" -> {runs, tokens, cost}

    def reached(self) -> list[dict]:
        out = []
        for key, kind, span in CAPS:
            limit = self.limits.get(key)
            used = (self.spent.get(span) or {}).get(kind)
            if limit is not None and used is not None and used >= limit:
                out.append({"cap": key, "used": used, "limit": limit,
                            "resets_at": iso(windows(self.now)[span][1])})
        return out

    def room(self) -> int | None:
        return 0 if self.reached() else None

    def resets_at(self) -> str | None:
        """When every reached cap has reset (the latest of their windows' ends)."""
        return max((r["resets_at"] for r in self.reached()), default=None)

    def reason(self, ahead: int = 0) -> str:
        first = self.reached()[0]
        span = "today" if first["cap"].endswith("Day") else "this week"
        what = f"{first['used']:,} of {first['limit']:,} tokens" if first["cap"].startswith("tokens") else \
            f"{first['used']:.2f} of {first['limit']:.2f} (cost)"
        return f"spend cap reached: {what} {span} (runner.budget.{first['cap']}); resets at {self.resets_at()}"

    def to_json(self) -> dict:
        return {"limits": self.limits, "now": iso(self.now), "spent": self.spent, "reached": self.reached(),
                "resets_at": self.resets_at()}


def limits(policy) -> dict:
    budget = dict(policy["runner"].get("budget") or {})
    if (budget.get("costPerDay") is not None or budget.get("costPerWeek") is not None) \
            and not policy["runner"].get("prices"):
        raise PolicyError("runner.budget.costPerDay/costPerWeek need runner.prices (per 1M input and output "
                          "tokens): set the prices or remove the cost cap")
    return budget


def state(policy, tracker, now: datetime | None = None) -> Caps | None:
    """The caps now, or None when the policy sets none (then not one request is made)."""
    from .spend import read, total

    budget = limits(policy)
    if all(budget.get(key) is None for key, _, _ in CAPS):
        return None
    moment = now or clock_now()
    spans = windows(moment)
    found = read(policy, tracker, spans["week"][0])
    prices = policy["runner"].get("prices")
    caps = Caps(budget, moment)
    for span, (start, _end) in spans.items():
        caps.spent[span] = total([r for r in found if r["at"] <= moment], prices, start)
    return caps


def hold(caps: Caps | None, numbers: list[int]) -> tuple[list[int], dict[int, str]]:
    """Split new issues into those that may start and those held back by a cap, with the reason."""
    if caps is None or caps.room() is None:
        return list(numbers), {}
    return [], {n: caps.reason() for n in numbers}


def check_start(policy, tracker) -> tuple[str | None, Caps | None]:
    """For a new issue about to be claimed: the reason it must wait, else None."""
    caps = state(policy, tracker)
    if caps is None or caps.room() is None:
        return None, caps
    return caps.reason(), caps
