"""A round's publish: the only part of a round that writes to the remote.

Order (each write idempotent, so a re-run after a crash repeats nothing): commit the checked change as the
runner, push it to the same branch as a fast-forward (never forced: a branch that moved meanwhile rejects it),
reply on each inline comment the agent addressed, write the one round report on the PR (its markers record the
handled feedback: from then on no host handles it again), move the issue back to review, and mark the claim
done. A blocked round writes its report too (its feedback counts as handled, so a broken round is not repeated
on every poll) and moves the issue to blocked.
"""

import json
from pathlib import Path

from .. import envelope, killpoints
from ..github.claims import claim_comment, done_marker
from ..github.feedback import ROUND
from ..gitutil import remote, rev_parse
from ..steps.claim import round_claim_marker
from ..tracker.base import write_once
from ..untrusted import one_line
from . import report as round_report

STEP = "publish"


def run(env: dict, *, policy, args=None, say=print, tracker=None) -> dict:
    from ..connect import tracker_for
    from ..steps import publish as plain

    tracker = tracker or tracker_for(policy)
    lost = envelope.is_blocked(env) and (env["blocked"].get("details") or {}).get("claimed") is False
    if lost:
        return plain.run(env, policy=policy, args=args, say=say, tracker=tracker)
    if not envelope.is_blocked(env):
        envelope.require(env, STEP, "claim", "worktree")
    comments = plain.verify(env, policy, tracker)
    info, number = env["round"], env["issue"]["number"]
    progress = envelope.run_dir(policy.state_dir, env) / "round-publish.json"
    resumed = progress.is_file()  # an earlier attempt of this publish may have written some of it
    progress.write_text(json.dumps({"started": True}))
    section = {"outcome": "blocked" if envelope.is_blocked(env) else "review", "pushed_sha": None,
               "branch": info["branch"], "commit_created": False, "pull_request": {
                   "number": info["pull"], "url": info.get("pr_url") or f"pull/{info['pull']}", "draft": True},
               "comment": None, "labels": [], "round": info["n"], "replies": []}
    env["publish"] = section
    addressed: dict = {}
    if not envelope.is_blocked(env):
        addressed = _push_and_reply(env, policy, tracker, say, section, resumed)
    killpoints.reached("round:before-report")
    body = round_report.round_report(env, addressed)
    claim = next(c for c in comments or [] if c["id"] == env["claim"]["comment_id"])  # verify() found it
    author = str((claim.get("user") or {}).get("login") or "").lower()
    report_comment = _upsert_round_report(tracker, env, body, resumed, author)
    section["comment"] = {"id": report_comment["id"], "url": report_comment.get("html_url", "")}
    killpoints.reached("round:after-report")
    if envelope.is_blocked(env):
        labels = plain.move_labels(tracker, number, policy.label("blocked"), policy.label("running"))
        if policy.label("review").lower() in {n.lower() for n in labels}:
            labels = [lab["name"] for lab in tracker.remove_label(number, policy.label("review"))]
        say(f"feedback round {info['n']} on PR #{info['pull']} blocked: {env['blocked']['reason']}")
    else:
        labels = _back_to_review(tracker, policy, env)
        say(f"feedback round {info['n']} on PR #{info['pull']} done; issue #{number} back in "
            f"{policy.label('review')}")
    section["labels"] = labels
    _claim_done(tracker, env, comments)
    return envelope.mark_done(env, STEP)


def _push_and_reply(env, policy, tracker, say, section, resumed) -> dict:
    from ..connect import take_token
    from ..steps import publish as plain
    from ..steps.worktree import repo_lock

    info, worktree = env["round"], Path(env["worktree"]["path"])
    if info["branch"] in (info["base_branch"], policy.base_branch):
        from ..errors import CxoError

        raise CxoError(f"refusing to push: the PR's branch {info['branch']} is a base branch")
    subject = f"cxo: feedback round {info['n']} on #{env['issue']['number']}: " \
              f"{one_line(env['claim']['issue']['title'], 100)}"
    if info.get("update"):
        # An update round publishes one merge commit of the base into the PR (rounds/update.py).
        from .update import conclude

        section["commit_created"] = conclude(policy, env, worktree, plain.publishable_paths(env), say)
    else:
        section["commit_created"] = plain.commit_checked(policy, env, worktree, say, subject)
    killpoints.reached("round:after-commit")
    head = rev_parse(worktree, "HEAD")
    if head != info["head_sha"]:
        say(f"pushing {info['branch']} ({head[:12]}) to {policy.clone_url}, fast-forward only")
        with repo_lock(policy):
            # No `+` and no --force: if anyone moved the branch since the round fetched it, the push is refused.
            remote(worktree, "push", policy.clone_url, f"{head}:refs/heads/{info['branch']}", "--quiet",
                   "--no-verify", token=take_token())
    section["pushed_sha"] = head
    killpoints.reached("round:after-push")
    addressed = _addressed(env)
    if head == info["head_sha"]:
        return addressed
    done = set()
    if resumed:  # replies an interrupted attempt already wrote
        done = {c.get("in_reply_to_id") for c in tracker.list_review_comments(info["pull"])
                if f"run={env['run_id']}" in (c.get("body") or "")}
    notes = _notes(env)
    for item in info["items"]:
        if item["kind"] != "review-comment" or addressed.get(item["id"]) is not True:
            continue
        if item["id"] not in done:
            text = round_report.reply(env, item, notes.get(item["id"], ""))
            write_once(lambda item=item, text=text: tracker.reply_to_review_comment(info["pull"], item["id"], text),
                       lambda item=item: next((c for c in tracker.list_review_comments(info["pull"])
                                               if c.get("in_reply_to_id") == item["id"]
                                               and f"run={env['run_id']}" in (c.get("body") or "")), None))
            killpoints.reached("round:after-reply")
        section["replies"].append(item["id"])
    return addressed


def _notes(env: dict) -> dict:
    report = (env.get("codex") or {}).get("report") or {}
    return {f["id"]: f.get("note") or "" for f in report.get("feedback") or []}


def _addressed(env: dict) -> dict:
    """Item id -> addressed, as the agent reported it; an inline comment the report does not mention counts as
    addressed when the round changed the file it is on."""
    report = (env.get("codex") or {}).get("report") or {}
    said = {f["id"]: bool(f["addressed"]) for f in report.get("feedback") or []}
    touched = set((env.get("gate") or {}).get("round_files") or [])
    out = {}
    for item in env["round"]["items"]:
        if item["id"] in said:
            out[item["id"]] = said[item["id"]]
        elif item["kind"] == "review-comment":
            out[item["id"]] = item.get("path") in touched
    return out


def _upsert_round_report(tracker, env: dict, body: str, resumed: bool, author: str) -> dict:
    """The round report, once: found again by its run marker, written by the login that claimed the issue."""
    pull, run_marker = env["round"]["pull"], f"<!-- run={env['run_id']} -->"

    def mine(comment):
        return run_marker in (comment.get("body") or "") and ROUND.search(comment["body"]) and \
            str((comment.get("user") or {}).get("login") or "").lower() == author

    if resumed:
        found = next((c for c in tracker.list_comments(pull) if mine(c)), None)
        if found is not None:
            return found if found.get("body") == body else tracker.update_comment(found["id"], body)
    return write_once(lambda: tracker.create_comment(pull, body),
                      lambda: next((c for c in tracker.list_comments(pull) if mine(c)), None))


def _back_to_review(tracker, policy, env: dict) -> list[str]:
    """Running off, review on: one request when the issue still carries the review label (the usual case)."""
    number = env["issue"]["number"]
    had = {n.lower() for n in env["claim"]["issue"]["labels"]}
    if policy.label("review").lower() in had and policy.label("blocked").lower() not in had:
        return [lab["name"] for lab in tracker.remove_label(number, policy.label("running"))]
    from ..steps.publish import move_labels

    labels = move_labels(tracker, number, policy.label("review"), policy.label("running"))
    if policy.label("blocked").lower() in {n.lower() for n in labels}:
        labels = [lab["name"] for lab in tracker.remove_label(number, policy.label("blocked"))]
    return labels


def _claim_done(tracker, env: dict, comments) -> None:
    """The round's claim comment gets the run's done marker: the claim is over, and no lease is left to expire."""
    claim = env["claim"]
    current = next((c for c in comments or [] if c["id"] == claim["comment_id"]), None)
    marker = done_marker(env["run_id"])
    if current is not None and marker in (current.get("body") or ""):
        return
    data = {"run_id": env["run_id"], "runner": claim["runner"]["name"], "host": claim["runner"]["host"],
            "pid": claim["runner"].get("pid", 0), "claimed_at": claim["claimed_at"],
            "lease_expires_at": claim["lease_expires_at"]}
    info = env["round"]
    # The round's claim marker stays: a host that read the feedback before this round's report and claims after
    # it finished finds this finished claim of the same round, and withdraws (steps/claim.py).
    note = f"Feedback round {info['n']} on PR #{info['pull']} finished." + round_claim_marker(info)
    tracker.update_comment(claim["comment_id"], claim_comment(data, note) + "\n" + marker)
