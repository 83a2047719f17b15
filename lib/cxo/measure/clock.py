"""The clock the spend caps and cxo-metrics read: the real UTC time, or `CXO_NOW` (ISO 8601, e.g.
2026-12-06T00:00:01Z) so a test or an operator's dry look can stand at another moment without sleeping."""

import os
from datetime import UTC, datetime

from ..errors import InputError


def parse(text: str) -> datetime:
    """An ISO 8601 time as GitHub writes it (`Z` or an offset); naive times are UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def now() -> datetime:
    value = os.environ.get("CXO_NOW")
    if not value:
        return datetime.now(UTC)
    try:
        return parse(value)
    except ValueError:
        raise InputError(f"CXO_NOW={value[:40]!r} is not an ISO 8601 time: use e.g. 2026-12-06T00:00:00Z or "
                         "unset it") from None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
