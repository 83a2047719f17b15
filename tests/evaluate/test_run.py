"""cxo-eval run and compare: SWE-bench tasks through the real pipeline (hub, git, sandbox, scripted agents of
known quality), scored by their hidden tests; resume; bad input."""

import json

import pytest

from cxo import schemas
from tests.evaluate.history import cxo_eval, eval_policy, local_history

# What each scripted agent is built to score on every task (tests/evaluate/eval_agent.py).
EXPECTED = {
    "right": {"resolved": 2, "published": 2, "blocked": 0, "false_accepts": 0, "false_blocks": 0},
    "overfit": {"resolved": 0, "published": 2, "blocked": 0, "false_accepts": 2, "false_blocks": 0},
    "breaker": {"resolved": 0, "published": 0, "blocked": 2, "false_accepts": 0, "false_blocks": 0},
    "lazy": {"resolved": 0, "published": 0, "blocked": 2, "false_accepts": 0, "false_blocks": 2},
}
BLOCKED_AT = {"breaker": "checks", "lazy": "tdd"}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """Each agent over the same two SWE-bench-format tasks (written as a dataset holds them)."""
    import os
    import sys
    from pathlib import Path

    work = tmp_path_factory.mktemp("eval")
    saved = dict(os.environ)
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    if sys.prefix != sys.base_prefix:
        os.environ["VIRTUAL_ENV"] = sys.prefix
    try:
        tasks = local_history(work / "shop", 3)[1:]  # fn_2 and fn_3: PASS_TO_PASS holds an earlier fix's test
        tasks_file = work / "tasks.jsonl"
        tasks_file.write_text("".join(json.dumps(t) + "\n" for t in tasks))
        runs = {}
        for mode in EXPECTED:
            out = work / f"out-{mode}"
            done = cxo_eval("run", "--tasks", str(tasks_file), "--out", str(out), "--jobs", "2",
                            "--policy", str(eval_policy(work / f"{mode}.yaml", mode)))
            runs[mode] = {"out": out, "stdout": done.stdout, "stderr": done.stderr}
        yield {"work": work, "tasks": tasks, "tasks_file": tasks_file, "runs": runs}
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_each_agent_scores_what_it_was_built_for(evaluated, mode):
    run = evaluated["runs"][mode]
    summary = json.loads((run["out"] / "summary.json").read_text())
    assert json.loads(run["stdout"]) == summary
    assert schemas.errors("eval-summary", summary) == []
    assert {k: summary[k] for k in EXPECTED[mode]} == EXPECTED[mode], summary
    assert summary["tasks"] == 2 and summary["errors"] == 0
    assert summary["resolve_rate"] == EXPECTED[mode]["resolved"] / 2
    low, high = summary["resolve_rate_ci95"]
    assert low <= summary["resolve_rate"] <= high
    assert summary["tokens"]["input_tokens"] == 2000 and summary["tokens"]["output_tokens"] == 400
    assert summary["cost"] == pytest.approx(2 * (1000 * 2.0 + 200 * 10.0) / 1e6)
    for task in evaluated["tasks"]:
        result = json.loads((run["out"] / "tasks" / f"{task['instance_id']}.json").read_text())
        gates = {g["gate"]: g["verdict"] for g in result["gates"]}
        if mode in BLOCKED_AT:
            assert result["blocked"]["gate"] == BLOCKED_AT[mode] and gates[BLOCKED_AT[mode]] == "fail"
            assert result["pull_request"] is None
            assert result["hidden"]["source"] == "blocked run's kept work"
        else:
            assert set(gates.values()) <= {"pass", "skip"} and gates["tdd"] == "pass"
            assert result["pull_request"]["number"] > 0
            assert result["hidden"]["source"] == "pull request head"
        f2p, p2p = result["hidden"]["FAIL_TO_PASS"], result["hidden"]["PASS_TO_PASS"]
        assert list(f2p) == json.loads(task["FAIL_TO_PASS"])
        assert all(f2p.values()) == (mode in ("right", "breaker", "lazy"))
        assert all(p2p.values()) == (mode != "breaker")
        assert result["wall_seconds"] > 0 and result["overhead_seconds"] >= 0
    assert "2 task(s), 2 at a time" in run["stderr"] and "[2/2]" in run["stderr"]
    html = (run["out"] / "report.html").read_text()
    assert html.count("<svg") == 5 and "<script" not in html
    assert "Resolved" in (run["out"] / "report.md").read_text()


def test_compare_two_result_dirs(evaluated):
    runs = evaluated["runs"]
    done = cxo_eval("compare", str(runs["right"]["out"]), str(runs["overfit"]["out"]), "--json")
    report = json.loads(done.stdout)
    assert report["tasks"] == 2
    assert report["resolve_rate_difference"] == -1.0
    assert report["resolved_only_a"] == sorted(t["instance_id"] for t in evaluated["tasks"])
    assert report["resolved_only_b"] == []
    assert report["mcnemar_p"] == 0.5  # two discordant pairs, both one way: 2 * (1/2)^2
    assert [c["b"] for c in report["changed"]] == ["published, hidden tests fail"] * 2
    assert report["side_by_side"]["false_accepts"] == {"a": 0, "b": 2}
    text = cxo_eval("compare", str(runs["right"]["out"]), str(runs["right"]["out"])).stdout
    assert "McNemar exact p = 1" in text and "changed outcomes" not in text


def test_resume_after_a_kill_runs_only_the_unfinished_task(evaluated):
    import shutil

    source = evaluated["runs"]["right"]["out"]
    out = evaluated["work"] / "resumed"
    shutil.copytree(source / "tasks", out / "tasks")
    first, second = (t["instance_id"] for t in evaluated["tasks"])
    # What a kill during the second task leaves: the first task's result, the second's half-done work and a
    # result it was still writing.
    (out / "tasks" / f"{second}.json").rename(out / "tasks" / f".{second}.json.4242.tmp")
    (out / "work" / second / "repo").mkdir(parents=True)
    kept = (out / "tasks" / f"{first}.json").stat()
    done = cxo_eval("run", "--tasks", str(evaluated["tasks_file"]), "--out", str(out),
                    "--policy", str(evaluated["work"] / "right.yaml"))
    assert "1 of 2 task(s) already finished" in done.stderr and "[2/2]" in done.stderr
    again = (out / "tasks" / f"{first}.json").stat()
    assert (again.st_ino, again.st_mtime_ns) == (kept.st_ino, kept.st_mtime_ns)
    assert json.loads(done.stdout)["resolved"] == 2
    assert json.loads((out / "tasks" / f"{second}.json").read_text())["resolved"] is True


def _bad(tmp_path, text: str | None, *extra: str):
    tasks = tmp_path / "tasks.jsonl"
    if text is not None:
        tasks.write_text(text)
    done = cxo_eval("run", "--tasks", str(tasks), "--out", str(tmp_path / "out"), *extra, check=False)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "summary.json").exists()
    return done.stderr


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    task = {"instance_id": "a__b-1", "repo": "a/b", "base_commit": "abc", "problem_statement": "x",
            "test_patch": "", "FAIL_TO_PASS": ["t::x"], "PASS_TO_PASS": [], "repo_path": str(tmp_path)}
    assert "no such file" in _bad(tmp_path, None)
    line2 = _bad(tmp_path, json.dumps(task) + "\n{not json\n")
    assert "tasks.jsonl:2: not valid JSON" in line2
    missing = _bad(tmp_path, json.dumps({k: v for k, v in task.items() if k != "base_commit"}) + "\n")
    assert "tasks.jsonl:1: missing field 'base_commit'" in missing
    assert "FAIL_TO_PASS" in _bad(tmp_path, json.dumps({**task, "FAIL_TO_PASS": "[oops"}) + "\n")
    assert "repo_path" in _bad(tmp_path, json.dumps({**task, "repo_path": str(tmp_path / "gone")}) + "\n")
    assert "--policy" in _bad(tmp_path, json.dumps(task) + "\n", "--policy", str(tmp_path / "nope.yaml"))
    (tmp_path / "bad.yaml").write_text("codex: {command: 3}\n")
    assert "codex.command" in _bad(tmp_path, json.dumps(task) + "\n", "--policy", str(tmp_path / "bad.yaml"))
    compare = cxo_eval("compare", str(tmp_path / "x"), str(tmp_path / "y"), check=False)
    assert compare.returncode == 2 and "summary.json: no such file" in compare.stderr


def test_the_hidden_tests_run_after_the_policys_setup(tmp_path):
    """A project whose tests need a generated, git-ignored file: its own policy's `setup` makes it in the agent's
    tree and again in the tree where the hidden tests run. Its own trigger label starts the run."""
    setup = [{"name": "generate", "command": "echo FACTOR = 2 > app/generated.py"}]
    own = {"setup": setup, "labels": {"auto": "bot:go"}}
    tasks = local_history(tmp_path / "shop", 1, generated=True, policy=own)
    tasks_file = tmp_path / "tasks.jsonl"
    tasks_file.write_text(json.dumps(tasks[0]) + "\n")
    # The evaluation pushes from the user's clone: none of that clone's hooks may run.
    hook = tmp_path / "shop" / ".git" / "hooks" / "pre-push"
    hook.write_text(f"#!/bin/sh\ntouch {tmp_path / 'hook-ran'}\n")
    hook.chmod(0o755)
    done = cxo_eval("run", "--tasks", str(tasks_file), "--out", str(tmp_path / "out"),
                    "--policy", str(eval_policy(tmp_path / "right.yaml", "right")))
    result = json.loads((tmp_path / "out" / "tasks" / "acme__shop-1.json").read_text())
    assert result["hidden"]["PASS_TO_PASS"] == {"tests/test_base.py::test_double": True}, result
    assert json.loads(done.stdout)["resolved"] == 1
    assert not (tmp_path / "hook-ran").exists()


@pytest.mark.parametrize("how", ["SIGKILL to the process group", "SIGTERM to the command"])
def test_a_killed_evaluation_resumes_where_it_stopped(tmp_path, how):
    """Kill the evaluation while the second task's agent works: SIGKILL its whole process group (the command and
    its workers; each sandbox dies with its parent), or SIGTERM the command alone (it stops its workers and exits
    130). The same command again finishes only that task."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    tasks = local_history(tmp_path / "shop", 3)[1:]
    tasks_file = tmp_path / "tasks.jsonl"
    tasks_file.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    (tmp_path / "marks").mkdir()
    marker = tmp_path / "marks" / "paused"
    policy = eval_policy(tmp_path / "pausing.yaml", "right", pause=(3, marker))
    out = tmp_path / "out"
    argv = [str(Path(sys.executable).with_name("cxo-eval")), "run", "--tasks", str(tasks_file), "--out", str(out),
            "--policy", str(policy), "--jobs", "1"]
    killed = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(600):  # until the second task's agent says it is working (at most 2 minutes)
            if marker.exists() or killed.poll() is not None:
                break
            time.sleep(0.2)
        assert marker.exists(), "the second task's agent never started"
        if how.startswith("SIGTERM"):
            killed.send_signal(signal.SIGTERM)
            assert killed.wait(timeout=60) == 130
    finally:
        if killed.poll() is None:
            os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
    first, second = (t["instance_id"] for t in tasks)
    assert (out / "tasks" / f"{first}.json").is_file() and not (out / "tasks" / f"{second}.json").exists()
    kept = (out / "tasks" / f"{first}.json").stat()
    done = cxo_eval(*argv[1:])
    assert "1 of 2 task(s) already finished" in done.stderr and "[2/2]" in done.stderr
    again = (out / "tasks" / f"{first}.json").stat()
    assert (again.st_ino, again.st_mtime_ns) == (kept.st_ino, kept.st_mtime_ns)
    summary = json.loads(done.stdout)
    assert (summary["tasks"], summary["resolved"]) == (2, 2)
    assert [p.name for p in (out / "work").iterdir() if p.name.startswith(".hub-")] == []  # the dead run's hub too
