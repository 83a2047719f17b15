"""Plan approval (policy `planning.requireApproval`): an `agent:plan-auto` parent's plan waits for a maintainer.

The run plans as usual, then posts the plan on the parent in ONE runner-owned comment (children, dependencies,
ownership scopes, the Mermaid graph) whose marker carries the plan's digest and the digest of the parent's title
and body, embeds the plan itself (so any host or Actions job reads it from GitHub), creates no child issue
and ends `agent:blocked` ("plan awaits approval"). A later run of the parent then:

- creates the children from THE STORED PLAN (the agent is not asked again) when a trusted `<trigger> approve`
  comment newer than the posted plan, or the label `labels.planApproved`, approves it;
- plans again with the maintainer's guidance (fenced as their words) on a trusted `<trigger> replan <guidance>`,
  posts the new plan and waits again;
- plans again and waits again when the parent's title or body changed since the plan was posted (the old
  approval no longer counts: the approval label is taken off);
- otherwise waits again.

Trust is the `@cxo` commands' (lib/cxo/github/commands.py): github.trustedAuthorAssociations, never a bot or the runner.
The daemon's command pass removes `agent:blocked` from a waiting parent on such a command or the label, so the
parent becomes eligible in the same cycle.
"""

import hashlib
import json
import re

# The plan comment's markers and `awaiting` live with the other comment readers (commands.py), which the daemon's
# command pass reads without importing the tree.
from ..github.commands import PLAN_MARKER as MARKER  # noqa: E402
from ..github.commands import plan_awaiting as awaiting  # noqa: E402,F401


def plan_digest(report: dict) -> str:
    return hashlib.sha256(json.dumps(report, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def source_digest(issue: dict) -> str:
    return hashlib.sha256(f"{issue.get('title') or ''}\n{issue.get('body') or ''}".encode()).hexdigest()


def reason(policy) -> str:
    return (f"plan awaits approval: comment `{policy['feedback']['trigger']} approve` or add the label "
            f"{policy.label('planApproved')}")


REPORT = re.compile(r"<!-- cxo:plan-report ([A-Za-z0-9+/=]+) -->")
SEEN = re.compile(r"<!-- cxo:plan-seen (\d+) -->")
MAX_EMBEDDED = 48_000  # characters of the encoded plan (GitHub's comment limit is 65,536)


def _embedded(report: dict) -> str:
    """The plan itself, in the runner-written comment: a later job on a fresh clone (the Actions fan-out) reads
    the approved plan from GitHub, never from a disk it does not have."""
    import base64

    text = base64.b64encode(json.dumps(report, sort_keys=True, ensure_ascii=False).encode()).decode()
    return f"<!-- cxo:plan-report {text} -->" if len(text) <= MAX_EMBEDDED else ""


def pending(comments: list[dict], number: int, runner_logins: set[str]) -> dict | None:
    """The plan waiting (or approved) on the parent as its runner-written plan comment says: {report, plan, source,
    state, seen, comment_id}; None without one (or when its embedded plan does not match its digest)."""
    import base64

    from ..github.commands import PLAN_STATE

    for comment in comments:
        body = comment.get("body") or ""
        if MARKER.format(number) not in body or \
                str((comment.get("user") or {}).get("login") or "").lower() not in runner_logins:
            continue
        state, embedded, seen = PLAN_STATE.search(body), REPORT.search(body), SEEN.search(body)
        if not (state and embedded):
            return None
        try:
            report = json.loads(base64.b64decode(embedded.group(1)))
        except ValueError:
            return None
        if plan_digest(report) != state.group(1):
            return None
        return {"report": report, "plan": state.group(1), "source": state.group(2), "state": state.group(3),
                "seen": int(seen.group(1)) if seen else comment["id"], "comment_id": comment["id"]}
    return None


def comment_body(number: int, plan, report: dict, source: str, state: str, policy, seen: int = 0) -> str:
    from ..untrusted import one_line
    from . import report as tree_report

    trigger, label = policy["feedback"]["trigger"], policy.label("planApproved")
    numbers: dict[str, int] = {}
    headline = ("**Approved**: the children below are created from this plan." if state == "approved" else
                f"**This plan waits for approval.** Comment `{trigger} approve` (or add the label `{label}`) to "
                f"create the children and run them, or `{trigger} replan <guidance>` to plan again. Editing this "
                "issue's title or body asks for a new plan.")
    lines = [MARKER.format(number), f"<!-- cxo:plan-approval-state plan={plan_digest(report)} source={source} "
             f"state={state} -->" + _embedded(report) + f"<!-- cxo:plan-seen {int(seen)} -->",
             f"## Proposed issue tree for #{number}", "", headline, "",
             "| stable id | title | afk/hitl | depends on | ownership |", "| --- | --- | --- | --- | --- |"]
    for node in plan.nodes:
        lines.append(f"| `{one_line(node.stable_id, 80)}` | {one_line(node.title, 120).replace('|', '/')} | "
                     f"{'afk' if node.afk else 'hitl'} | {', '.join(node.depends_on) or '-'} | "
                     f"{one_line(', '.join(f'`{s}`' for s in node.scope), 300).replace('|', '/')} |")
    lines += [""] + tree_report.mermaid(plan, {}, numbers) + ["", f"Plan digest: `{plan_digest(report)[:16]}`"]
    return "\n".join(lines)


def post(tracker, policy, number: int, plan, report: dict, source: str, state: str, seen: int = 0) -> dict:
    """The one plan comment on the parent, made or edited in place. `seen`: the newest comment id when the plan
    was posted; approve and replan commands count only after it."""
    from ..steps import publish

    return publish.upsert_comment(tracker, number, MARKER.format(number),
                                  comment_body(number, plan, report, source, state, policy, seen))


def _guidance(body: str, trigger: str) -> str:
    from ..github.commands import _own_lines

    text = "\n".join(_own_lines(body))
    found = re.search(r"(?<![\w@/.-])" + re.escape(trigger) + r"(?![\w-])\s+replan\b", text, re.IGNORECASE)
    return text[found.end():].strip() if found else ""


def decide(policy, issue: dict, comments: list[dict], pending: dict, runner_logins: set[str]) -> tuple[str, str]:
    """(`approve` | `replan` | `wait`, guidance): the newest trusted approve/replan comment newer than the posted
    plan wins; without one, the approval label approves."""
    from ..github.commands import author_kind, parse_command

    trigger = policy["feedback"]["trigger"]
    trusted = {a.upper() for a in policy["github"]["trustedAuthorAssociations"]}
    newest = None
    for comment in sorted(comments, key=lambda c: c["id"]):
        if comment["id"] <= pending.get("seen", 0):
            continue
        command = parse_command(comment.get("body"), trigger)
        if command in ("approve", "replan") and author_kind(comment, trusted, runner_logins) == "trusted":
            newest = (command, comment)
    if newest and newest[0] == "replan":
        return "replan", _guidance(newest[1].get("body") or "", trigger)
    names = {(lab["name"] if isinstance(lab, dict) else lab).lower() for lab in issue.get("labels") or []}
    if newest or policy.label("planApproved").lower() in names:
        return "approve", ""
    return "wait", ""


def guidance_context(guidance: str, login: str = "") -> str:
    from ..untrusted import clean, fence

    if not guidance:
        return ""
    return ("## The maintainer's re-planning guidance\n\nA trusted maintainer asked for a new plan with this "
            "guidance; follow it.\n\n" + fence(clean(guidance), "the maintainer's words (re-planning guidance)"))
