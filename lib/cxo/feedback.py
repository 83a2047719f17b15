"""Review feedback on cxo's draft PRs: which ones are eligible for another round, and what triggered it.

A cxo PR is an open draft pull request written by a runner login whose body carries `<!-- cxo:report issue=N -->`.
It is eligible when, after its creation or its last feedback round (a runner comment on the PR carrying
`<!-- cxo:feedback-round n=K -->`), a trusted reviewer (`github.trustedAuthorAssociations`; never a bot, never
the runner) submitted a CHANGES_REQUESTED review, or wrote a review comment or a PR conversation comment that
contains `feedback.trigger`. After `feedback.maxRounds` rounds a PR is listed but not eligible.

Read-only: three conditional listings per cxo PR (reviews, review comments, conversation comments).
"""

from __future__ import annotations

import re

from .commands import author_kind, mentions

REPORT = re.compile(r"<!-- cxo:report issue=(\d+) -->")
ROUND = re.compile(r"<!-- cxo:feedback-round n=(\d+) -->")


def cxo_pulls(issues: list[dict], logins: set[str]) -> list[dict]:
    """Open draft PRs (from the issue list, which includes PRs) that cxo opened."""
    return [i for i in issues if i.get("pull_request") is not None and i.get("state", "open") == "open"
            and i.get("draft") and str((i.get("user") or {}).get("login") or "").lower() in logins
            and REPORT.search(i.get("body") or "")]


def pull_feedback(policy, tracker, pull: dict, logins: set[str]) -> dict:
    """One cxo PR's feedback state: `issue`, `rounds`, `since`, `triggers` [{kind, id, author, at}], `eligible`,
    `reason`."""
    trusted = {a.upper() for a in policy["github"]["trustedAuthorAssociations"]}
    trigger = policy["feedback"]["trigger"]
    number = pull["number"]
    conversation = tracker.list_comments(number)
    rounds = [c for c in conversation
              if author_kind(c, trusted, logins) == "runner" and ROUND.search(c.get("body") or "")]
    since = max([pull.get("created_at") or ""] + [c.get("created_at") or "" for c in rounds])

    def counts(item: dict, at: str) -> bool:
        return at > since and author_kind(item, trusted, logins) == "trusted"

    triggers = []
    for review in tracker.list_reviews(number):
        at = review.get("submitted_at") or ""
        if review.get("state") == "CHANGES_REQUESTED" and counts(review, at):
            triggers.append({"kind": "changes-requested", "id": review["id"], "author": review["user"]["login"],
                             "at": at})
    for kind, items in (("review-comment", tracker.list_review_comments(number)), ("comment", conversation)):
        for item in items:
            at = item.get("created_at") or ""
            if counts(item, at) and mentions(item.get("body"), trigger):
                triggers.append({"kind": kind, "id": item["id"], "author": item["user"]["login"], "at": at})
    triggers.sort(key=lambda t: (t["at"], t["id"]))
    max_rounds = policy["feedback"]["maxRounds"]
    eligible = bool(triggers) and len(rounds) < max_rounds
    if not triggers:
        reason = "no trusted feedback since " + ("the last round" if rounds else "the PR was opened")
    elif not eligible:
        reason = f"feedback waiting, but the PR had its {max_rounds} feedback round(s) (feedback.maxRounds)"
    else:
        reason = f"{len(triggers)} trusted feedback item(s) since " + ("round " + str(len(rounds)) if rounds
                                                                        else "the PR was opened")
    match = REPORT.search(pull.get("body") or "")
    return {"pull": number, "issue": int(match.group(1)), "title": pull.get("title") or "", "rounds": len(rounds),
            "since": since, "triggers": triggers, "eligible": eligible, "reason": reason}


def feedback_state(policy, tracker, issues: list[dict], logins: set[str] | None = None) -> list[dict]:
    """Every open cxo draft PR with its feedback state (see pull_feedback), by PR number."""
    from .connect import runner_logins

    if not any(i.get("pull_request") is not None and REPORT.search(i.get("body") or "") for i in issues):
        return []
    logins = logins if logins is not None else runner_logins(policy, tracker)
    return [pull_feedback(policy, tracker, p, logins)
            for p in sorted(cxo_pulls(issues, logins), key=lambda p: p["number"])]
