"""What may start now: dependencies merged, a free slot, and no running child whose ownership scope overlaps.

Pure: states in, stable ids out. Unlike the seed's lock-step waves, a child starts
as soon as it can; children that do not depend on a blocked child keep running.
"""

from .plan import Plan

DONE = "merged"  # integrated into the integration branch (or a closed hitl child)
STATES = ("pending", "running", DONE, "blocked", "waiting")  # waiting: a hitl child a human has not closed yet


def _fixed(pattern: str) -> str:
    """The literal directory prefix of a glob or path: what it can only match below."""
    out = []
    for part in pattern.strip().lstrip("/").split("/"):
        if any(c in part for c in "*?[") or not part:
            break
        out.append(part)
    return "/".join(out)


def overlaps(a: list[str], b: list[str]) -> bool:
    """Whether two ownership scopes may touch the same file (globs or paths; conservative: when unsure, yes)."""
    for x in a:
        for y in b:
            fx, fy = _fixed(x), _fixed(y)
            if not fx or not fy:  # a glob at the top level (`*.md`, `**/x`) can reach anything
                return True
            if fx == fy or fx.startswith(fy + "/") or fy.startswith(fx + "/"):
                return True
    return False


def startable(plan: Plan, states: dict[str, str], slots: int) -> list[str]:
    """Stable ids to start now, in plan order, at most `slots - running` of them."""
    running = [s for s, st in states.items() if st == "running"]
    free = slots - len(running)
    picked: list[str] = []
    for sid in plan.order():
        if free <= 0:
            break
        node = plan.node(sid)
        if states.get(sid, "pending") != "pending" or not node.afk:
            continue
        if any(states.get(d) != DONE for d in node.depends_on):
            continue
        if any(overlaps(node.scope, plan.node(o).scope) for o in running + picked):
            continue
        picked.append(sid)
        free -= 1
    return picked


def stuck(plan: Plan, states: dict[str, str]) -> dict[str, str]:
    """Pending children that can never start in this run, each with what it waits on."""
    out: dict[str, str] = {}
    for sid in plan.order():
        node = plan.node(sid)
        if states.get(node.stable_id, "pending") != "pending":
            continue
        if not node.afk:
            out[node.stable_id] = "a human (hitl child)"
            continue
        bad = [d for d in node.depends_on if states.get(d) in ("blocked", "waiting") or d in out]
        if bad:
            out[node.stable_id] = ", ".join(bad)
    return out
