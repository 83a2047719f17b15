"""Transport helpers for the GitHub tracker: write pacing, retry waits, Link parsing, ETag cache.

Pure stdlib and deterministic given the injected clock/sleep/random, so they are cheap to import
and to test.
"""

from __future__ import annotations

import json
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
IDEMPOTENT_WRITES = frozenset({"PUT", "PATCH", "DELETE"})


class WritePacer:
    """Token bucket for content-creating requests: at most `per_minute` writes per minute.

    GitHub's secondary limit is 80 content-generating requests per minute. With `burst=1` the
    writes are spaced `60/per_minute` seconds apart, so no 60-second window holds more than
    `per_minute` writes. `clock` and `sleep` are injectable for tests.
    """

    def __init__(self, per_minute: float = 80, burst: float = 1, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], Any] = time.sleep):
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be > 0 and burst >= 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.sleep = sleep
        self._tokens = float(burst)
        self._last = clock()
        self.waited = 0.0

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def acquire(self) -> float:
        """Take one token, sleeping until one is available. Returns the seconds slept."""
        self._refill()
        slept = 0.0
        if self._tokens < 1.0:
            wait = (1.0 - self._tokens) / self.rate
            self.sleep(wait)
            slept = wait
            self.waited += wait
            self._refill()
            # A fake sleep that does not move the clock must not stall us: account for the wait.
            if self._tokens < 1.0:
                self._tokens = 1.0
        self._tokens -= 1.0
        return slept


def backoff(attempt: int, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: uniform in [d/2, d] where d = min(cap, base * 2**attempt)."""
    d = min(cap, base * (2 ** attempt))
    r = (rng or random).random()
    return d / 2 + r * d / 2


SECONDARY_RE = re.compile(r"secondary rate limit|abuse detection|temporarily blocked", re.I)
PRIMARY_RE = re.compile(r"rate limit", re.I)


def rate_limit_wait(status: int, headers: Mapping[str, str], message: str, attempt: int, *,
                    wall: Callable[[], float] = time.time, max_wait: float = 600.0,
                    rng: random.Random | None = None) -> float | None:
    """Seconds to wait before retrying a 403/429 that is a rate limit, or None if it is not one.

    Order (GitHub docs): `retry-after` seconds; else `x-ratelimit-remaining: 0` → until
    `x-ratelimit-reset`; else a secondary-limit message (or any 429) → at least 60 s with
    exponential backoff. Every wait is clamped to `max_wait`.
    """
    if status not in (403, 429):
        return None
    h = {k.lower(): v for k, v in headers.items()}
    retry_after = h.get("retry-after")
    if retry_after is not None:
        try:
            return min(max_wait, max(0.0, float(retry_after)))
        except ValueError:
            pass  # an HTTP date: fall through to the other signals
    if h.get("x-ratelimit-remaining") == "0":
        try:
            reset = float(h.get("x-ratelimit-reset", ""))
        except ValueError:
            reset = wall() + 60
        return min(max_wait, max(1.0, reset - wall() + 1.0))
    if status == 429 or SECONDARY_RE.search(message or "") or PRIMARY_RE.search(message or ""):
        return min(max_wait, 60.0 * (2 ** attempt) * (1 + 0.1 * (rng or random).random()))
    return None


_LINK_RE = re.compile(r'<([^>]*)>\s*;\s*([^,]*)')


def link_next(link_header: str | None) -> str | None:
    """The URL of rel="next" in a Link header, or None."""
    if not link_header:
        return None
    for url, params in _LINK_RE.findall(link_header):
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip().lower() == "rel" and "next" in v.strip().strip('"').split():
                return url
    return None


class EtagCache:
    """ETag → body cache for conditional GETs, keyed by full URL (query included).

    In memory; persisted as JSON to `path` when given (written atomically after each change).
    Entries hold the body and the Link header, so a 304 page can still be followed.
    """

    def __init__(self, path: Path | str | None = None, max_entries: int = 1000, scope: str = ""):
        self.path = Path(path) if path else None
        self.max_entries = max_entries
        self.scope = scope
        self._d: dict[str, dict] = {}
        if self.path and self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
                if isinstance(data, dict) and data.get("scope") == scope and isinstance(data.get("entries"), dict):
                    self._d = data["entries"]
            except (OSError, ValueError):
                self._d = {}

    def get(self, key: str) -> dict | None:
        return self._d.get(key)

    def put(self, key: str, etag: str, body: Any, link: str | None) -> None:
        self._d.pop(key, None)
        self._d[key] = {"etag": etag, "body": body, "link": link}
        while len(self._d) > self.max_entries:
            self._d.pop(next(iter(self._d)))
        self._save()

    def drop(self, key: str) -> None:
        if self._d.pop(key, None) is not None:
            self._save()

    def __len__(self) -> int:
        return len(self._d)

    def _save(self) -> None:
        if not self.path:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".etag-", suffix=".json")
            with os.fdopen(fd, "w") as f:
                json.dump({"scope": self.scope, "entries": self._d}, f)
            os.replace(tmp, self.path)
        except OSError:
            pass  # the cache is an optimisation; never fail a request over it


def iso_since(since: Any) -> str | None:
    if since is None:
        return None
    if isinstance(since, datetime):
        if since.tzinfo is not None:
            since = since.astimezone(UTC).replace(tzinfo=None)
        return since.replace(microsecond=0).isoformat() + "Z"
    return str(since)
