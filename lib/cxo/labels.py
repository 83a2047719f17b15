"""The label state machine: which issues may be started, and why the others are skipped."""

import re
from dataclasses import asdict, dataclass

# The runner writes the seed's hidden marker as the first line of every child issue it owns (the older
# `<!-- cxo:parent #N -->` form is still read).
PARENT_MARKER = re.compile(r"<!--\s*(?:cxo:parent\s*#?|codex-orchestrator:autonomous-child parent=#)(\d+)\s*-->")


def parent_marker(number: int) -> str:
    return f"<!-- cxo:parent #{number} -->"


def parent_of(issue: dict) -> int | None:
    match = PARENT_MARKER.search(issue.get("body") or "")
    return int(match.group(1)) if match else None


def label_names(issue: dict) -> list[str]:
    return [(lab["name"] if isinstance(lab, dict) else str(lab)) for lab in issue.get("labels") or []]


@dataclass
class Classification:
    number: int
    title: str
    mode: str | None  # "auto" | "plan-auto" | "child" | None
    eligible: bool
    reason: str
    labels: list[str]

    def to_json(self) -> dict:
        return asdict(self)


def runner_labels(labels: dict) -> set[str]:
    return {name.lower() for name in labels.values()}


def classify(issue: dict, labels: dict, open_numbers: set[int] | None = None) -> Classification:
    """Decide whether `issue` may be started. `labels` is the policy's label section.

    `open_numbers` (the open issues the caller already listed) lets a child be
    checked against its parent without another request.
    """
    names = label_names(issue)
    have = {n.lower() for n in names}
    lab = {k: v.lower() for k, v in labels.items()}

    def result(mode, eligible, reason):
        return Classification(issue["number"], issue.get("title", ""), mode, eligible, reason, names)

    triggers = [m for m, key in (("auto", "auto"), ("plan-auto", "planAuto")) if lab[key] in have]
    mode = triggers[0] if len(triggers) == 1 else ("child" if lab["child"] in have else None)
    if issue.get("pull_request") is not None:
        return result(None, False, "pull request")
    if issue.get("state") == "closed":
        return result(mode, False, "closed")
    for key, why in (
        ("manual", "manual: reserved for human work"),
        ("blocked", "blocked: needs maintainer input (remove the blocked label to retry)"),
        ("running", "running: a runner is working on it"),
        ("review", "review: a draft PR waits for human review"),
    ):
        if lab[key] in have:
            return result(mode, False, why)
    if len(triggers) > 1:
        return result(None, False, f"conflicting labels: {labels['auto']} and {labels['planAuto']}")
    if lab["child"] in have:
        parent = parent_of(issue)
        if parent is None:
            return result("child", False, "child without the runner's parent marker")
        if open_numbers is not None and parent not in open_numbers:
            return result("child", False, f"child of an unknown or closed parent #{parent}")
        if triggers and mode != "child" and triggers != ["auto"]:
            return result("child", False, f"conflicting labels: {labels['child']} with {labels['planAuto']}")
        # agent:child + agent:auto is the seed's normal afk child: it runs inside its parent's tree run only.
        return result("child", False, f"child of #{parent}: runs with its parent's tree")
    if not triggers:
        return result(None, False, "no trigger label")
    return result(mode, True, "eligible")
