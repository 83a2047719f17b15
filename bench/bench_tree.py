"""An issue tree of 12 children (a scripted agent sleeping known durations, concurrency 3): makespan against the
lower bound max(critical path, total work / concurrency), beside the seed's lock-step waves, and GitHub requests
per child."""

import json
import os
import sys
import time
from pathlib import Path

from bench.hubbench import TOKEN, Hub, make_target

TITLE = "agent:plan-auto tree of 12 children, concurrency 3 (scripted agent sleeping known durations)"
UNIT = 5.0  # seconds per unit of work: the runner's own time per child (~0.5 s) stays small beside it
CONCURRENCY = 3
# stable id: (units of work, dependencies)
GRAPH = {"a": (2, []), "b": (1, ["a"]), "c": (1, ["a"]), "d": (3, ["a"]), "e": (1, ["b"]), "f": (2, ["c"]),
         "g": (1, []), "h": (2, ["g"]), "i": (1, ["h"]), "j": (2, ["e", "f"]), "k": (1, ["d"]),
         "l": (1, ["j", "k", "i"])}

AGENT = """import json, os, pathlib, re, sys, time
prompt = sys.stdin.read()
report = pathlib.Path(os.environ['CODEX_ORCHESTRATOR_REPORT_FILE'])
if os.environ.get('CODEX_ORCHESTRATOR_ROLE') == 'plan':
    report.write_text(pathlib.Path(sys.argv[1]).read_text())
    sys.exit(0)
time.sleep(float(re.search(r'SLEEP=([0-9.]+)', prompt).group(1)))
n = os.environ['CODEX_ORCHESTRATOR_ISSUE_NUMBER']
pathlib.Path('work').mkdir(exist_ok=True)
pathlib.Path(f'work/{n}.txt').write_text(n)
report.write_text(json.dumps({'status': 'completed', 'summary': 'slept', 'changes': [f'work/{n}.txt'],
                              'validation': []}))
"""


def critical_path() -> float:
    memo: dict[str, float] = {}

    def finish(sid):
        if sid not in memo:
            units, deps = GRAPH[sid]
            memo[sid] = units * UNIT + max((finish(d) for d in deps), default=0)
        return memo[sid]

    return max(finish(s) for s in GRAPH)


def lockstep_waves() -> float:
    """The seed's makespan: wave after wave (all ready children), each wave waiting for its slowest slot."""
    done: set[str] = set()
    total = 0.0
    while len(done) < len(GRAPH):
        wave = sorted((s for s in GRAPH if s not in done and set(GRAPH[s][1]) <= done),
                      key=lambda s: -GRAPH[s][0])
        slots = [0.0] * CONCURRENCY
        for sid in wave:
            slots[slots.index(min(slots))] += GRAPH[sid][0] * UNIT
        total += max(slots)
        done |= set(wave)
    return total


def run(ctx) -> list[dict]:
    from cxo.runner import run_issue

    hub = Hub(ctx.work)
    try:
        os.environ.update({"GITHUB_TOKEN": TOKEN, "CXO_STATE_DIR": str(ctx.work / "tree-state")})
        nodes = [{"stableId": s, "title": f"part {s}", "body": f"Build part {s}. SLEEP={units * UNIT}",
                  "afkHitl": "afk", "ownershipScope": [f"work/{s}/**"], "dependsOn": deps,
                  "verification": ["the file exists"]} for s, (units, deps) in GRAPH.items()]
        plan = ctx.work / "plan.json"
        plan.write_text(json.dumps({"parent": {"title": "Twelve parts", "body": "PRD"},
                                    "graph": {"nodes": nodes, "edges": [], "specGate": "wave-level"}}))
        agent = ctx.work / "tree_agent.py"
        agent.write_text(AGENT)
        policy = {"codex": {"command": sys.executable, "args": [str(agent), str(plan)]}, "checks": [],
                  "concurrency": {"children": CONCURRENCY},
                  "reviewGates": {"quality": {"enabled": False}, "visualProof": {"enabled": False}}}
        owner, clone = make_target(hub, ctx.work, "tree", policy)
        for name in ("agent:running", "agent:child", "agent:review"):
            hub.call("POST", f"/repos/{owner}/tree/labels", {"name": name, "color": "ededed"})
        parent = hub.call("POST", f"/repos/{owner}/tree/issues", {"title": "Twelve parts", "body": "x",
                                                                   "labels": ["agent:plan-auto"]})
        before = hub.stats()["total"]
        started = time.perf_counter()
        final = run_issue(clone, parent["number"])
        makespan = time.perf_counter() - started
        requests = hub.stats()["total"] - before
        outcome = final["status"] if final["status"] == "ok" else f"blocked: {final['blocked']['reason'][:60]}"
        state = json.loads((ctx.work / "tree-state" / "trees" / f"{parent['number']}.json").read_text())
        timing = state["timing"]
        children_span = max(t["end"] for t in timing.values()) - min(t["start"] for t in timing.values())
        bound = max(critical_path(), sum(u for u, _ in GRAPH.values()) * UNIT / CONCURRENCY)
        rows = []
        for mode in ("declared", "computed"):
            rows += conflict_sets(ctx, hub, mode)
        return rows + [
            {"what": "outcome", "value": outcome, "unit": ""},
            {"what": "lower bound max(critical path, work / concurrency)", "value": bound, "unit": "s"},
            {"what": "children makespan (first start to last end)", "value": children_span, "unit": "s"},
            {"what": "children makespan / lower bound", "value": children_span / bound, "unit": "x",
             "target": 1.10},
            {"what": "seed's lock-step waves, same plan (computed)", "value": lockstep_waves(), "unit": "s"},
            {"what": "whole tree run (plan, children, integration PR)", "value": makespan, "unit": "s"},
            {"what": "GitHub requests per child (whole run / 12)", "value": requests / len(GRAPH),
             "unit": "requests", "target": 15},
        ]
    finally:
        hub.stop()


# Computed conflict sets: 6 children planned with disjoint scopes and no dependencies, concurrency 3. "api" changes
# core/m.py's f(x) into f(x, y); "use1".."use2" build on f(x) (their own tests pass on the old base); "ind1".."ind3"
# touch nothing of it. The sleeps make the api child merge while the users still work.
SEMANTIC = """import json, os, pathlib, re, sys, time
prompt = sys.stdin.read()
report = pathlib.Path(os.environ['CODEX_ORCHESTRATOR_REPORT_FILE'])
if os.environ.get('CODEX_ORCHESTRATOR_ROLE') == 'plan':
    report.write_text(pathlib.Path(sys.argv[1]).read_text())
    sys.exit(0)
part = re.search(r'PART=(\\w+)', prompt).group(1)
if part == 'api':
    pathlib.Path('core/m.py').write_text('def f(x, y):\\n    return x * y\\n')
    pathlib.Path('tests/test_m.py').write_text(
        'from core.m import f\\n\\n\\ndef test_f():\\n    assert f(2, 3) == 6\\n')
else:
    time.sleep(3)
    pathlib.Path(part).mkdir(exist_ok=True)
    if part.startswith('use'):
        pathlib.Path(f'{part}/use.py').write_text('from core.m import f\\n\\nVALUE = f(1)\\n')
        pathlib.Path(f'tests/test_{part}.py').write_text(
            f'from {part}.use import VALUE\\n\\n\\ndef test_value():\\n    assert VALUE == 1\\n')
    else:
        pathlib.Path(f'{part}/x.txt').write_text(part)
report.write_text(json.dumps({'status': 'completed', 'summary': part, 'changes': [], 'validation': []}))
"""
PARTS = ("api", "use1", "use2", "ind1", "ind2", "ind3")


def conflict_sets(ctx, hub, mode: str) -> list[dict]:
    """One tree run with planning.conflictSets = `mode`; then the integration branch's own tests."""
    import subprocess

    from bench.hubbench import git
    from cxo.runner import run_issue

    work = ctx.work / f"semantic-{mode}"
    work.mkdir()
    # The checks run `python` from PATH (the target's interpreter): this venv's, which has pytest.
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    os.environ["CXO_STATE_DIR"] = str(work / "state")
    nodes = [{"stableId": p, "title": f"part {p}", "body": f"Build part {p}. PART={p}", "afkHitl": "afk",
              "ownershipScope": [f"{'core' if p == 'api' else p}/**", f"tests/test_{p}.py"] if p != "api"
              else ["core/**", "tests/test_m.py"], "dependsOn": [], "verification": ["tests pass"]} for p in PARTS]
    plan = work / "plan.json"
    plan.write_text(json.dumps({"parent": {"title": "Six parts", "body": "PRD"},
                                "graph": {"nodes": nodes, "edges": [], "specGate": "wave-level"}}))
    agent = work / "agent.py"
    agent.write_text(SEMANTIC)
    policy = {"codex": {"command": sys.executable, "args": [str(agent), str(plan)]},
              "checks": [{"name": "tests", "command": "python -m pytest -q -p no:cacheprovider",
                          "timeoutSeconds": 120}],
              "concurrency": {"children": CONCURRENCY}, "planning": {"conflictSets": mode},
              "reviewGates": {"quality": {"enabled": False}, "visualProof": {"enabled": False}},
              "agent": {"readPaths": [str(ctx.work)]}}
    name = f"sem-{mode}"
    owner, clone = make_target(hub, work, name, policy)
    from cxo.gitutil import token_env

    (clone / "core").mkdir()
    (clone / "core" / "__init__.py").write_text("")
    (clone / "core" / "m.py").write_text("def f(x):\n    return x\n")
    (clone / "tests").mkdir()
    (clone / "tests" / "test_base.py").write_text("def test_base():\n    assert True\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "core")
    git(clone, "push", "-q", "origin", "main", env=token_env(TOKEN))
    git(clone, "fetch", "-q", "origin")
    for label in ("agent:running", "agent:child", "agent:review"):
        hub.call("POST", f"/repos/{owner}/{name}/labels", {"name": label, "color": "ededed"})
    parent = hub.call("POST", f"/repos/{owner}/{name}/issues", {"title": "Six parts", "body": "x",
                                                                 "labels": ["agent:plan-auto"]})
    started = time.perf_counter()
    final = run_issue(clone, parent["number"])
    makespan = time.perf_counter() - started
    state = json.loads((work / "state" / "trees" / f"{parent['number']}.json").read_text())
    merged = sorted(state.get("merged") or {})
    outcome = final["status"] if final["status"] == "ok" else f"blocked: {final['blocked']['reason'][:70]}"
    check = Path(final["worktree"]["path"])  # the integration worktree, published or not
    green = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=check,
                           capture_output=True).returncode == 0
    rebased = sum(1 for p in (work / "state").glob("runs/**/*-gate.json")
                  if ((json.loads(p.read_text()).get("tree") or {}).get("conflict_set") or {}).get("rebased"))
    timing = state["timing"]
    span = max(t["end"] for t in timing.values()) - min(t["start"] for t in timing.values())
    return [{"what": f"conflict sets {mode}: the tree run", "value": outcome, "unit": ""},
            {"what": f"conflict sets {mode}: children merged / integration tests", "unit": "",
             "value": f"{len(merged)} of {len(PARTS)} merged; integration {'green' if green else 'BROKEN'}"},
            {"what": f"conflict sets {mode}: children brought onto the integration head", "value": rebased,
             "unit": "children"},
            {"what": f"conflict sets {mode}: children makespan / whole run", "value": f"{span:.1f} / {makespan:.1f}",
             "unit": "s"}]
