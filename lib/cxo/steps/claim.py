"""cxo-claim: re-read the issue, refuse it unless its labels allow work, and claim it."""

import os
import socket

from .. import envelope, killpoints
from ..github.claims import (
    claim_comment,
    claiming_marker,
    earliest_live,
    finished_runs,
    make_claim,
    parse_claims,
    remember_listing,
    running_label_state,
)
from ..labels import classify, label_names
from ..tracker.base import write_once

STEP = "claim"


def _issue_summary(issue: dict, mode: str | None) -> dict:
    return {
        "number": issue["number"], "title": issue.get("title") or "", "body": issue.get("body") or "",
        "url": issue.get("html_url") or "", "state": issue.get("state", "open"), "labels": label_names(issue),
        "author": (issue.get("user") or {}).get("login", ""),
        "author_association": issue.get("author_association") or "NONE", "mode": mode or "auto",
    }


def round_claim_marker(info: dict) -> str:
    return f"<!-- cxo:round pull={int(info['pull'])} n={int(info['n'])} -->"


def _round_done(info: dict, comments: list[dict], logins, run_id: str) -> str | None:
    """The run id of a finished claim of the same round, if any."""
    key = round_claim_marker(info)
    finished = finished_runs(comments, logins)
    bodies = {c["id"]: c.get("body") or "" for c in comments}
    for found in parse_claims(comments, logins):
        if found["run_id"] != run_id and found["run_id"] in finished and key in bodies.get(found["comment_id"], ""):
            return found["run_id"]
    return None


def _round_verdict(issue: dict, labels: dict):
    """A feedback round's issue: its PR carries the feedback, so the issue needs no trigger label; it must be open,
    not taken over by a human (manual) and not being worked on (running)."""
    verdict = classify(issue, labels)
    have = {n.lower() for n in label_names(issue)}
    if issue.get("state") == "closed":
        return verdict
    for key, why in (("manual", "manual: reserved for human work"), ("running", "running: a runner is working on it")):
        if labels[key].lower() in have:
            verdict.eligible, verdict.reason = False, why
            return verdict
    verdict.eligible, verdict.reason = True, "feedback round"
    verdict.mode = "plan-auto" if verdict.mode == "plan-auto" else "auto"
    return verdict


def run(env: dict, *, policy, args=None, say=print, tracker=None) -> dict:
    from ..agents import sandbox as sandboxes
    from ..connect import runner_logins, tracker_for

    usable, why = sandboxes.status(policy)
    if not usable:  # refuse before the first write: an agent must never run unconfined by accident
        raise sandboxes.SandboxError(f"agent sandbox (bubblewrap) cannot start: {why} (or set agent.isolation: "
                                     "none in the policy to run agents without isolation, at your own risk)")
    hidden = sandboxes.hidden_agent_paths(policy)
    if hidden:
        from ..agents import command_of

        raise sandboxes.SandboxError(f"{command_of(policy)[0]}: {hidden[0]} is under /tmp, which the agent sandbox "
                                     "replaces by a private empty /tmp: install the agent elsewhere, or add its "
                                     "directory to agent.readPaths in the policy")
    from ..prompting import check_prompts

    check_prompts(policy)  # a broken prompt template is found now, not after the claim
    tracker = tracker or tracker_for(policy)
    number = env["issue"]["number"]
    issue = tracker.get_issue(number)
    env["issue"]["title"] = issue.get("title") or ""
    continuing = getattr(args, "continue_from", None)
    blocked = policy.label("blocked")
    was_blocked = blocked.lower() in {name.lower() for name in label_names(issue)}
    # `cxo-run --continue` after a token-budget stop (lib/cxo/budget.py): the operator's request lifts
    # agent:blocked; every other label rule stands.
    labels = {**policy.labels, "blocked": "\0 not a label"} if continuing else policy.labels
    judge = _round_verdict if env.get("round") else (lambda issue, labels: classify(issue, labels))
    verdict = judge(issue, labels)
    note = ""
    if verdict.reason.startswith("running"):
        # agent:running with no live claim behind it: its runner died. The issue may be taken over (the rule
        # cxo-status shows: claims.running_label_state).
        comments = tracker.list_comments(number)
        takeover, why = running_label_state(policy, issue, comments, runner_logins(policy, tracker))
        if takeover:
            note = why
            say(note)
            without = dict(issue, labels=[lab for lab in issue["labels"]
                                          if lab["name"].lower() != policy.label("running").lower()])
            verdict = judge(without, labels)
        else:
            verdict = judge(issue, labels)
            verdict.reason = why
    in_tree = (env.get("tree") or {}).get("parent")
    if verdict.mode == "child" and in_tree and verdict.reason == f"child of #{in_tree}: runs with its parent's tree" \
            and policy.label("auto").lower() in {n.lower() for n in verdict.labels}:
        verdict.eligible = True  # an afk child, claimed by its own parent's tree run
    if continuing:
        note = (note + " " if note else "") + f"Continuing run {continuing['run_id']} from its token-budget stop."
    if not verdict.eligible or verdict.mode not in ("auto", "child", "plan-auto"):
        reason = verdict.reason if not verdict.eligible else f"{verdict.mode} issues are not run by cxo-run"
        say(f"issue #{number} is not eligible: {reason}")
        return envelope.block(env, STEP, f"not eligible: {reason}", {"labels": verdict.labels, "claimed": False})
    if not env.get("round") and not in_tree and not continuing and (env.get("options") or {}).get("pace", True):
        # A new issue waits while too many cxo PRs wait for review (lib/cxo/pace.py): refused before any write.
        from ..pace import check_start

        held, pace = check_start(policy, tracker)
        if held:
            say(f"issue #{number} is not started: {held}")
            return envelope.block(env, STEP, f"not eligible: {held}",
                                  {"labels": verdict.labels, "claimed": False,
                                   "pace": pace.to_json() if pace else None})
        # A new issue waits while a spend cap is reached (lib/cxo/measure/caps.py): refused before any write.
        from ..measure.caps import check_start as check_caps

        held, caps = check_caps(policy, tracker)
        if held:
            say(f"issue #{number} is not started: {held}")
            return envelope.block(env, STEP, f"not eligible: {held}",
                                  {"labels": verdict.labels, "claimed": False,
                                   "budget": caps.to_json() if caps else None})

    if env.get("round"):
        note = (note + "\n" if note else "") + (f"Feedback round {env['round']['n']} on PR #{env['round']['pull']}."
                                                + round_claim_marker(env["round"]))
    running = policy.label("running")
    claim = make_claim(env["run_id"], policy.runner_name, socket.gethostname(), os.getpid(),
                       policy["runner"]["leaseSeconds"])
    had_running = running.lower() in {name.lower() for name in label_names(issue)}
    marker = claiming_marker(policy, number)  # says "ours" to this host's next run if we die before the comment
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(env["run_id"])
    write_once(lambda: tracker.add_labels(number, [running]), lambda: None)  # adding twice is harmless
    killpoints.reached("claim:after-label")
    comment = None
    try:
        comment = write_once(
            lambda: tracker.create_comment(number, claim_comment(claim, note)),
            lambda: next((c for c in tracker.list_comments(number) if claim["run_id"] in (c.get("body") or "")),
                         None))
        comments = tracker.list_comments(number)
        # Our own claim comment says which login this token writes as: no extra request.
        logins = runner_logins(policy, tracker, seen=(comment.get("user") or {}).get("login"))
        winner = earliest_live(parse_claims(comments, logins), finished=finished_runs(comments, logins))
    except Exception:
        # Leave nothing half-moved: take back the label and the comment before failing.
        if comment is not None:
            tracker.delete_comment(comment["id"])
        tracker.remove_label(number, running)
        marker.unlink(missing_ok=True)
        raise
    marker.unlink(missing_ok=True)
    if winner is not None and winner["run_id"] != env["run_id"]:
        tracker.delete_comment(comment["id"])
        say(f"issue #{number} is claimed by run {winner['run_id']} on {winner.get('runner')}: withdrawing")
        return envelope.block(env, STEP, f"claimed by another runner (run {winner['run_id']})",
                              {"claimed": False, "winner": winner})
    if env.get("round"):
        # A feedback round is taken when a finished claim of this round (same PR, same round number) is
        # there: another host ran it between our read and our claim. The listing we just made says so.
        done = _round_done(env["round"], comments, logins, env["run_id"])
        if done:
            tracker.delete_comment(comment["id"])
            if not had_running:
                tracker.remove_label(number, running)
            say(f"feedback round {env['round']['n']} on PR #{env['round']['pull']} was run by {done}: withdrawing")
            return envelope.block(env, STEP, f"round {env['round']['n']} on PR #{env['round']['pull']} was done by "
                                  f"another runner (run {done})", {"claimed": False})
        now = verdict
    else:
        # Won the claim; but a run that finished between our first read and our claim leaves the issue in
        # review or blocked (publish moves labels before it marks its claim done): then the work is not ours.
        now = judge(tracker.get_issue(number), {**labels, "running": "\0 not a label"})
    if now.mode == "child" and in_tree and now.reason.startswith(f"child of #{in_tree}:"):
        now.eligible = True
    if not now.eligible:
        tracker.delete_comment(comment["id"])
        if not had_running:  # never leave a label this runner added and no live runner owns
            tracker.remove_label(number, running)
        say(f"issue #{number} changed while claiming ({now.reason}): withdrawing")
        return envelope.block(env, STEP, f"not eligible any more: {now.reason}", {"claimed": False})
    removed = []
    if continuing and was_blocked:
        tracker.remove_label(number, blocked)
        removed.append(blocked)
        say(f"continuing run {continuing['run_id']}: removed {blocked}")
    remember_listing(env["run_id"], comment["id"], comments)
    say(f"claimed issue #{number} as run {env['run_id']}")
    env["claim"] = {
        "issue": _issue_summary(issue, verdict.mode),
        "runner": {"name": policy.runner_name, "host": socket.gethostname(), "pid": os.getpid()},
        "claimed_at": claim["claimed_at"], "lease_expires_at": claim["lease_expires_at"],
        "comment_id": comment["id"], "labels_added": [running], "labels_removed": removed,
    }
    if continuing:
        env["claim"]["continue_from"] = continuing
    return envelope.mark_done(env, STEP)
