"""cxo-eval build over a real history on the hub: exactly the solved issues with a test change become tasks."""

import json
import subprocess

import pytest

from cxo import schemas
from tests.evaluate.history import cxo_eval, hub_history
from tests.support.git_fixtures import git

SOLVED = 22


@pytest.fixture
def shop(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "as:acme")
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    return hub_history(hub, tmp_path, SOLVED)


def test_build_finds_exactly_the_solved_issues_with_their_tests(shop, tmp_path):
    out = tmp_path / "tasks.jsonl"
    done = cxo_eval("build", "--target", str(shop["clone"]), "--out", str(out))
    tasks = [json.loads(line) for line in out.read_text().splitlines()]
    assert json.loads(done.stdout)["tasks"] == SOLVED
    assert [t["issue_number"] for t in tasks] == sorted(shop["solved"])
    assert not set(shop["decoys"]) & {t["issue_number"] for t in tasks}
    for task in tasks:
        assert schemas.errors("eval-task", task) == []
        k = shop["solved"][task["issue_number"]]
        assert task["instance_id"] == f"acme__shop-{task['issue_number']}"
        assert task["problem_statement"] == f"fn_{k} is wrong\nfn_{k} should return x + {k}, it returns x.\n"
        assert "edit" in task["problem_statement_source"]
        # Found by running the tests: the new test fails on the base and passes with the fix; what passed before
        # (the first test and every earlier fix's test) still passes.
        assert task["FAIL_TO_PASS"] == [f"tests/test_m_{k}.py::test_fn_{k}"]
        assert task["PASS_TO_PASS"] == sorted(["tests/test_base.py::test_double"]
                                              + [f"tests/test_m_{j}.py::test_fn_{j}" for j in range(1, k)])
        assert f"+++ b/tests/test_m_{k}.py" in task["test_patch"] and "app/" not in task["test_patch"]
        assert f"+++ b/app/m_{k}.py" in task["patch"] and "tests/" not in task["patch"]
        # The base is the PR's merge base: the fix is not in it, the fix before it is.
        clone = shop["clone"]
        assert git(clone, "show", f"{task['base_commit']}:app/m_{k}.py") == f"def fn_{k}(x):\n    return x\n"
        if k > 1:
            assert f"+ {k - 1}" in git(clone, "show", f"{task['base_commit']}:app/m_{k - 1}.py")
        assert task["repo_path"] == str(clone)
    # The test patch applies to the base as written (git apply --check in a scratch worktree).
    first = tasks[0]
    scratch = tmp_path / "scratch"
    git(shop["clone"], "worktree", "add", "-q", "--detach", str(scratch), first["base_commit"])
    subprocess.run(["git", "apply", "--check", "-"], cwd=scratch, input=first["test_patch"], text=True, check=True)


def test_build_filters_by_label_and_limit(shop, tmp_path):
    out = tmp_path / "tasks.jsonl"
    cxo_eval("build", "--target", str(shop["clone"]), "--out", str(out), "--label", "bug", "--limit", "2")
    numbers = [json.loads(line)["issue_number"] for line in out.read_text().splitlines()]
    assert numbers == sorted(shop["labelled"])[-2:]  # the two most recently closed of the labelled ones
    later = cxo_eval("build", "--target", str(shop["clone"]), "--out", str(out), "--since", "2999-01-01",
                     check=False)
    assert later.returncode == 0 and out.read_text() == ""
