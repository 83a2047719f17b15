"""Claim comments: how a runner tells every other runner (on any host) that it owns an issue.

A claim is an issue comment with a hidden JSON marker: run id, runner, host, pid
and lease expiry. GitHub orders comments by id, so "the earliest live claim"
is the same answer for every reader, with GitHub as the only coordinator.
"""

import json
import re
from datetime import UTC, datetime, timedelta

from .. import jsonin

MARKER = re.compile(r"<!--\s*cxo:claim\s+(\{.*?\})\s*-->", re.S)
# Written into a run's final report or blocked comment: that run's claim is over, whatever its lease says.
DONE = re.compile(r"<!--\s*cxo:done run=([0-9A-Za-z-]+)\s*-->")


def done_marker(run_id: str) -> str:
    return f"<!-- cxo:done run={run_id} -->"


def by_runners(comments: list[dict], logins) -> list[dict]:
    """Only comments written by a runner login: anyone can type a marker into a comment, and a forged claim
    or done marker must change nothing. `logins` None keeps every comment (read-only views without a token)."""
    if logins is None:
        return comments
    wanted = {login.lower() for login in logins}
    return [c for c in comments if ((c.get("user") or {}).get("login") or "").lower() in wanted]


def finished_runs(comments: list[dict], logins=None) -> set[str]:
    return {m for c in by_runners(comments, logins) for m in DONE.findall(c.get("body") or "")}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def make_claim(run_id: str, runner: str, host: str, pid: int, lease_seconds: int, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    return {"run_id": run_id, "runner": runner, "host": host, "pid": pid, "claimed_at": iso(now),
            "lease_expires_at": iso(now + timedelta(seconds=lease_seconds))}


def claim_comment(claim: dict, note: str = "") -> str:
    marker = json.dumps(claim, sort_keys=True, separators=(",", ":"))
    lines = [f"<!-- cxo:claim {marker} -->",
             f"cxo run `{claim['run_id']}` on `{claim['runner']}` claimed this issue "
             f"(lease until {claim['lease_expires_at']})."]
    if note:
        lines.append(note)
    return "\n".join(lines)


def parse_claims(comments: list[dict], logins=None) -> list[dict]:
    """Claims found in runner-written `comments`, oldest first, each with the comment id added."""
    found = []
    for comment in sorted(by_runners(comments, logins), key=lambda c: c["id"]):
        match = MARKER.search(comment.get("body") or "")
        if not match:
            continue
        try:
            claim = jsonin.loads(match.group(1))
        except ValueError:
            continue
        if isinstance(claim, dict) and "run_id" in claim and "lease_expires_at" in claim:
            found.append({**claim, "comment_id": comment["id"]})
    return found


def is_live(claim: dict, now: datetime | None = None) -> bool:
    if claim.get("released"):
        return False
    try:
        return parse_time(claim["lease_expires_at"]) > (now or datetime.now(UTC))
    except (ValueError, KeyError):
        return False


def earliest_live(claims: list[dict], now: datetime | None = None, finished: set[str] = frozenset()) -> dict | None:
    live = [c for c in claims if is_live(c, now) and c["run_id"] not in finished]
    return min(live, key=lambda c: c["comment_id"]) if live else None


def renew(claim: dict, lease_seconds: int, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    return {**claim, "lease_expires_at": iso(now + timedelta(seconds=lease_seconds))}


class Heartbeat:
    """Renews a live run's lease (edits its claim comment) every third of the lease, until stopped."""

    def __init__(self, tracker, comment_id: int, claim: dict, lease_seconds: int, say=print):
        import threading

        self.tracker, self.comment_id, self.claim, self.lease = tracker, comment_id, claim, lease_seconds
        self.say = say
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cxo-heartbeat", daemon=True)

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def _loop(self):
        while not self._stop.wait(max(1.0, self.lease / 3)):
            self.claim = renew(self.claim, self.lease)
            try:
                self.tracker.update_comment(self.comment_id, claim_comment(self.claim))
            except Exception as exc:  # a missed beat is retried at the next one; the lease covers two
                self.say(f"lease renewal failed ({exc}); retrying at the next beat")

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def claiming_marker(policy, number: int):
    """A file this host keeps while it claims `number` (between adding agent:running and posting its claim)."""
    return policy.state_dir / "claiming" / str(number)


def running_label_state(policy, issue: dict, comments: list[dict], logins, now: datetime | None = None
                        ) -> tuple[bool, str]:
    """Whether an `agent:running` issue may be taken over, and why. The one rule `cxo-run` and `cxo-status` share:
    a live claim is never taken over; an expired one is; a label with no claim at all is taken over when this
    host was claiming the issue when it stopped, or once the issue has been unchanged for runner.leaseSeconds
    (a runner between adding the label and posting its claim is given that long)."""
    now = now or datetime.now(UTC)
    claims = parse_claims(comments, logins)
    live = earliest_live(claims, now, finished_runs(comments, logins))
    if live is not None:
        return False, (f"running: run {live['run_id']} on {live.get('runner')} holds the claim until "
                       f"{live['lease_expires_at']}")
    if claims:
        stale = claims[-1]
        return True, (f"Took over from run `{stale['run_id']}` on `{stale.get('runner')}`, whose lease expired at "
                      f"{stale['lease_expires_at']}.")
    if claiming_marker(policy, issue["number"]).exists():
        return True, "Took over: this host was claiming the issue when it stopped (agent:running without a claim)."
    lease = int(policy["runner"]["leaseSeconds"])
    try:
        quiet = (now - parse_time(issue.get("updated_at") or "")).total_seconds()
    except ValueError:
        quiet = 0.0
    if quiet >= lease:
        return True, (f"Took over: the issue was left agent:running without a claim, unchanged since "
                      f"{issue['updated_at']} (longer than runner.leaseSeconds, {lease} s).")
    return False, (f"running: agent:running without a claim yet, changed {int(quiet)} s ago (taken over once "
                   f"unchanged for runner.leaseSeconds, {lease} s)")


# The issue's comments as the claim step listed them right after writing this process's claim, by run id: a run
# that goes on in the same process (cxo-run) builds its prompt from them and publish checks its claim against
# them, instead of listing the comments twice more. A run resumed by another process (or a step run on its own)
# finds nothing here and lists afresh.
_LISTED_AT_CLAIM: dict[str, tuple[int, list[dict]]] = {}


def remember_listing(run_id: str, claim_comment_id: int, comments: list[dict]) -> None:
    _LISTED_AT_CLAIM[run_id] = (claim_comment_id, comments)


def listing_at_claim(run_id: str, claim_comment_id: int) -> list[dict] | None:
    found = _LISTED_AT_CLAIM.get(run_id)
    return found[1] if found and found[0] == claim_comment_id else None
