"""Child issues: runner-owned, marked with the seed's parent marker, persisted by Stable ID, read back from GitHub.

Membership needs all three: the child label, this parent's marker as the body's
first line, and a runner login as the issue's author. Links, mentions,
milestones or sub-issue links alone never make an issue a child.
"""

import re

from .plan import Node, Plan

MARKER = re.compile(r"^<!--\s*codex-orchestrator:autonomous-child parent=#(\d+)\s*-->\s*$")
META_HEADING = "## codex-orchestrator metadata"


def marker(parent: int) -> str:
    return f"<!-- codex-orchestrator:autonomous-child parent=#{parent} -->"


def depends_text(node: Node, numbers: dict[str, int] | None = None) -> str:
    """`#10 (percent-fn), #11 (fmt)`: each dependency by its issue number, its stable id beside it; a
    dependency whose issue does not exist yet by its stable id alone (persist fills the number in)."""
    numbers = numbers or {}
    return ", ".join(f"#{numbers[d]} ({d})" if d in numbers else d for d in node.depends_on) or "none"


def render_body(node: Node, parent: int, numbers: dict[str, int] | None = None) -> str:
    """The seed's layout: marker first, the node's body, then the metadata section. `numbers` maps stable
    ids to issue numbers, so dependencies read as issue references."""
    lines = [marker(parent), node.body.strip(), "", META_HEADING, f"Stable ID: {node.stable_id}",
             f"AFK/HITL: {'afk' if node.afk else 'hitl'}", f"Depends on: {depends_text(node, numbers)}",
             "Ownership:"]
    lines += [f"- {s}" for s in node.scope] + ["Spec gate: wave-level", "Verification:"]
    lines += [f"- {v}" for v in node.verification]
    return "\n".join(lines)


def parent_of(issue: dict) -> int | None:
    first = (issue.get("body") or "").split("\n", 1)[0].strip()
    match = MARKER.match(first)
    return int(match.group(1)) if match else None


def is_child(issue: dict, parent: int, child_label: str, logins: set[str]) -> bool:
    names = {(lab["name"] if isinstance(lab, dict) else lab).lower() for lab in issue.get("labels") or []}
    author = ((issue.get("user") or {}).get("login") or "").lower()
    return child_label.lower() in names and parent_of(issue) == parent and author in logins \
        and issue.get("pull_request") is None


DEPENDENCY = re.compile(r"^#(\d+)\s*(?:\((.+)\))?$")


def _dependency(text: str, by_number: dict[int, str]) -> str:
    """A stable id from `#10 (percent-fn)`, `percent-fn` (written before #10 existed) or a hand-written `#10`
    (resolved through `by_number`, kept as written when it cannot be)."""
    match = DEPENDENCY.match(text)
    if not match:
        return text
    if match.group(2):
        return match.group(2).strip()
    return by_number.get(int(match.group(1)), text)


def parse(issue: dict, by_number: dict[int, str] | None = None) -> Node | None:
    """The child's node from its body (a maintainer's edits to the metadata are honoured); None if malformed.
    `by_number` (issue number -> stable id of this parent's children) resolves a bare `#N` dependency."""
    body = issue.get("body") or ""
    head, sep, meta = body.partition(META_HEADING)
    if not sep:
        return None
    fields: dict[str, list[str]] = {}
    current = None
    for line in meta.splitlines():
        line = line.rstrip()
        if line.startswith("- ") and current in ("Ownership", "Verification"):
            fields[current].append(line[2:].strip())
            continue
        key, colon, value = line.partition(":")
        if colon and key in ("Stable ID", "AFK/HITL", "Depends on", "Ownership", "Spec gate", "Verification"):
            current = key
            fields[key] = [value.strip()] if value.strip() else []
    sid = (fields.get("Stable ID") or [""])[0]
    if not sid:
        return None
    deps = (fields.get("Depends on") or ["none"])[0]
    text = head.split("\n", 1)[1] if "\n" in head else ""
    return Node(stable_id=sid, title=issue.get("title") or "", body=text.strip(),
                afk=(fields.get("AFK/HITL") or ["afk"])[0].lower() == "afk", scope=fields.get("Ownership") or [],
                depends_on=[] if deps.lower() == "none" else
                [_dependency(d.strip(), by_number or {}) for d in deps.split(",") if d.strip()],
                verification=fields.get("Verification") or [], issue_number=issue["number"])


def existing(tracker, parent: int, child_label: str, logins: set[str]) -> dict[str, dict]:
    """This parent's children on GitHub, by Stable ID."""
    found = {}
    for issue in tracker.list_issues(state="all", labels=[child_label]):
        if is_child(issue, parent, child_label, logins):
            node = parse(issue)
            if node:
                found[node.stable_id] = issue
    return found


def foreign_numbers(plan: Plan, current: dict[str, dict]) -> list[str]:
    """Problems with nodes that name an issue number which is not already a marked child of this parent."""
    ours = {issue["number"] for issue in current.values()}
    return [f"node {n.stable_id!r} names #{n.issue_number}, which is not a child of this parent: cxo never "
            "edits an arbitrary issue" for n in plan.nodes if n.issue_number and n.issue_number not in ours]


def persist(tracker, plan: Plan, parent: dict, labels: dict, logins: set[str], say) -> dict[str, dict]:
    """Create or update one child issue per node (by Stable ID, never twice), attach each as a sub-issue
    of the parent, and record its dependencies as blocked-by links. Returns {stable id: issue}."""
    number = parent["number"]
    current = existing(tracker, number, labels["child"], logins)
    out, created = {}, set()
    numbers = {sid: issue["number"] for sid, issue in current.items()}
    for node in plan.nodes:  # missing children first, each naming the dependencies that have a number so far
        if node.stable_id in current:
            continue
        state = labels["auto"] if node.afk else labels["manual"]
        issue = tracker.create_issue(node.title, render_body(node, number, numbers),
                                     labels=[labels["child"], state])
        created.add(issue["number"])
        numbers[node.stable_id] = issue["number"]
        current[node.stable_id] = issue
        say(f"created child #{issue['number']} ({node.stable_id})")
    for node in plan.nodes:  # every number known: a body that names a dependency without one is brought up to date
        issue = current[node.stable_id]
        body = render_body(node, number, numbers)
        if issue.get("body") != body or issue.get("title") != node.title:
            issue = tracker.update_issue(issue["number"], title=node.title, body=body)
            if issue["number"] in created:
                say(f"named the dependencies of child #{issue['number']} ({node.stable_id}) by issue number")
            else:
                say(f"updated child #{issue['number']} ({node.stable_id})")
                names = {lab["name"].lower() for lab in issue.get("labels") or []}
                if node.afk and labels["manual"].lower() in names:  # re-triaged from hitl to afk
                    tracker.add_labels(issue["number"], [labels["auto"]])
                    tracker.remove_label(issue["number"], labels["manual"])
        out[node.stable_id] = issue
    attached = {i["number"] for i in tracker.list_sub_issues(number)} if len(created) < len(out) else set()
    for node in plan.nodes:
        issue = out[node.stable_id]
        if issue["number"] not in attached:
            tracker.add_sub_issue(number, issue["id"])
        if node.depends_on:
            # A child made just now has no links yet: no need to ask.
            have = set() if issue["number"] in created else {
                i["number"] for i in tracker.list_blocked_by(issue["number"])}
            for dep in node.depends_on:
                if out[dep]["number"] not in have:
                    tracker.add_blocked_by(issue["number"], out[dep]["id"])
    return out
