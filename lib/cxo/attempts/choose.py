"""Which attempt is published: of those that passed every gate, the fewest review findings, then the smallest diff
(lines changed), then the least agent time; the earliest attempt when all of these are equal."""


def key(item: dict) -> tuple:
    return (item.get("findings") or 0, item["diff_lines"] if item.get("diff_lines") is not None else 1 << 40,
            item["agent_seconds"] if item.get("agent_seconds") is not None else float("inf"), item["k"])


def choose(items: list[dict]) -> tuple[int | None, str]:
    """The winner's k (None when no attempt passed) and why, in one runner-written sentence."""
    passed = sorted((i for i in items if i["passed"]), key=key)
    n = len(items)
    if not passed:
        return None, f"none of the {n} attempts passed every gate"
    best = passed[0]
    if len(passed) == 1:
        return best["k"], f"attempt {best['k']} is the only one of the {n} attempts that passed every gate"
    second = passed[1]
    if (best.get("findings") or 0) != (second.get("findings") or 0):
        why = (f"fewest review findings ({best.get('findings') or 0}, against {second.get('findings') or 0} for "
               f"attempt {second['k']})")
    elif best.get("diff_lines") != second.get("diff_lines"):
        why = (f"smallest diff ({best.get('diff_lines')} lines changed, against {second.get('diff_lines')} for "
               f"attempt {second['k']})")
    elif best.get("agent_seconds") != second.get("agent_seconds"):
        why = (f"least agent time ({best.get('agent_seconds') or 0:.1f}s, against "
               f"{second.get('agent_seconds') or 0:.1f}s for attempt {second['k']}), with as few findings and as "
               "small a diff")
    else:
        why = "the earliest of equally good attempts"
    return best["k"], f"attempt {best['k']} won of the {len(passed)} of {n} attempts that passed every gate: {why}"
