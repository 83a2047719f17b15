"""`make demo`, the README's main-job command, end to end on a fresh work directory."""

import os
import subprocess
import sys


def run_demo(tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.run([sys.executable, "-m", "cxo.demo", "--dir", str(tmp_path / "demo")], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


def test_demo_opens_a_draft_pr_with_a_report_and_review_label(tmp_path):
    out = run_demo(tmp_path).stdout
    assert "outcome:   review (cxo-run exit 0)" in out
    assert "draft PR:  http://127.0.0.1:" in out and "draft=True" in out
    assert "labels:    agent:auto, agent:review" in out
    for gate in ("safety | ✅ pass", "checks | ✅ pass", "tdd | ✅ pass", "review | ✅ pass"):
        assert gate in out
    assert "Closes #1" in out
    # Run again in the same place (as `make demo` twice does): nothing of the first run is in the way.
    again = run_demo(tmp_path).stdout
    assert "outcome:   review (cxo-run exit 0)" in again and "labels:    agent:auto, agent:review" in again


def test_demo_tree_plans_two_children_runs_them_in_order_and_opens_one_integration_pr(tmp_path):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.run([sys.executable, "-m", "cxo.demo", "--tree", "--dir", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout
    assert "outcome:   review (cxo-run exit 0)" in out and "head=agent/tree-1-" in out
    assert "labels:    agent:plan-approved, agent:plan-auto, agent:review" in out  # approved with the label
    assert "the plan is posted on the parent and awaits approval" in proc.stderr
    assert "child:     #2 Add multiply to calc.ops (agent:auto, agent:child, agent:review)" in out
    assert "child:     #3 Add calc.power.power (agent:auto, agent:child, agent:review)" in out
    for closes in ("Closes #1", "Closes #2", "Closes #3"):
        assert closes in out
