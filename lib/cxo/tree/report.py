"""The parent's runner-owned status comment (a Mermaid graph coloured by state and a table), edited in place,
and the integration PR's body."""

from ..untrusted import one_line
from .children import depends_text
from .plan import Plan

STATUS_MARKER = "<!-- cxo:tree-status issue={} -->"
PRD_MARKER = "<!-- cxo:tree-prd issue={} -->"
COLOURS = {"merged": "#2da44e", "running": "#0969da", "blocked": "#cf222e", "waiting": "#bf8700",
           "pending": "#8c959f"}


def _id(stable_id: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in stable_id)


def mermaid(plan: Plan, states: dict[str, str], numbers: dict[str, int]) -> list[str]:
    lines = ["```mermaid", "graph TD"]
    for node in plan.nodes:
        label = f"#{numbers.get(node.stable_id, '?')} {one_line(node.stable_id, 40)}".replace('"', "'")
        lines.append(f'  {_id(node.stable_id)}["{label}"]')
    for node in plan.nodes:
        lines += [f"  {_id(dep)} --> {_id(node.stable_id)}" for dep in node.depends_on]
    for state, colour in COLOURS.items():
        members = [_id(n.stable_id) for n in plan.nodes if states.get(n.stable_id, "pending") == state]
        if members:
            lines.append(f"  classDef {state} fill:{colour},color:#fff")
            lines.append(f"  class {','.join(members)} {state}")
    return lines + ["```"]


def table(plan: Plan, states: dict[str, str], numbers: dict[str, int], notes: dict[str, str]) -> list[str]:
    lines = ["| child | stable id | state | depends on | note |", "| --- | --- | --- | --- | --- |"]
    for node in plan.nodes:
        deps = depends_text(node, numbers) if node.depends_on else "-"  # `#10 (percent-fn)`, as the child says
        lines.append(f"| #{numbers.get(node.stable_id, '?')} | `{one_line(node.stable_id, 80)}` | "
                     f"{states.get(node.stable_id, 'pending')} | {one_line(deps, 200)} | "
                     f"{one_line(notes.get(node.stable_id, ''), 300).replace('|', '/')} |")
    return lines


def status_comment(number: int, plan: Plan, states, numbers, notes, headline: str) -> str:
    return "\n".join([STATUS_MARKER.format(number), f"## cxo issue tree for #{number}", "", headline, ""]
                     + mermaid(plan, states, numbers) + [""] + table(plan, states, numbers, notes))


def prd_comment(number: int, prd: str) -> str:
    from ..untrusted import clean

    return "\n".join([PRD_MARKER.format(number), f"## Plan (PRD) for #{number}", "",
                      "Written by the planning agent; the issue's own text above is unchanged.", "",
                      clean(prd)[:50000]])
