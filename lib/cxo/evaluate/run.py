"""`cxo-eval run`: every task through the real pipeline on an embedded hub, then its hidden tests.

Each task gets its own repository on one hub that this command starts: the task's repository at its
base commit plus one commit with the evaluation's policy (the repository's own policy at that commit,
the --policy file over it, the hub's address over both), an `agent:auto` issue holding the problem
statement, and `cxo.runner.run_issue` with the configured agent, in a process of its own. Afterwards,
outside anything the agent or the gates saw, the task's test_patch is laid over the result (the draft
PR's head, or a blocked run's kept work) and FAIL_TO_PASS and PASS_TO_PASS run, sandboxed, with the
policy's test command. Each task's result is written atomically to OUT/tasks/<instance_id>.json; a
task with a result file is never run again, so a killed evaluation resumes where it stopped.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..errors import CxoError
from . import testrun
from .tasks import atomic_write, test_ids

TOKEN = "as:cxo-eval"
OWNER = "cxo-eval"
GIT_ID = {"GIT_AUTHOR_NAME": "cxo eval", "GIT_AUTHOR_EMAIL": "eval@cxo.invalid",
          "GIT_COMMITTER_NAME": "cxo eval", "GIT_COMMITTER_EMAIL": "eval@cxo.invalid", "GIT_CONFIG_NOSYSTEM": "1"}


def result_path(out: Path, task: dict) -> Path:
    return out / "tasks" / f"{task['instance_id']}.json"


def finished(out: Path, task: dict) -> dict | None:
    """The task's result when an earlier run finished it (a complete, readable result file), else None."""
    try:
        data = json.loads(result_path(out, task).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("instance_id") == task["instance_id"] else None


def _call(api: str, method: str, path: str, body=None) -> dict:
    request = urllib.request.Request(
        api + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {TOKEN}", "Accept": "application/vnd.github+json",
                 "Content-Type": "application/json", "User-Agent": "cxo-eval"})
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read()
    return json.loads(text) if text else {}


def _git(cwd: Path, *args: str, token: str | None = None) -> str:
    """git with the runner's safe configuration (no hooks of the task's repository run), the evaluation's
    identity and, for the hub, its token as an HTTP header given on the command line's config."""
    import base64

    from ..gitutil import config_env

    pairs = []
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        pairs.append(("http.extraHeader", f"Authorization: Basic {basic}"))
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **GIT_ID, **config_env(pairs)})
    if done.returncode:
        last = (done.stderr or done.stdout).strip().splitlines()
        raise CxoError(f"git {args[0]} failed in {cwd}: {last[-1] if last else done.returncode}", 1)
    return done.stdout


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def task_policy(repo_path: Path, base: str, overlay: dict, forced: dict) -> dict:
    """The repository's own policy at `base` (if any), `overlay` (--policy) over it, `forced` over both."""
    import yaml

    from ..gitutil import git

    own = {}
    for name in ("config.yaml", "config.json"):
        text = git(repo_path, "cat-file", "blob", f"{base}:.codex-orchestrator/{name}", retcode=None)
        if text:
            own = yaml.safe_load(text) or {}
            break
    return merge(merge(own if isinstance(own, dict) else {}, overlay), forced)


def repo_name(task: dict) -> str:
    return task["instance_id"].replace("__", "--")[:90]


def prepare_repo(api: str, task: dict, work: Path, overlay: dict) -> tuple[Path, str, int]:
    """The task's repository on the hub (its base, then the evaluation's policy commit), a clone of it and the
    `agent:auto` issue; (clone, repository name, issue number)."""
    import yaml

    name = repo_name(task)
    repo = _call(api, "POST", "/user/repos", {"name": name})
    source = Path(os.path.expanduser(task["repo_path"])).resolve()
    _git(source, "push", "-q", repo["clone_url"], f"{task['base_commit']}:refs/heads/main", token=TOKEN)
    clone = work / "repo"
    _git(work, "clone", "-q", repo["clone_url"], str(clone))
    forced = {"github": {"owner": OWNER, "repo": name, "apiUrl": api},
              "runner": {"workspaceRoot": str(work / "worktrees"), "stateDir": str(work / "state")}}
    policy = task_policy(source, task["base_commit"], overlay, forced)
    (clone / ".codex-orchestrator").mkdir(exist_ok=True)
    (clone / ".codex-orchestrator" / "config.json").unlink(missing_ok=True)
    (clone / ".codex-orchestrator" / "config.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    _git(clone, "add", "-A", ".codex-orchestrator")
    _git(clone, "commit", "-q", "-m", "cxo eval policy")
    _git(clone, "push", "-q", "origin", "main", token=TOKEN)
    _git(clone, "fetch", "-q", "origin")
    title, _, body = task["problem_statement"].strip().partition("\n")
    label = (policy.get("labels") or {}).get("auto") or "agent:auto"  # the repository may name it otherwise
    issue = _call(api, "POST", f"/repos/{OWNER}/{name}/issues",
                  {"title": title.strip()[:250] or task["instance_id"], "body": body.strip(),
                   "labels": [label["name"] if isinstance(label, dict) else label]})
    return clone, name, issue["number"]


def result_tree(policy, clone: Path, final: dict, dest: Path) -> str:
    """Write what the run produced to `dest` (no git directory): the draft PR's head, or the files of a blocked
    run's kept worktree, or the base when no worktree was made. Returns which of these it was."""
    from ..gitutil import export_tree, git

    pushed = (final.get("publish") or {}).get("pushed_sha")
    if final.get("status") == "ok" and pushed:
        export_tree(clone, pushed, dest)
        return "pull request head"
    tree = Path((final.get("worktree") or {}).get("path") or "/nonexistent")
    if tree.is_dir():
        index = dest.parent / f"{dest.name}.index"
        index.unlink(missing_ok=True)
        # The runner's own view of the tree (gitutil.runner_view): the agent's repository is never read.
        git(tree, "add", "--all", ".", env={"GIT_INDEX_FILE": str(index)})
        sha = git(tree, "write-tree", env={"GIT_INDEX_FILE": str(index)}).strip()
        index.unlink(missing_ok=True)
        export_tree(clone, sha, dest)
        return "blocked run's kept work"
    export_tree(clone, "origin/main", dest)
    return "base (no work was kept)"


def hidden_tests(policy, clone: Path, task: dict, final: dict, work: Path) -> dict:
    """Lay test_patch over the result and run FAIL_TO_PASS and PASS_TO_PASS there."""
    tree = work / "hidden-tree"
    shutil.rmtree(tree, ignore_errors=True)
    source = result_tree(policy, clone, final, tree)
    base_files = {}
    for rel in testrun.patch_files(task["test_patch"]):
        done = subprocess.run(["git", "cat-file", "blob", f"{task['base_commit']}:{rel}"], cwd=clone,
                              capture_output=True)
        base_files[rel] = done.stdout if done.returncode == 0 else None
    problem = testrun.apply_test_patch(tree, task["test_patch"], base_files) or \
        testrun.setup(policy, tree, work / "hidden", "hidden")
    f2p, p2p = test_ids(task, "FAIL_TO_PASS"), test_ids(task, "PASS_TO_PASS")
    if problem:
        found = {}
    else:
        found = testrun.judge(policy, tree, f2p + p2p, work / "hidden", "hidden")
    shutil.rmtree(tree, ignore_errors=True)
    section = {"source": source, "problem": problem,
               "FAIL_TO_PASS": {t: found.get(t, False) for t in f2p},
               "PASS_TO_PASS": {t: found.get(t, False) for t in p2p}}
    section["passed"] = not problem and all(section["FAIL_TO_PASS"].values()) and all(section["PASS_TO_PASS"].values())
    return section


def _tokens(final: dict) -> dict:
    from ..usage import add, zero

    total = zero()
    # A best-of-N run spent what every attempt spent (its `codex` section is only the winner's).
    attempts = (final.get("attempts") or {}).get("items") or []
    spent = [item.get("usage") for item in attempts] if attempts else [(final.get("codex") or {}).get("usage")]
    for usage in spent:
        if isinstance(usage, dict):
            total = add(total, usage)
    return total


def cost(tokens: dict, prices: dict | None) -> float | None:
    """What the tokens cost at `prices` (runner.prices; measure/spend.py's one rule), rounded; None without."""
    from ..measure.spend import cost as priced

    value = priced(prices, tokens)
    return None if value is None else round(value, 6)


def prices(data: dict) -> dict | None:
    """The price table: runner.prices (the one the spend caps and cxo-metrics use); None when it is not set."""
    return (data.get("runner") or {}).get("prices") or None


def first_failed_gate(final: dict) -> str | None:
    blocked = final.get("blocked") or {}
    if not blocked:
        return None
    for verdict in (final.get("gate") or {}).get("verdicts") or []:
        if verdict.get("verdict") == "fail":
            return verdict["gate"]
    return blocked.get("step") or "unknown"


def evaluate(task: dict, settings: dict) -> dict:
    """One task end to end in this process (see the module docstring); writes and returns its result."""
    from .. import policy as policy_mod
    from ..connect import forget_token
    from ..runner import run_issue

    started = time.monotonic()
    out, api = Path(settings["out"]), settings["api"]
    work = out / "work" / task["instance_id"]
    shutil.rmtree(work, ignore_errors=True)  # what a killed evaluation left of this task
    work.mkdir(parents=True)
    os.environ.update({"GITHUB_TOKEN": TOKEN, "XDG_STATE_HOME": str(work / "xdg")})
    for name in ("GH_TOKEN", "CXO_STATE_DIR", "GITHUB_API_URL"):
        os.environ.pop(name, None)
    forget_token()
    log = open(work / "pipeline.log", "a", encoding="utf-8")  # noqa: SIM115 - closed below
    result = {"instance_id": task["instance_id"], "repo": task["repo"], "base_commit": task["base_commit"]}
    try:
        clone, name, number = prepare_repo(api, task, work, settings["overlay"])
        result.update(hub_repo=f"{OWNER}/{name}", issue_number=number,
                      prepare_seconds=round(time.monotonic() - started, 3))

        def say(message: str) -> None:
            log.write(f"{time.monotonic() - started:7.1f}s {message}\n")
            log.flush()

        pipeline_started = time.monotonic()
        final = run_issue(clone, number, say=say)
        pipeline_seconds = time.monotonic() - pipeline_started
        hidden_started = time.monotonic()
        policy = policy_mod.load(clone)
        hidden = hidden_tests(policy, clone, task, final, work)
        result["hidden_seconds"] = round(time.monotonic() - hidden_started, 3)
        published = final.get("status") == "ok" and bool((final.get("publish") or {}).get("pull_request"))
        pull = (final.get("publish") or {}).get("pull_request") or {}
        tokens = _tokens(final)
        result.update(
            outcome="published" if published else "blocked",
            blocked=({"step": final["blocked"]["step"], "reason": final["blocked"]["reason"],
                      "gate": first_failed_gate(final)} if final.get("blocked") else None),
            pull_request={"number": pull["number"], "html_url": pull.get("html_url")} if pull else None,
            gates=[{k: v.get(k) for k in ("gate", "verdict", "summary", "duration_seconds")}
                   for v in (final.get("gate") or {}).get("verdicts") or []],
            hidden=hidden, resolved=published and hidden["passed"],
            false_accept=published and not hidden["passed"], false_block=not published and hidden["passed"],
            tokens=tokens, cost=cost(tokens, prices(policy.data)),
            wall_seconds=round(pipeline_seconds, 3))
    except Exception as exc:  # a task that cannot run is a result too, never the end of the evaluation
        from ..redact import redact

        result.update(outcome="error", error=redact(f"{type(exc).__name__}: {exc}")[:500], blocked=None,
                      pull_request=None, gates=[], hidden=None, resolved=False, false_accept=False,
                      false_block=False, tokens=None, cost=None, wall_seconds=None)
    finally:
        log.close()
    result["eval_seconds"] = round(time.monotonic() - started, 3)
    result["overhead_seconds"] = round(result["eval_seconds"] - (result.get("wall_seconds") or 0), 3)
    atomic_write(result_path(out, task), json.dumps(result, indent=1, sort_keys=True) + "\n")
    return result


def _child(task: dict, settings: dict) -> dict:
    """A pool worker: one task, its own environment (the token, state directories) for its process only."""
    sys.stdout = sys.stderr  # nothing of the pipeline on the evaluation's stdout
    return evaluate(task, settings)


def _remove_dead_hubs(work: Path) -> None:
    """The hub directories of evaluations that were killed (their process is gone)."""
    for path in work.glob(".hub-*") if work.is_dir() else []:
        pid = path.name.removeprefix(".hub-")
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass


def run_tasks(tasks: list[dict], out: Path, overlay: dict, jobs: int, say) -> list[dict]:
    """Every task without a result yet, `jobs` at a time in worker processes, on one embedded hub."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from ..hub.server import HubServer

    todo = [t for t in tasks if finished(out, t) is None]
    done = len(tasks) - len(todo)
    if done:
        say(f"{done} of {len(tasks)} task(s) already finished: skipping them")
    _remove_dead_hubs(out / "work")
    if todo:
        hub_dir = out / "work" / f".hub-{os.getpid()}"
        shutil.rmtree(hub_dir, ignore_errors=True)
        hub = HubServer(hub_dir, port=0)
        hub.start()
        settings = {"out": str(out), "api": hub.url, "overlay": overlay}
        try:
            pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"))
            try:
                futures = {pool.submit(_child, task, settings): task for task in todo}
                for future in as_completed(futures):
                    task = futures[future]
                    result = future.result()
                    done += 1
                    what = result["outcome"] + (" (resolved)" if result.get("resolved") else "")
                    if result["outcome"] == "blocked":
                        what += f" at {(result.get('blocked') or {}).get('gate')}"
                    if result["outcome"] == "error":
                        what += f": {result.get('error')}"
                    say(f"[{done}/{len(tasks)}] {task['instance_id']}: {what} in {result['eval_seconds']:.1f}s")
            except BaseException:
                # Interrupted (Ctrl-C, SIGTERM): no new task starts and the running ones stop now (each worker's
                # sandbox dies with it); their results are not written, so the next run starts them again.
                workers = list((getattr(pool, "_processes", None) or {}).values())
                pool.shutdown(wait=False, cancel_futures=True)
                for worker in workers:
                    worker.terminate()
                for worker in workers:
                    worker.join(10)
                raise
            pool.shutdown()
        finally:
            hub.stop()
            shutil.rmtree(hub_dir, ignore_errors=True)
    return [finished(out, t) for t in tasks]
