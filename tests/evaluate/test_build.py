"""cxo-eval build over a real history on the hub: exactly the solved issues with a test change become tasks."""

import json
import subprocess

import pytest

from cxo import schemas
from tests.evaluate.history import cxo_eval, hub_history
from tests.support.git_fixtures import git

SOLVED = 22


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The history, built once on a hub for this module's tests (every hub response checked against GitHub's
    schemas, as the `hub` fixture does)."""
    import os
    import sys
    from pathlib import Path

    from tests.support.hub_fixtures import start_hub

    work = tmp_path_factory.mktemp("build")
    saved = dict(os.environ)
    os.environ.update(GITHUB_TOKEN="as:acme", XDG_STATE_HOME=str(work / "xdg"),
                      PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if sys.prefix != sys.base_prefix:
        os.environ["VIRTUAL_ENV"] = sys.prefix
    for name in ("GH_TOKEN", "GITHUB_API_URL", "CXO_STATE_DIR"):
        os.environ.pop(name, None)
    hub = start_hub(work)
    try:
        yield hub_history(hub, work, SOLVED)
    finally:
        hub.stop()
        os.environ.clear()
        os.environ.update(saved)
    assert not hub.schema_failures, hub.schema_failures


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
