"""Review feedback on cxo's draft PRs: which ones are eligible for another round, what triggered it, and which
feedback items a round hands to the agent.

A cxo PR is an open draft pull request written by a runner login whose body carries `<!-- cxo:report issue=N -->`.
Each finished feedback round leaves one runner comment on the PR (the round report) carrying
`<!-- cxo:feedback-round n=K -->` and the ids of the feedback it handled (`<!-- cxo:feedback-handled ... -->`):
that marker, on GitHub, is what every host reads, so no feedback is ever handled twice.

A PR is eligible when a trusted reviewer (`github.trustedAuthorAssociations`; never a bot, never the runner)
submitted a CHANGES_REQUESTED review, or wrote a review comment or a PR conversation comment that contains
`feedback.trigger`, which no round handled yet. After `feedback.maxRounds` rounds a PR is listed, not eligible.

Items a round gives the agent: trusted reviews with a body or CHANGES_REQUESTED, trusted inline comments (path,
line, diff hunk) and trusted conversation comments, not yet handled. Left out and counted: untrusted authors,
bots, comments edited after they were written (the text judged is not the text there now), and inline comments
on outdated diff lines.

Read-only: two conditional listings per cxo PR (its timeline, which holds reviews and conversation comments, and
its review comments).
"""

from __future__ import annotations

import re

from .commands import author_kind, mentions

REPORT = re.compile(r"<!-- cxo:report issue=(\d+) -->")
ROUND = re.compile(r"<!-- cxo:feedback-round n=(\d+) -->")
HANDLED = re.compile(r"<!-- cxo:feedback-handled ([a-z0-9:, -]*) -->")
PUSHED = re.compile(r"<!-- cxo:pushed sha=([0-9a-f]{40}) -->")
STOPPED = "<!-- cxo:feedback-stopped -->"
# What an update round and a CI fix round handled (rounds/update.py, rounds/checks.py write them).
UPDATE = re.compile(r"<!-- cxo:update head=([0-9a-f]{40}) base=([0-9a-f]{40}) -->")
CI = re.compile(r"<!-- cxo:ci head=([0-9a-f]{40}) -->")
KINDS = ("review", "review-comment", "comment")
# Why feedback was left out, as the prompt and the round report say it.
IGNORED_WHY = {"untrusted": "by untrusted authors", "bot": "by bots", "edited": "edited after they were written",
               "outdated": "on outdated diff lines"}


def round_marker(n: int) -> str:
    return f"<!-- cxo:feedback-round n={int(n)} -->"


def handled_marker(keys) -> str:
    return "<!-- cxo:feedback-handled " + ",".join(sorted(keys)) + " -->"


def pushed_marker(sha: str) -> str:
    return f"<!-- cxo:pushed sha={sha} -->"


def cxo_pulls(issues: list[dict], logins: set[str]) -> list[dict]:
    """Open draft PRs (from the issue list, which includes PRs) that cxo opened."""
    return [i for i in issues if i.get("pull_request") is not None and i.get("state", "open") == "open"
            and i.get("draft") and is_cxo_pull(i, logins)]


def is_cxo_pull(pull: dict, logins: set[str]) -> bool:
    return str((pull.get("user") or {}).get("login") or "").lower() in logins and bool(
        REPORT.search(pull.get("body") or ""))


def round_comments(conversation: list[dict], logins: set[str]) -> list[dict]:
    """The runner's round reports on a PR, oldest first (anyone can type a marker: only the runner's count)."""
    return [c for c in conversation if str((c.get("user") or {}).get("login") or "").lower() in logins
            and ROUND.search(c.get("body") or "")]


def handled(rounds: list[dict]) -> tuple[set[str], str]:
    """The feedback ids the rounds handled, and the time before which everything counts as handled (a round
    report without a handled list, as older runners wrote: all feedback before it was handled)."""
    keys: set[str] = set()
    before = ""
    for comment in rounds:
        match = HANDLED.search(comment.get("body") or "")
        if match:
            keys.update(k for k in match.group(1).split(",") if k)
        else:
            before = max(before, comment.get("created_at") or "")
    return keys, before


def last_pushed(pull: dict, rounds: list[dict]) -> str | None:
    """What cxo last pushed to the PR's branch: the newest round report's marker, else the PR body's."""
    for comment in reversed(rounds):
        match = PUSHED.search(comment.get("body") or "")
        if match:
            return match.group(1)
    match = PUSHED.search(pull.get("body") or "")
    return match.group(1) if match else None


def _edited(item: dict) -> bool:
    created, updated = item.get("created_at") or "", item.get("updated_at") or ""
    return bool(updated) and updated > created


def split_timeline(timeline: list[dict]) -> tuple[list[dict], list[dict]]:
    """A PR's timeline as (reviews, conversation comments): one listing instead of two. Reviews get the review
    API's upper-case state."""
    reviews = [dict(e, state=str(e.get("state") or "").upper()) for e in timeline if e.get("event") == "reviewed"]
    return reviews, [e for e in timeline if e.get("event") == "commented"]


def collect(policy, pull: dict, timeline: list[dict], review_comments: list[dict], logins: set[str]) -> dict:
    """The PR's feedback not yet handled, from its timeline and review comments: `items` (for the agent),
    `triggers` (what makes it eligible), `ignored` counts by reason, `rounds` (the round reports),
    and `conversation` (the PR's comments)."""
    reviews, conversation = split_timeline(timeline)
    trusted = {a.upper() for a in policy["github"]["trustedAuthorAssociations"]}
    trigger = policy["feedback"]["trigger"]
    rounds = round_comments(conversation, logins)
    done, before = handled(rounds)
    opened = pull.get("created_at") or ""
    items, triggers = [], []
    ignored = {"untrusted": 0, "bot": 0, "edited": 0, "outdated": 0}

    def consider(kind: str, item: dict, at: str, fields: dict, triggers_it: bool) -> None:
        key = f"{kind}:{item['id']}"
        if key in done or at <= before or at < opened:
            return
        who = author_kind(item, trusted, logins)
        if who == "runner":
            return
        if who != "trusted":
            ignored[who] += 1
            return
        if kind != "review" and _edited(item):
            ignored["edited"] += 1
            return
        if kind == "review-comment" and item.get("line") is None and item.get("position") is None:
            ignored["outdated"] += 1
            return
        entry = {"key": key, "kind": kind, "id": item["id"], "author": (item.get("user") or {}).get("login", ""),
                 "at": at, "body": item.get("body") or "", **fields}
        items.append(entry)
        if triggers_it:
            triggers.append({"kind": "changes-requested" if kind == "review" else kind, "id": item["id"],
                             "author": entry["author"], "at": at})

    for review in reviews:
        state = review.get("state")
        if state == "CHANGES_REQUESTED" or (state == "COMMENTED" and (review.get("body") or "").strip()):
            consider("review", review, review.get("submitted_at") or "", {"state": state},
                     state == "CHANGES_REQUESTED")
    for comment in review_comments:
        consider("review-comment", comment, comment.get("created_at") or "",
                 {"path": comment.get("path") or "", "line": comment.get("line"),
                  "diff_hunk": comment.get("diff_hunk") or "", "review_id": comment.get("pull_request_review_id"),
                  "in_reply_to": comment.get("in_reply_to_id")},
                 mentions(comment.get("body"), trigger))
    for comment in conversation:
        if ROUND.search(comment.get("body") or ""):
            continue
        consider("comment", comment, comment.get("created_at") or "", {}, mentions(comment.get("body"), trigger))
    items.sort(key=lambda t: (t["at"], KINDS.index(t["kind"]), t["id"]))
    triggers.sort(key=lambda t: (t["at"], t["id"]))
    return {"items": items, "triggers": triggers, "ignored": ignored, "rounds": rounds,
            "conversation": conversation}


def pending(policy, tracker, pull: dict, logins: set[str]) -> dict:
    """`collect` on the PR as GitHub has it now: what a round hands to the agent, and what cxo-status counts."""
    number = pull["number"]
    return collect(policy, pull, tracker.list_timeline(number), tracker.list_review_comments(number), logins)


def pull_feedback(policy, tracker, pull: dict, logins: set[str]) -> dict:
    """One cxo PR's feedback state: `pull`, `issue`, `rounds`, `triggers` [{kind, id, author, at}], `ignored`,
    `items` (how many feedback items a round would hand to the agent: the same `pending` the round reads),
    `eligible`, `stopped` (the max-rounds notice was posted), `reason`."""
    number = pull["number"]
    found = pending(policy, tracker, pull, logins)
    conversation = found["conversation"]
    triggers, rounds = found["triggers"], len(found["rounds"])
    max_rounds = policy["feedback"]["maxRounds"]
    eligible = bool(triggers) and rounds < max_rounds
    if not triggers:
        reason = "no trusted feedback since " + ("the last round" if rounds else "the PR was opened")
    elif not eligible:
        reason = f"feedback waiting, but the PR had its {max_rounds} feedback round(s) (feedback.maxRounds)"
    else:
        reason = f"{len(found['items'])} trusted feedback item(s) since " + ("round " + str(rounds) if rounds
                                                                              else "the PR was opened")
    match = REPORT.search(pull.get("body") or "")
    stopped = any(STOPPED in (c.get("body") or "") for c in conversation
                  if str((c.get("user") or {}).get("login") or "").lower() in logins)
    handled_updates = sorted({f"{m.group(1)}:{m.group(2)}" for c in found["rounds"]
                              for m in UPDATE.finditer(c.get("body") or "")})
    handled_ci = sorted({m.group(1) for c in found["rounds"] for m in CI.finditer(c.get("body") or "")})
    return {"pull": number, "issue": int(match.group(1)), "title": pull.get("title") or "", "rounds": rounds,
            "handled_updates": handled_updates, "handled_ci": handled_ci, "max_rounds": max_rounds,
            "triggers": triggers, "items": len(found["items"]), "ignored": found["ignored"], "eligible": eligible,
            "stopped": stopped, "reason": reason}


def wants_round(item: dict) -> bool:
    """A cxo PR to act on: eligible for a round, or past feedback.maxRounds and not yet told so."""
    return bool(item["eligible"] or (item["triggers"] and not item["stopped"]))


def feedback_state(policy, tracker, issues: list[dict], logins: set[str] | None = None) -> list[dict]:
    """Every open cxo draft PR with its feedback state (see pull_feedback), by PR number."""
    from ..connect import runner_logins

    if not any(i.get("pull_request") is not None and REPORT.search(i.get("body") or "") for i in issues):
        return []
    logins = logins if logins is not None else runner_logins(policy, tracker)
    return [pull_feedback(policy, tracker, p, logins)
            for p in sorted(cxo_pulls(issues, logins), key=lambda p: p["number"])]
