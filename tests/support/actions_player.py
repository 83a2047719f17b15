"""Play the generated cxo.yml locally: job 1's own shell lists the matrix, job 2's own `cxo-run` step runs per
matrix entry on N "runners" at a time, each with its own clone, RUNNER_TEMP, GITHUB_OUTPUT and step summary.

Only the `${{ … }}` expressions the workflow uses are understood; an unknown one raises, so a changed workflow
makes the player (and its tests) fail loudly instead of running something else.
"""

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cxo import workflows

BIN = Path(sys.executable).parent
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
EMPTY_CONTEXTS = ("secrets.", "steps.app-token.", "vars.")  # not configured in a test: GitHub gives ''


def workflow() -> dict:
    return yaml.safe_load(workflows.files()[workflows.PATHS["run"]])


def step(job: dict, name: str) -> dict:
    (found,) = [s for s in job["steps"] if s.get("name") == name or s.get("id") == name]
    return found


def upload_step(job: dict) -> dict:
    (found,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    return found


def resolve(text: str, context: dict[str, str]) -> str:
    """`${{ a || b }}` with the values in `context`; secrets/steps/vars are empty."""

    def one(match):
        for alternative in match.group(1).split("||"):
            name = alternative.strip()
            if name.startswith(EMPTY_CONTEXTS):
                value = ""
            elif name in context:
                value = context[name]
            else:
                raise KeyError(f"the player does not know the expression {name!r} in {text!r}")
            if value:
                return value
        return ""

    return EXPRESSION.sub(one, str(text))


def step_env(found: dict, context: dict[str, str]) -> dict[str, str]:
    return {key: resolve(value, context) for key, value in (found.get("env") or {}).items()}


def base_env(token: str, api_url: str, runner_temp: Path) -> dict[str, str]:
    runner_temp.mkdir(parents=True, exist_ok=True)
    output, summary = runner_temp / "github-output", runner_temp / "step-summary.md"
    output.touch()
    summary.touch()
    # `python` in the job's shell is the one cxo is installed in (setup-python + pip install, here the venv).
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "GITHUB_ACTIONS": "true", "GITHUB_TOKEN": token,
            "GITHUB_API_URL": api_url, "RUNNER_TEMP": str(runner_temp), "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary)}


def parse_output_file(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT as the runner reads it: `name=value` lines and `name<<DELIM` heredocs."""
    values, lines, i = {}, text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i)
            values[name] = "\n".join(lines[i:end])
            i = end + 1
        else:
            name, sep, value = line.partition("=")
            assert sep, f"not an output line: {line!r}"
            values[name] = value
    return values


def list_matrix(clone: Path, token: str, api_url: str, runner_temp: Path, requested: str = "") -> list[int]:
    """Job 1: its `List eligible issues` step's shell, run by bash in the checkout; returns fromJSON(issues)."""
    import json

    return json.loads(eligible_outputs(clone, token, api_url, runner_temp, requested)["issues"])


def eligible_outputs(clone: Path, token: str, api_url: str, runner_temp: Path, requested: str = "",
                     tree: str = "") -> dict[str, str]:
    """Job 1's outputs (`issues`, `tree`, `more-trees`) as its `outputs:` map them."""
    job = workflow()["jobs"]["eligible"]
    found = step(job, "list")
    env = base_env(token, api_url, runner_temp)
    env.update(step_env(found, {"github.token": token, "inputs.issue": requested, "inputs.tree": tree}))
    proc = subprocess.run(["bash", "-e", "-c", found["run"]], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]  # workflow commands go to stdout
    outputs = parse_output_file(Path(env["GITHUB_OUTPUT"]).read_text())
    return {name: resolve(value, {f"steps.list.outputs.{k}": v for k, v in outputs.items()})
            for name, value in job["outputs"].items()}


@dataclass
class RunnerResult:
    issue: int
    returncode: int
    stderr: str
    outputs: dict[str, str]
    summary: str
    artifact: Path
    runner_temp: Path = field(repr=False)


def run_entry(issue: int, clone_url: str, token: str, api_url: str, work: Path) -> RunnerResult:
    """Job 2 for one matrix entry on a fresh runner: checkout (its own clone), then the `cxo-run` step."""
    from cxo.gitutil import token_env

    job = workflow()["jobs"]["run"]
    runner = work / f"runner-{issue}"
    clone, runner_temp = runner / "checkout", runner / "temp"
    runner.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", clone_url, str(clone)], check=True, capture_output=True,
                   env={**os.environ, **token_env(token)})
    context = {"runner.temp": str(runner_temp), "matrix.issue": str(issue), "github.token": token}
    found = step(job, "cxo")
    env = base_env(token, api_url, runner_temp)
    env.update(step_env(found, context))
    proc = subprocess.run(["bash", "-e", "-c", found["run"]], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=600)
    artifact = Path(resolve(upload_step(job)["with"]["path"], context))
    return RunnerResult(issue, proc.returncode, proc.stderr, parse_output_file(Path(env["GITHUB_OUTPUT"]).read_text()),
                        Path(env["GITHUB_STEP_SUMMARY"]).read_text(), artifact, runner_temp)


def play(clone: Path, clone_url: str, token: str, api_url: str, work: Path, runners: int) -> list[RunnerResult]:
    """Job 1 in `clone`, then job 2 for every matrix entry, `runners` at a time."""
    matrix = list_matrix(clone, token, api_url, work / "eligible-temp")
    with ThreadPoolExecutor(max_workers=runners) as pool:
        return list(pool.map(lambda n: run_entry(n, clone_url, token, api_url, work), matrix))


# --- the tree fan-out: tree -> child jobs -> next (dispatch) -> tree … --------------------------------------
@dataclass
class JobResult:
    job: str
    label: str
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]


def run_job(job_name: str, step_id: str, context: dict[str, str], clone_url: str, token: str, api_url: str,
            work: Path, label: str, checkout: bool = True) -> JobResult:
    """One job on a fresh runner: its own clone, RUNNER_TEMP and XDG_STATE_HOME, all deleted when the job ends, so
    nothing a later job reads can come from this runner's disk."""
    import shutil

    from cxo.gitutil import token_env

    job = workflow()["jobs"][job_name]
    runner = work / f"{job_name}-{label}"
    clone, runner_temp = runner / "checkout", runner / "temp"
    runner.mkdir(parents=True)
    if checkout:
        subprocess.run(["git", "clone", "-q", clone_url, str(clone)], check=True, capture_output=True,
                       env={**os.environ, **token_env(token)})
    else:
        clone.mkdir()
    found = step(job, step_id)
    env = base_env(token, api_url, runner_temp)
    env["XDG_STATE_HOME"] = str(runner / "xdg-state")
    env["GITHUB_REPOSITORY"] = "acme/widgets"
    env.update(step_env(found, {"runner.temp": str(runner_temp), "github.token": token, **context}))
    proc = subprocess.run(["bash", "-e", "-c", found["run"]], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=600)
    outputs = parse_output_file(Path(env["GITHUB_OUTPUT"]).read_text())
    shutil.rmtree(runner)
    return JobResult(job_name, label, proc.returncode, proc.stdout, proc.stderr,
                     {name: resolve(value, {f"steps.{step_id}.outputs.{k}": v for k, v in outputs.items()})
                      for name, value in (job.get("outputs") or {}).items()})


def play_tree(parent: int, clone_url: str, token: str, api, work: Path, runners: int,
              max_runs: int = 12, first: dict | None = None) -> list[list[JobResult]]:
    """Workflow runs for `parent`, each started by the previous run's dispatch (read back from the hub), until a
    run dispatches nothing. Returns each run's jobs. The first run is a dispatch with `tree` = parent, or an event
    with `first` as its inputs ({"tree": ""}: an issue comment, which lists the work with cxo-status)."""
    import json

    runs, inputs, seen = [], first if first is not None else {"tree": str(parent)}, len(api.admin(
        "GET", "/_hub/dispatches"))
    while inputs is not None:
        assert len(runs) < max_runs, "the tree never settled"
        n = len(runs)
        jobs: list[JobResult] = []
        eligible = eligible_outputs(_fresh(clone_url, token, work / f"run{n}-eligible"), token, api.url,
                                    work / f"run{n}-eligible-temp", tree=inputs["tree"])
        needs = {f"needs.eligible.outputs.{k}": v for k, v in eligible.items()}
        if not eligible.get("tree"):  # the tree job's `if:`
            runs.append(jobs)
            break
        tree = run_job("tree", "step", needs, clone_url, token, api.url, work, f"run{n}")
        jobs.append(tree)
        children = json.loads(tree.outputs.get("children") or "[]")
        child_result = "skipped"
        if children:  # the child job's `if:`
            with ThreadPoolExecutor(max_workers=runners) as pool:
                done = list(pool.map(lambda c, needs=needs, n=n: run_job(
                    "child", "cxo", {**needs, "matrix.issue": str(c)}, clone_url, token, api.url, work, f"run{n}-{c}"),
                    children))
            jobs += done
            child_result = "success" if all(j.returncode == 0 for j in done) else "failure"
        if eligible["more-trees"] != "[]" or child_result in ("success", "failure"):  # the next job's `if:`
            jobs.append(run_job("next", "Dispatch the next tree steps",
                                {**needs, "needs.child.result": child_result, "github.ref_name": "main"},
                                clone_url, token, api.url, work, f"run{n}", checkout=False))
        runs.append(jobs)
        dispatches = api.admin("GET", "/_hub/dispatches")
        new, seen = dispatches[seen:], len(dispatches)
        assert len(new) <= 1, new
        inputs = new[0]["inputs"] if new else None
    return runs


def _fresh(clone_url: str, token: str, path: Path) -> Path:
    from cxo.gitutil import token_env

    subprocess.run(["git", "clone", "-q", clone_url, str(path)], check=True, capture_output=True,
                   env={**os.environ, **token_env(token)})
    return path
