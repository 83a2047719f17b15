"""`setup`: the policy's commands prepare every fresh tree inside the sandbox (a src layout whose generated,
git-ignored `_version.py` every test needs, as in humanize), with their time in the report; a failing step or one
that leaves files a change set would carry blocks before the agent runs."""

import sys

from cxo.runner import run_issue
from tests.support.git_fixtures import GOOD_REPORT, commit_all, scripted_agent, write

R = "/repos/acme/widgets"
PY = sys.executable
GENERATE = (f"{PY} -c \"open('src/pkg/_version.py', 'w').write('VERSION = (1, 0)\\\\n')\"")
FEATURE = {"write": {
    "src/pkg/shout.py": "def shout(text):\n    return text.upper() + '!'\n",
    "tests/test_shout.py": "from pkg.shout import shout\n\n\ndef test_shout():\n    assert shout('hi') == 'HI!'\n"}}


def src_layout(target):
    """A project whose package imports a generated, git-ignored module: no test passes in a fresh tree alone."""
    write(target, ".gitignore", "src/pkg/_version.py\n__pycache__/\n")
    write(target, "src/pkg/__init__.py", "from ._version import VERSION\n")
    write(target, "conftest.py",
          "import pathlib\nimport sys\n\nsys.path.insert(0, str(pathlib.Path(__file__).parent / 'src'))\n")
    write(target, "tests/test_version.py", "import pkg\n\n\ndef test_version():\n    assert pkg.VERSION == (1, 0)\n")
    commit_all(target, "src layout with a generated version module")


def policy(setup):
    tests = f"{PY} -m pytest -q -p no:cacheprovider"
    return {"setup": setup, "checks": [{"name": "tests", "command": tests}],
            "reviewGates": {"quality": {"testCommand": tests + " ${tests}", "codeReview": False}}}


def issue(hub_repo, title="Add shout"):
    return hub_repo.api.ok("POST", f"{R}/issues", {"title": title, "labels": ["agent:auto"]})["number"]


def test_setup_prepares_the_worktree_and_the_tdd_trees_and_the_report_shows_it(target_repo, hub_repo, tmp_path):
    src_layout(target_repo)
    scripted_agent(target_repo, tmp_path, [FEATURE, {"report": GOOD_REPORT}],
                   extra_policy=policy([{"name": "generate version", "command": GENERATE}]))
    number = issue(hub_repo)
    final = run_issue(target_repo, number)
    assert final["status"] == "ok", final.get("blocked")
    steps = final["worktree"]["setup"]["steps"]
    assert [(s["name"], s["exit_code"]) for s in steps] == [("generate version", 0)]
    tdd = next(v for v in final["gate"]["verdicts"] if v["gate"] == "tdd")
    assert tdd["verdict"] == "pass" and tdd["evidence"][0]["base"] == "fail" and tdd["evidence"][0]["head"] == "pass"
    base_log = open(tdd["evidence"][0]["base_log"]).read()
    assert "ModuleNotFoundError" in base_log and "pkg.shout" in base_log  # red for the right reason, not _version
    checks = next(v for v in final["gate"]["verdicts"] if v["gate"] == "checks")
    assert checks["verdict"] == "pass"
    assert sorted(final["gate"]["changes"]["files"]) == ["src/pkg/shout.py", "tests/test_shout.py"]
    body = hub_repo.api.ok("GET", f"{R}/pulls/{final['publish']['pull_request']['number']}")["body"]
    assert "**Setup** (1 step(s), inside the sandbox): `generate version` exit 0" in body


def test_without_setup_the_same_project_cannot_pass(target_repo, hub_repo, tmp_path):
    src_layout(target_repo)
    scripted_agent(target_repo, tmp_path, [FEATURE, {"report": GOOD_REPORT}], extra_policy=policy([]))
    final = run_issue(target_repo, issue(hub_repo))
    assert final["status"] == "blocked" and "checks" in final["blocked"]["reason"]


def test_a_failing_setup_step_blocks_before_the_agent_naming_the_step_and_its_log(target_repo, hub_repo, tmp_path):
    marker = tmp_path / "agent-ran"
    scripted_agent(target_repo, tmp_path, [{"append": {str(marker): "ran\n"}}, {"report": GOOD_REPORT}],
                   extra_policy=policy([{"name": "install deps", "command": "echo no index >&2; exit 3"}]))
    final = run_issue(target_repo, issue(hub_repo, "Broken setup"))
    assert final["status"] == "blocked" and final["blocked"]["step"] == "worktree"
    reason = final["blocked"]["reason"]
    assert "setup step 'install deps' exited with status 3" in reason and "setup-worktree/00-install-deps.log" in reason
    assert not marker.exists()


def test_setup_that_leaves_files_a_change_set_would_carry_blocks(target_repo, hub_repo, tmp_path):
    scripted_agent(target_repo, tmp_path, [{"report": GOOD_REPORT}],
                   extra_policy=policy([{"name": "make junk", "command": "echo x > generated.txt"}]))
    final = run_issue(target_repo, issue(hub_repo, "Junk setup"))
    assert final["status"] == "blocked"
    assert "setup left 1 untracked or changed file(s) in the worktree (generated.txt)" in final["blocked"]["reason"]
