"""cxo-eval run: throughput with a 2 s scripted agent at --jobs 1 and --jobs 4, and the evaluator's own time."""

import json
import os
import subprocess
import sys
import time

TITLE = "cxo-eval run (4 tasks, 2 s scripted agent; real pipeline, sandboxed hidden tests)"
TASKS = 4


def run(ctx) -> list[dict]:
    from tests.evaluate.history import eval_policy, local_history

    tasks = local_history(ctx.work / "eval-shop", TASKS + 1)[1:]
    tasks_file = ctx.work / "eval-tasks.jsonl"
    tasks_file.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    policy = eval_policy(ctx.work / "eval-policy.yaml", "right", sleep=2)
    env = {**os.environ, "PATH": os.pathsep.join([str(ctx.bin), os.environ.get("PATH", "")]),
           "VIRTUAL_ENV": str(ctx.root / ".venv")}
    rows, results = [], []
    for jobs in (1, 4):
        out = ctx.work / f"eval-out-{jobs}"
        started = time.perf_counter()
        done = subprocess.run([str(ctx.bin / "cxo-eval"), "run", "--tasks", str(tasks_file), "--out", str(out),
                               "--policy", str(policy), "--jobs", str(jobs)], capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - started
        if done.returncode:
            raise RuntimeError(done.stderr.strip().splitlines()[-1])
        summary = json.loads(done.stdout)
        rows.append({"what": f"--jobs {jobs}: wall time for {TASKS} tasks (resolved {summary['resolved']})",
                     "value": round(seconds, 2), "unit": "s"})
        rows.append({"what": f"--jobs {jobs}: throughput", "value": round(TASKS / seconds * 60, 1),
                     "unit": "tasks/min"})
        if jobs == 1:
            results = [json.loads((out / "tasks" / f"{t['instance_id']}.json").read_text()) for t in tasks]
    median = sorted(results, key=lambda r: r["overhead_seconds"])[len(results) // 2]
    rows += [
        {"what": "pipeline time per task (median, --jobs 1)",
         "value": sorted(r["wall_seconds"] for r in results)[len(results) // 2], "unit": "s"},
        {"what": "evaluator overhead per task beyond the pipeline (median)", "value": median["overhead_seconds"],
         "unit": "s", "target": 1.0},
        {"what": "  of which the task's repository and issue on the hub", "value": median["prepare_seconds"],
         "unit": "s"},
        {"what": "  of which the hidden tests (the project's test command, sandboxed)",
         "value": median["hidden_seconds"], "unit": "s"},
        {"what": "evaluator's own work per task (overhead minus hidden tests)",
         "value": round(median["overhead_seconds"] - median["hidden_seconds"], 3), "unit": "s", "target": 1.0},
    ]
    return rows


if __name__ == "__main__":
    sys.exit("run through bench/run.py: make bench ARGS=eval")
