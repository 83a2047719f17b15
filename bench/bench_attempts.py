"""Best-of-N (lib/cxo/attempts/): a scripted task set of 10 `agent:auto` issues whose agent passes with probability
0.4 per attempt (a deterministic seed per issue and attempt), run at N=1 and N=3: the resolved share (a draft PR
published) and what the agents spent. Expected: 0.4 at N=1, 1 - 0.6^3 = 0.784 at N=3."""

import os
import sys
import time

from bench.hubbench import TOKEN, Hub, make_target

TITLE = "best-of-N attempts: resolve rate and spend, 10 issues, p(pass) = 0.4 per attempt"
ISSUES = 10
P = 0.4
TOKENS = 1000  # what the scripted agent reports per run

AGENT = f'''
import hashlib, json, os, pathlib, re, sys, time
prompt = sys.stdin.read()
report = pathlib.Path(os.environ["CODEX_ORCHESTRATOR_REPORT_FILE"])
if os.environ.get("CODEX_ORCHESTRATOR_ROLE") == "review":
    report.write_text(json.dumps({{"verdict": "approve", "summary": "fine", "findings": []}}))
    sys.exit(0)
task, attempt = re.search(r"bench task (\\d+)", prompt).group(1), os.environ.get("CXO_ATTEMPT", "1")
u = int(hashlib.sha256(f"bench:{{task}}:{{attempt}}".encode()).hexdigest()[:8], 16) / 2 ** 32
print(json.dumps({{"usage": {{"input_tokens": {TOKENS * 3 // 4}, "cached_input_tokens": 0,
                              "output_tokens": {TOKENS // 4}}}}}), flush=True)
time.sleep(0.3)
pathlib.Path(f"CHANGE-{{attempt}}.md").write_text(f"attempt {{attempt}}\\n")
if u >= {P}:
    sys.exit(1)  # this attempt fails (its work stays in its tree)
report.write_text(json.dumps({{"status": "completed", "summary": "done", "changes": [f"CHANGE-{{attempt}}.md"],
                               "validation": []}}))
'''


def expected(n: int) -> float:
    return 1 - (1 - P) ** n


def phase(ctx, hub, n: int) -> dict:
    from cxo.runner import run_issue

    os.environ["CXO_STATE_DIR"] = str(ctx.work / f"state-{n}")
    script = ctx.work / "attempts_agent.py"
    script.write_text(AGENT)
    agent = {"command": sys.executable, "args": [str(script)]}
    policy = {"codex": agent, "checks": [], "agent": {"attempts": n, "readPaths": [str(ctx.work)]},
              "reviewGates": {"reviewer": agent, "quality": {"enabled": False}, "visualProof": {"enabled": False}}}
    owner, clone = make_target(hub, ctx.work, f"attempts-{n}", policy)
    resolved, agent_seconds, tokens, walls, runs, passed = 0, 0.0, 0, [], 0, 0
    for i in range(ISSUES):
        issue = hub.call("POST", f"/repos/{owner}/attempts-{n}/issues",
                         {"title": f"bench task {i}", "body": "x", "labels": ["agent:auto"]})
        started = time.perf_counter()
        final = run_issue(clone, issue["number"])
        walls.append(time.perf_counter() - started)
        resolved += final["status"] == "ok" and bool((final.get("publish") or {}).get("pull_request"))
        items = (final.get("attempts") or {}).get("items") or [
            {"agent_seconds": (final.get("codex") or {}).get("duration_seconds"),
             "usage": (final.get("codex") or {}).get("usage")}]
        for item in items:
            runs += 1
            passed += bool(item.get("passed", final["status"] == "ok"))
            agent_seconds += float(item.get("agent_seconds") or 0)
            tokens += int((item.get("usage") or {}).get("total_tokens") or 0)
    walls.sort()
    return {"resolved": resolved / ISSUES, "passed": passed / runs, "agent_seconds": agent_seconds, "tokens": tokens,
            "runs": runs, "wall": walls[len(walls) // 2], "wall_total": sum(walls)}


def run(ctx) -> list[dict]:
    hub = Hub(ctx.work)
    try:
        os.environ["GITHUB_TOKEN"] = TOKEN
        rows = []
        for n in (1, 3):
            got = phase(ctx, hub, n)
            rows += [
                {"what": f"N={n}: resolved share of {ISSUES} issues (expected {expected(n):.3f})",
                 "value": got["resolved"], "unit": "share"},
                {"what": f"N={n}: agent runs, all issues", "value": got["runs"], "unit": "runs"},
                {"what": f"N={n}: share of the agent runs that passed (p = {P})", "value": round(got["passed"], 3),
                 "unit": "share"},
                {"what": f"N={n}: tokens the agents reported, all issues", "value": got["tokens"], "unit": "tokens"},
                {"what": f"N={n}: agent time, all attempts of all issues", "value": round(got["agent_seconds"], 1),
                 "unit": "s"},
                {"what": f"N={n}: wall time per issue (median; total {got['wall_total']:.0f} s)",
                 "value": round(got["wall"], 2), "unit": "s"},
            ]
        return rows + with_eval(ctx)
    finally:
        hub.stop()


EVAL_TASKS = 8


def with_eval(ctx) -> list[dict]:
    """The same comparison through cxo-eval: SWE-bench-format tasks, an agent right with p = 0.4 per attempt (else it
    breaks an existing test), hidden tests deciding what is resolved; N=1 and N=3 over the same tasks."""
    import json
    import subprocess

    import yaml

    from tests.evaluate.history import eval_policy, local_history

    tasks = local_history(ctx.work / "attempts-shop", EVAL_TASKS + 1)[1:]
    tasks_file = ctx.work / "attempts-tasks.jsonl"
    tasks_file.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    env = {**os.environ, "PATH": os.pathsep.join([str(ctx.bin), os.environ.get("PATH", "")]),
           "VIRTUAL_ENV": str(ctx.root / ".venv")}
    rows = []
    for n in (1, 3):
        path = eval_policy(ctx.work / f"attempts-eval-{n}.yaml", f"coin:{P}")
        policy = yaml.safe_load(path.read_text())
        policy["agent"] = {**(policy.get("agent") or {}), "attempts": n}
        path.write_text(yaml.safe_dump(policy, sort_keys=False))
        out = ctx.work / f"attempts-eval-out-{n}"
        done = subprocess.run([str(ctx.bin / "cxo-eval"), "run", "--tasks", str(tasks_file), "--out", str(out),
                               "--policy", str(path), "--jobs", "2"], capture_output=True, text=True, env=env)
        if done.returncode:
            raise RuntimeError(done.stderr.strip().splitlines()[-1])
        summary = json.loads(done.stdout)
        low, high = summary["resolve_rate_ci95"]
        tokens = summary["tokens"]
        total = tokens.get("total_tokens") if isinstance(tokens, dict) else tokens
        rows += [{"what": f"cxo-eval, {EVAL_TASKS} tasks, N={n}: resolve rate (95% interval) ",
                  "value": f"{summary['resolve_rate']:.2f} ({low:.2f}-{high:.2f})", "unit": ""},
                 {"what": f"cxo-eval, N={n}: false accepts / blocked", "unit": "",
                  "value": f"{summary['false_accepts']} / {summary['blocked']}"},
                 {"what": f"cxo-eval, N={n}: tokens and cost (runner.prices)", "unit": "",
                  "value": f"{total} tokens, {summary['cost']} {summary.get('currency') or ''}".strip()}]
    return rows
