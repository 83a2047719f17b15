"""A plan report (schema/plan-report.schema.json) -> a validated graph of child nodes. Pure: no I/O.

Every problem is listed, so a rejected plan says all that is wrong at once. The
seed's shape is accepted as is: `dependsOn` on each node and `edges` (from the
prerequisite to the dependent) are merged.
"""

import re
from dataclasses import dataclass, field

STABLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


@dataclass
class Node:
    stable_id: str
    title: str
    body: str
    afk: bool
    scope: list[str]
    depends_on: list[str]
    verification: list[str]
    issue_number: int | None = None


@dataclass
class Plan:
    title: str
    prd: str
    nodes: list[Node] = field(default_factory=list)

    def node(self, stable_id: str) -> Node:
        return next(n for n in self.nodes if n.stable_id == stable_id)

    def order(self) -> list[str]:
        """The stable ids in a dependency order (prerequisites first, ties by plan order)."""
        done: list[str] = []
        pending = [n.stable_id for n in self.nodes]
        while pending:
            ready = [s for s in pending if all(d in done for d in self.node(s).depends_on)]
            done += ready
            pending = [s for s in pending if s not in ready]
        return done


def problems(report: dict) -> list[str]:
    """Everything wrong with a (schema-valid) plan report's graph; empty when it can run."""
    graph = report["graph"]
    nodes = graph["nodes"]
    errors = []
    if not nodes:
        return ["the plan has no nodes: it must name at least one child issue"]
    ids = [n["stableId"] for n in nodes]
    for index, sid in enumerate(ids):
        if not sid.strip():
            errors.append(f"node {index + 1} has an empty stableId")
        elif not STABLE_ID.match(sid):
            errors.append(f"node {sid!r}: stableId may use letters, digits, '.', '_', '-' only")
        if ids.count(sid) > 1 and ids.index(sid) == index:
            errors.append(f"duplicate stableId {sid!r}")
    known = set(ids)
    edges_to: dict[str, list[str]] = {}
    for edge in graph.get("edges") or []:
        edges_to.setdefault(edge["to"], []).append(edge["from"])
    for node in nodes:
        sid = node["stableId"]
        if not [s for s in node["ownershipScope"] if s.strip()]:
            errors.append(f"node {sid!r} has no ownershipScope: name the paths it owns")
        if not [v for v in node["verification"] if v.strip()]:
            errors.append(f"node {sid!r} has no verification: say how the child is checked")
        for dep in list(node["dependsOn"]) + edges_to.get(sid, []):
            if dep == sid:
                errors.append(f"node {sid!r} depends on itself")
            elif dep not in known:
                errors.append(f"node {sid!r} depends on unknown node {dep!r}")
    for edge in graph.get("edges") or []:
        for end in ("from", "to"):
            if edge[end] not in known:
                errors.append(f"edge {edge['from']!r} -> {edge['to']!r} names unknown node {edge[end]!r}")
    if not errors:
        cycle = _cycle(ids, _dependencies(report))
        if cycle:
            errors.append("dependency cycle: " + " -> ".join(cycle))
    return errors


def _dependencies(report: dict) -> dict[str, list[str]]:
    deps = {n["stableId"]: list(dict.fromkeys(n["dependsOn"])) for n in report["graph"]["nodes"]}
    for edge in report["graph"].get("edges") or []:
        if edge["to"] in deps and edge["from"] not in deps[edge["to"]]:
            deps[edge["to"]].append(edge["from"])
    return deps


def _cycle(ids: list[str], deps: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(sid: str) -> list[str] | None:
        state[sid] = 1
        stack.append(sid)
        for dep in deps.get(sid, []):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if state.get(dep) is None:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[sid] = 2
        return None

    for sid in ids:
        if state.get(sid) is None:
            found = visit(sid)
            if found:
                return found
    return None


def build(report: dict) -> Plan:
    """The validated plan (call `problems` first: this assumes it returned nothing)."""
    deps = _dependencies(report)
    parent = report["parent"]
    return Plan(title=parent["title"], prd=parent["body"], nodes=[
        Node(stable_id=n["stableId"], title=n["title"], body=n["body"], afk=n["afkHitl"] == "afk",
             scope=[s for s in n["ownershipScope"] if s.strip()], depends_on=deps[n["stableId"]],
             verification=[v for v in n["verification"] if v.strip()], issue_number=n.get("issueNumber"))
        for n in report["graph"]["nodes"]])
