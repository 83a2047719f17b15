"""cxo-publish: the only step that writes to the remote.

Every write is idempotent: the PR is found by its head branch, comments by their
hidden markers, labels are only added when missing and removed when present.
So running publish twice on one envelope gives one PR and one report comment.
"""

import os
from pathlib import Path

from .. import envelope, killpoints, report
from ..errors import CxoError, InputError
from ..github.feedback import pushed_marker
from ..gitutil import git, remote, rev_parse
from ..policy import render
from ..tracker.base import write_once
from ..untrusted import one_line

STEP = "publish"


def upsert_comment(tracker, number: int, marker: str, body: str, comments: list[dict] | None = None) -> dict:
    from ..github.claims import DONE, done_marker

    for comment in tracker.list_comments(number) if comments is None else comments:
        if marker in (comment.get("body") or ""):
            # Keep the finished-run markers of earlier runs: their claims must stay over.
            kept = [done_marker(r) for r in DONE.findall(comment["body"]) if done_marker(r) not in body]
            body = "".join(kept) + body
            if comment.get("body") != body:
                comment = tracker.update_comment(comment["id"], body)
            return comment
    return write_once(lambda: tracker.create_comment(number, body),
                      lambda: next((c for c in tracker.list_comments(number) if marker in (c.get("body") or "")),
                                   None))


def move_labels(tracker, number: int, add: str, remove: str) -> list[str]:
    """Add before remove, so the issue never sits without a state label mid-move. Adding is idempotent and
    answers with the full label list, which says whether there is anything to remove."""
    labels = write_once(lambda: tracker.add_labels(number, [add]), lambda: None)  # adding twice is harmless
    killpoints.reached("publish:after-add-label")
    if remove.lower() in {lab["name"].lower() for lab in labels}:
        labels = tracker.remove_label(number, remove)
    return [lab["name"] for lab in labels]


def publishable_paths(env: dict) -> list[str]:
    """Exactly what the gates checked (plus the runner's own proof screenshots): files that appeared later,
    such as caches written by the runner's checks, are never published."""
    changes = env["gate"]["changes"]
    paths = set(changes.get("staged", []) + changes.get("unstaged", []) + changes.get("untracked", [])
                + changes.get("deleted", []))
    for verdict in env["gate"]["verdicts"]:
        paths.update(e["screenshot"] for e in verdict.get("evidence") or [] if e.get("screenshot"))
    return sorted(paths)


def commit_checked(policy, env: dict, worktree: Path, say, subject: str | None = None) -> bool:
    paths = publishable_paths(env)
    if not paths:
        return False
    issue = env["claim"]["issue"]
    author = {"GIT_AUTHOR_NAME": policy["git"]["commitAuthorName"],
              "GIT_AUTHOR_EMAIL": policy["git"]["commitAuthorEmail"],
              "GIT_COMMITTER_NAME": policy["git"]["commitAuthorName"],
              "GIT_COMMITTER_EMAIL": policy["git"]["commitAuthorEmail"]}
    literal = {"GIT_LITERAL_PATHSPECS": "1"}  # a file named `*` is that file, not every file
    # A path the agent removed with `git rm` or `git mv` (or deleted in a local commit) is in neither the working
    # tree nor the index: its deletion is already staged or committed, and `git add` would refuse the pathspec.
    indexed = set(git(worktree, "ls-files", "-z", "--", *paths, env=literal).split("\0"))
    present = [p for p in paths if p in indexed or os.path.lexists(worktree / p)]
    if present:
        git(worktree, "add", "--all", "--force", "--", *present, env=literal)
    if not git(worktree, "diff", "--cached", "--name-only").strip():
        return False  # already committed by an earlier, interrupted publish
    # The title is the issue author's: one line, so it cannot forge trailers or a second paragraph.
    subject = subject or f"cxo: {one_line(issue['title'])} (#{issue['number']})"
    message = f"{subject}\n\nCxo-Run: {env['run_id']}\n"
    # No hooks: the agent could have planted some, and they would run with the runner's rights.
    git(worktree, "commit", "--quiet", "--no-verify", "-F", "-", env=author, input=message)
    say(f"committed {len(paths)} checked file(s) as the runner")
    return True


def verify(env: dict, policy, tracker) -> list[dict] | None:
    """An envelope is a file anyone could edit: before writing anything, check it against GitHub. Its claim
    comment must be on its issue, written by a runner login, for its run id; its worktree must be one of
    this runner's. Returns the issue's comments (publish reuses them), or None when there is no claim."""
    from ..connect import runner_logins
    from ..github.claims import parse_claims

    if "claim" not in env:
        return None
    number, claim = env["issue"]["number"], env["claim"]
    refuse = "the envelope does not match GitHub ({}): publish only envelopes written by this runner's own steps"
    if claim["issue"]["number"] != number:
        raise InputError(refuse.format(f"issue #{number}, but its claim is for #{claim['issue']['number']}"))
    tree = env.get("worktree")
    if tree and policy.workspace_root.resolve() not in Path(tree["path"]).resolve().parents:
        raise InputError(refuse.format(f"worktree {tree['path']} is not under {policy.workspace_root}"))
    from ..github.claims import listing_at_claim

    # A run claimed by this very process was checked against GitHub by its claim step (the envelope never left
    # memory); anything else is listed and checked now.
    comments = listing_at_claim(env["run_id"], claim["comment_id"])
    comments = tracker.list_comments(number) if comments is None else comments
    ours = [c for c in parse_claims(comments, runner_logins(policy, tracker)) if c["comment_id"] == claim["comment_id"]]
    if not ours or ours[0]["run_id"] != env["run_id"]:
        raise InputError(refuse.format(f"no claim comment {claim['comment_id']} by a runner for run {env['run_id']} "
                                       f"on issue #{number}"))
    return comments


def _blocked(env: dict, policy, tracker, say, comments=None) -> dict:
    number = env["issue"]["number"]
    # Refused before or at the claim, or lost the claim to another runner: that runner owns the issue.
    claimed = "claim" in env and (env["blocked"].get("details") or {}).get("claimed", True)
    env["publish"] = {"outcome": "blocked", "pushed_sha": None, "branch": None, "commit_created": False,
                      "pull_request": None, "comment": None, "labels": []}
    if not claimed:
        # Refused before the claim (not eligible, or another runner owns it): GitHub is left untouched.
        say(f"blocked before the claim ({env['blocked']['reason']}): nothing to publish")
        return envelope.mark_done(env, STEP)
    body = report.blocked_report(env, report.blocked_marker(number) + f"<!-- run={env['run_id']} -->",
                                 str(policy.state_dir))
    # Labels first: once the comment carries the run's done marker, the issue already shows its outcome,
    # so no runner that read the issue earlier can mistake it for free work.
    labels = move_labels(tracker, number, policy.label("blocked"), policy.label("running"))
    comment = upsert_comment(tracker, number, f"<!-- run={env['run_id']} -->", body, comments)
    env["publish"].update({"comment": {"id": comment["id"], "url": comment.get("html_url", "")}, "labels": labels})
    say(f"issue #{number} moved to {policy.label('blocked')}: {env['blocked']['reason']}")
    return envelope.mark_done(env, STEP)


def run(env: dict, *, policy, args=None, say=print, tracker=None) -> dict:
    from ..connect import take_token, tracker_for

    lost_claim = envelope.is_blocked(env) and (env["blocked"].get("details") or {}).get("claimed") is False
    if env.get("round") and not lost_claim:
        raise InputError("this envelope is a feedback round's: it is published by lib/cxo/rounds/publish.py "
                         "(cxo-publish and cxo-run --pr choose it), never as a new PR")
    tracker = tracker or tracker_for(policy)
    lost = envelope.is_blocked(env) and (env["blocked"].get("details") or {}).get("claimed") is False
    comments = None if lost else verify(env, policy, tracker)
    if envelope.is_blocked(env):
        return _blocked(env, policy, tracker, say, comments)
    envelope.require(env, STEP, "claim", "worktree", "codex", "gate")
    issue, tree = env["claim"]["issue"], env["worktree"]
    number, branch = issue["number"], tree["branch"]
    worktree = Path(tree["path"])
    section = {"outcome": "review", "pushed_sha": None, "branch": branch, "commit_created": False,
               "pull_request": None, "comment": None, "labels": []}
    env["publish"] = section
    if not env["gate"]["changes"]["files"]:
        section["labels"] = move_labels(tracker, number, policy.label("review"), policy.label("running"))
        comment = upsert_comment(tracker, number, report.comment_marker(number),
                                  report.no_change_report(env, report.comment_marker(number)), comments)
        section["comment"] = {"id": comment["id"], "url": comment.get("html_url", "")}
        return envelope.mark_done(env, STEP)
    if branch == policy.base_branch:
        raise CxoError(f"refusing to push: the issue branch is the base branch {branch}: fix git.branchTemplate")
    section["commit_created"] = commit_checked(policy, env, worktree, say)
    killpoints.reached("publish:after-commit")
    head = rev_parse(worktree, "HEAD")
    say(f"pushing {branch} ({head[:12]}) to {policy.clone_url}")
    from .worktree import repo_lock

    with repo_lock(policy):  # the push updates remote-tracking refs shared with parallel runs
        remote(worktree, "push", policy.clone_url, f"{head}:refs/heads/{branch}", "--quiet", "--no-verify",
               token=take_token())
    section["pushed_sha"] = head
    killpoints.reached("publish:after-push")
    values = {"issueNumber": number, "issueTitle": one_line(issue["title"])}
    title = one_line(render(policy["pullRequest"]["titleTemplate"], values, "pullRequest.titleTemplate"), 250)
    # The pushed commit, in a runner-owned marker: a later feedback round tells a human's push from its own.
    body = report.review_report(env, report.pr_marker(number) + pushed_marker(head))
    pull = tracker.find_pull(branch, state="open")
    if pull is None:
        pull = write_once(lambda: tracker.create_pull(title, branch, tree["base_branch"], body, draft=True),
                          lambda: tracker.find_pull(branch, state="open"))
        say(f"opened draft PR #{pull['number']}")
    elif pull.get("body") != body:
        pull = tracker.update_pull(pull["number"], body=body)
    killpoints.reached("publish:after-pr")
    section["pull_request"] = {"number": pull["number"], "url": pull["url"], "html_url": pull.get("html_url", ""),
                               "draft": bool(pull.get("draft"))}
    comment_body = report.review_report(env, report.comment_marker(number)).replace(
        f"Closes #{number}", f"Draft PR: #{pull['number']}")
    section["labels"] = move_labels(tracker, number, policy.label("review"), policy.label("running"))
    killpoints.reached("publish:after-labels")
    comment = upsert_comment(tracker, number, report.comment_marker(number), comment_body, comments)
    section["comment"] = {"id": comment["id"], "url": comment.get("html_url", "")}
    say(f"issue #{number} moved to {policy.label('review')}")
    return envelope.mark_done(env, STEP)
