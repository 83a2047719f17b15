"""Maintainer commands in issue comments: `@cxo run` and `@cxo plan` (the trigger is policy `feedback.trigger`).

On an open issue that has no trigger label, the newest unhandled command comment of a trusted author
(`github.trustedAuthorAssociations`; never a bot, never the runner itself) makes cxo add the trigger label
(`labels.auto` for run, `labels.planAuto` for plan), so the state stays visible in labels and the ordinary
pipeline picks the issue up. Anyone else's command is never executed: it gets at most an `eyes` reaction.

A handled command is marked by a runner-owned comment carrying `<!-- cxo:command comment=ID -->` (written
before the label, so a crash in between loses the command rather than repeating it) and a `+1` reaction. The
marker is what every host reads, so a command is acted on once across hosts; two hosts racing on the same
command at most both write the marker, and adding a label that is already there changes nothing. A command
older than the last removal of a trigger label is stale (the maintainer took the authorization back after it)
and is not acted on.

Cost: one comment listing (conditional, so a 304 when nothing changed) per open issue without a trigger label
that has comments; the issue's events only when it holds an unhandled trusted command.

`approve` and `replan` act on a blocked `agent:plan-auto` parent whose posted plan awaits approval
(tree/approval.py): a trusted one (or the label `labels.planApproved`) takes `agent:blocked` off, marked
handled the same way; the parent's next run reads the command itself. One more comment listing per blocked
plan-auto parent with comments.
"""

from __future__ import annotations

import re

from ..labels import label_names

COMMANDS = {"run": "auto", "plan": "planAuto"}
PLAN_COMMANDS = ("approve", "replan")  # on a parent whose plan awaits approval (lib/cxo/tree/approval.py)
# An issue tree's runner-owned plan comment (lib/cxo/tree/approval.py writes it) and whether it awaits approval.
PLAN_MARKER = "<!-- cxo:plan-approval issue={} -->"
PLAN_STATE = re.compile(r"<!-- cxo:plan-approval-state plan=([0-9a-f]+) source=([0-9a-f]+) "
                        r"state=(awaiting|approved) -->")
MARKER = re.compile(r"<!-- cxo:command comment=(\d+) -->")
HANDLED, IGNORED = "+1", "eyes"


def command_pattern(trigger: str) -> re.Pattern:
    """`<trigger> run|plan|approve|replan` as a word of its own, not inside a quote (`> ...` lines) or a longer
    mention."""
    return re.compile(r"(?<![\w@/.-])" + re.escape(trigger) + r"(?![\w-])\s+(run|plan|approve|replan)\b",
                      re.IGNORECASE)


def _own_lines(body: str | None) -> list[str]:
    """A comment's own words: without code spans, code blocks and quoted (`> ...`) lines."""
    text = re.sub(r"```.*?```|`[^`\n]*`", " ", body or "", flags=re.DOTALL)
    return [line for line in text.splitlines() if not line.lstrip().startswith(">")]


def parse_command(body: str | None, trigger: str) -> str | None:
    """The last command in a comment body (`run`, `plan`, `approve` or `replan`), ignoring quoted lines and code;
    None without one."""
    found = None
    pattern = command_pattern(trigger)
    for line in _own_lines(body):
        for match in pattern.finditer(line):
            found = match.group(1).lower()
    return found


def mentions(body: str | None, trigger: str) -> bool:
    """Whether a comment's own words contain the trigger (as a word of its own)."""
    pattern = re.compile(r"(?<![\w@/.-])" + re.escape(trigger) + r"(?![\w-])", re.IGNORECASE)
    return any(pattern.search(line) for line in _own_lines(body))


def is_bot(user: dict | None) -> bool:
    user = user or {}
    return str(user.get("login") or "").lower().endswith("[bot]") or user.get("type") == "Bot"


def author_kind(comment: dict, trusted: set[str], runner_logins: set[str]) -> str:
    """`runner`, `bot`, `trusted` or `untrusted`: who wrote a command comment."""
    user = comment.get("user") or {}
    if str(user.get("login") or "").lower() in runner_logins:
        return "runner"
    if is_bot(user):
        return "bot"
    return "trusted" if str(comment.get("author_association") or "NONE").upper() in trusted else "untrusted"


def _stale_before(tracker, number: int, trigger_labels: set[str]) -> str:
    """When a trigger label was last removed from the issue ('' if never): older commands are stale."""
    removed = [e.get("created_at") or "" for e in tracker.list_issue_events(number)
               if e.get("event") == "unlabeled" and str((e.get("label") or {}).get("name") or "").lower()
               in trigger_labels]
    return max(removed, default="")


def issue_commands(policy, tracker, issue: dict, runner_logins: set[str]) -> list[dict]:
    """What the commands on one issue ask for: one entry per command comment not yet handled, each with the
    `action` cxo takes: `add-label` (the newest trusted one), `superseded` (an older trusted one), `stale`,
    `ignore-untrusted`, `ignore-bot` or `ignore-runner`."""
    labels = policy.labels
    trigger = policy["feedback"]["trigger"]
    trusted = {a.upper() for a in policy["github"]["trustedAuthorAssociations"]}
    comments = tracker.list_comments(issue["number"])
    handled = {int(m.group(1)) for c in comments
               if str((c.get("user") or {}).get("login") or "").lower() in runner_logins
               for m in MARKER.finditer(c.get("body") or "")}
    found = []
    for comment in comments:
        command = parse_command(comment.get("body"), trigger)
        if command not in COMMANDS or comment["id"] in handled:
            continue
        kind = author_kind(comment, trusted, runner_logins)
        found.append({"issue": issue["number"], "comment_id": comment["id"],
                      "author": (comment.get("user") or {}).get("login"),
                      "author_association": comment.get("author_association"), "command": command,
                      "label": labels[COMMANDS[command]], "created_at": comment.get("created_at") or "",
                      "action": "add-label" if kind == "trusted" else f"ignore-{kind}",
                      "reactions": comment.get("reactions") or {}})
    commands = [c for c in found if c["action"] == "add-label"]
    if commands:
        since = _stale_before(tracker, issue["number"], {labels["auto"].lower(), labels["planAuto"].lower()})
        for item in commands:
            if item["created_at"] < since:
                item["action"] = "stale"
        fresh = [c for c in commands if c["action"] == "add-label"]
        for item in fresh[:-1]:
            item["action"] = "superseded"
    return found


def candidates(policy, issues: list[dict]) -> list[dict]:
    """Open issues (not PRs) without a trigger label that have comments."""
    triggers = {policy.labels["auto"].lower(), policy.labels["planAuto"].lower()}
    return [i for i in issues if i.get("pull_request") is None and i.get("state", "open") == "open"
            and (i.get("comments") or 0) > 0 and not ({n.lower() for n in label_names(i)} & triggers)]


def apply_issue_commands(policy, tracker, issues: list[dict], apply: bool = True,
                         runner_logins: set[str] | None = None, say=lambda message: None) -> list[dict]:
    """Find the command comments on `issues` and, with `apply`, act on them (see the module docstring).

    Returns one entry per unhandled command comment (`issue`, `comment_id`, `author`, `command`, `label`,
    `action`, and `done` when applied). With apply=False nothing is written: cxo-status shows what would happen."""
    from ..connect import runner_logins as logins_of

    todo = candidates(policy, issues)
    waiting = waiting_parents(policy, issues)
    if not todo and not waiting:
        return []
    logins = runner_logins if runner_logins is not None else logins_of(policy, tracker)
    out = plan_approvals(policy, tracker, waiting, apply, logins, say)
    for issue in sorted(todo, key=lambda i: i["number"]):
        for item in issue_commands(policy, tracker, issue, logins):
            reactions = item.pop("reactions")
            item["done"] = False
            if apply and item["action"] == "add-label":
                tracker.create_comment(issue["number"], (
                    f"cxo: @{item['author']} asked to {item['command']} this issue; added `{item['label']}`.\n\n"
                    f"<!-- cxo:command comment={item['comment_id']} -->"))
                tracker.add_labels(issue["number"], [item["label"]])
                tracker.react_to_comment(item["comment_id"], HANDLED)
                item["done"] = True
                say(f"issue #{issue['number']}: {item['command']} by @{item['author']}: added {item['label']}")
            elif apply and item["action"] == "ignore-untrusted" and not reactions.get(IGNORED):
                tracker.react_to_comment(item["comment_id"], IGNORED)
                say(f"issue #{issue['number']}: ignored {item['command']} by @{item['author']} "
                    f"({item['author_association']}: not trusted)")
            out.append(item)
    return out


def waiting_parents(policy, issues: list[dict]) -> list[dict]:
    """Open blocked `agent:plan-auto` parents: the ones whose plan may await approval."""
    want = {policy.labels["planAuto"].lower(), policy.labels["blocked"].lower()}
    return [i for i in issues if i.get("pull_request") is None and i.get("state", "open") == "open"
            and want <= {n.lower() for n in label_names(i)}]


def plan_approvals(policy, tracker, parents: list[dict], apply: bool, logins: set[str], say) -> list[dict]:
    """`<trigger> approve` / `<trigger> replan` (or the label labels.planApproved) on a parent whose posted plan
    awaits approval: the blocked label comes off, so the parent's next run acts on it (tree/approval.py reads
    the command itself). Actions: `unblock`, `ignore-untrusted`, `ignore-bot`, `ignore-runner`."""

    labels = policy.labels
    trigger = policy["feedback"]["trigger"]
    trusted = {a.upper() for a in policy["github"]["trustedAuthorAssociations"]}
    out = []
    for issue in sorted(parents, key=lambda i: i["number"]):
        number = issue["number"]
        approved_label = labels["planApproved"].lower() in {n.lower() for n in label_names(issue)}
        if not (issue.get("comments") or 0) and not approved_label:
            continue
        comments = tracker.list_comments(number)
        if not plan_awaiting(comments, number, logins):
            continue
        handled = {int(m.group(1)) for c in comments
                   if str((c.get("user") or {}).get("login") or "").lower() in logins
                   for m in MARKER.finditer(c.get("body") or "")}
        items = []
        for comment in comments:
            command = parse_command(comment.get("body"), trigger)
            if command not in PLAN_COMMANDS or comment["id"] in handled:
                continue
            kind = author_kind(comment, trusted, logins)
            items.append({"issue": number, "comment_id": comment["id"],
                          "author": (comment.get("user") or {}).get("login"),
                          "author_association": comment.get("author_association"), "command": command,
                          "label": labels["blocked"], "created_at": comment.get("created_at") or "",
                          "action": "unblock" if kind == "trusted" else f"ignore-{kind}", "done": False,
                          "reactions": comment.get("reactions") or {}})
        if approved_label and not any(i["action"] == "unblock" for i in items):
            items.append({"issue": number, "comment_id": None, "author": None, "author_association": None,
                          "command": "approve", "label": labels["blocked"], "created_at": "",
                          "action": "unblock", "done": False, "reactions": {}})
        unblocked = False
        for item in items:
            reactions = item.pop("reactions")
            if apply and item["action"] == "unblock":
                if item["comment_id"] is not None:
                    tracker.create_comment(number, (
                        f"cxo: @{item['author']} asked to {item['command']} this plan; removed `{labels['blocked']}` "
                        f"so the next run acts on it.\n\n<!-- cxo:command comment={item['comment_id']} -->"))
                    tracker.react_to_comment(item["comment_id"], HANDLED)
                if not unblocked:
                    tracker.remove_label(number, labels["blocked"])
                    unblocked = True
                item["done"] = True
                say(f"issue #{number}: plan {item['command']}: removed {labels['blocked']}")
            elif apply and item["action"] == "ignore-untrusted" and not reactions.get(IGNORED):
                tracker.react_to_comment(item["comment_id"], IGNORED)
                say(f"issue #{number}: ignored {item['command']} by @{item['author']} "
                    f"({item['author_association']}: not trusted)")
            out.append(item)
    return out


def plan_awaiting(comments: list[dict], number: int, runner_logins: set[str]) -> bool:
    """Whether the parent's runner-owned plan comment says its plan waits for approval."""
    for comment in comments:
        body = comment.get("body") or ""
        if PLAN_MARKER.format(number) in body and str((comment.get("user") or {}).get("login") or "").lower() \
                in runner_logins:
            found = PLAN_STATE.search(body)
            return bool(found) and found.group(3) == "awaiting"
    return False
