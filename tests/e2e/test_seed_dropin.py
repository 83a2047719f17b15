"""A repository set up by the seed (codex-orchestrator 0.1.21) works with cxo unchanged.

tests/data/seed/config.json is the seed's real `setup` output; the agent and npm are stand-ins on PATH
(tests/support/seed_bin), so the configuration itself stays exactly as the seed wrote it.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cxo.runner import run_issue
from tests.support.git_fixtures import git
from tests.support.hub_fixtures import GIT_ENV, Api, push_dir

BIN = Path(sys.executable).parent
DATA = Path(__file__).resolve().parents[1] / "data" / "seed"
STANDINS = Path(__file__).resolve().parents[1] / "support" / "seed_bin"
OWNER, REPO = "example-owner", "example-repo"
R = f"/repos/{OWNER}/{REPO}"
TOKEN = f"as:{OWNER}"


def seed_config() -> dict:
    return json.loads((DATA / "config.json").read_text())


def make_seed_repo(hub, tmp_path: Path, monkeypatch, config_text: str, extra_files: dict | None = None):
    """example-owner/example-repo on the hub, set up as the seed leaves a repository: config.json and the prompt
    files committed on main. Returns (clone, api)."""
    api = Api(hub.url, token=TOKEN, admin_token=hub.admin_token)
    repo = api.ok("POST", "/user/repos", {"name": REPO})
    src = tmp_path / "seed-src"
    files = {
        "README.md": "# example\n",
        "lib/__init__.py": "",
        "lib/calc.py": "def add(a, b):\n    return a + b\n",
        "tests/__init__.py": "",
        "tests/test_calc.py": "from lib.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
        ".codex-orchestrator/config.json": config_text,
        ".gitignore": "# codex-orchestrator runtime files\n.codex-orchestrator/workspaces/\n"
                      ".codex-orchestrator/state/\n",
        **(extra_files or {}),
    }
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    shutil.copytree(DATA / "prompts", src / ".codex-orchestrator" / "prompts")
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "codex-orchestrator setup"]):
        subprocess.run(["git", *args], cwd=src, check=True, capture_output=True, env=env)
    push_dir(src, repo["clone_url"], token=TOKEN)
    clone = tmp_path / "target"
    git(tmp_path, "clone", "-q", repo["clone_url"], str(clone))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_API_URL", hub.url)
    monkeypatch.setenv("PATH", f"{STANDINS}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}")
    return clone, api


def exe(name, *args):
    return subprocess.run([str(BIN / name), *args], capture_output=True, text=True, timeout=300, env=os.environ)


def labels_of(api, number):
    return sorted(lab["name"] for lab in api.ok("GET", f"{R}/issues/{number}")["labels"])


def create_labels(api, names):
    for name in names:
        api.ok("POST", f"{R}/labels", {"name": name, "color": "ededed"})


def test_the_fixture_is_the_seeds_own_setup_output():
    config = seed_config()
    assert config["version"] == 1 and config["codex"]["adapter"] == "codex-cli"
    assert config["github"]["labels"]["auto"] == {"name": "agent:auto", "color": "0E8A16",
                                                  "description": "Scoped autonomous Codex implementation"}
    assert config["checks"] == {"typecheck": "npm run typecheck", "test": "npm test"}


def test_health_status_and_run_work_with_the_seeds_config_unchanged(hub, tmp_path, monkeypatch):
    text = (DATA / "config.json").read_text()
    target, api = make_seed_repo(hub, tmp_path, monkeypatch, text)
    create_labels(api, [v["name"] for v in seed_config()["github"]["labels"].values()])
    issue = api.ok("POST", f"{R}/issues", {"title": "Add multiply", "body": "Add multiply(a, b) to lib/calc.py.",
                                           "labels": ["agent:auto"]})

    health = exe("cxo-health", "--target", str(target))
    assert health.returncode == 0, health.stdout + health.stderr
    assert "ok   labels: all 7 labels exist" in health.stdout
    assert "Traceback" not in health.stderr
    # Seed keys cxo does not act on are named, one line each, never refused.
    warned = [line for line in health.stderr.splitlines() if "is accepted but cxo does not act on it" in line]
    assert any("'workflows.prd'" in line for line in warned)
    assert len(warned) == len(set(warned))

    status = exe("cxo-status", "--target", str(target), "--json")
    assert status.returncode == 0, status.stderr
    assert issue["number"] in [i["number"] for i in json.loads(status.stdout)["eligible"]]

    final = run_issue(target, issue["number"])
    assert final["status"] == "ok", final.get("blocked")
    # The seed's defaults: its branch template, PR title, checks and no agent commits.
    assert final["worktree"]["branch"] == f"codex/issue-{issue['number']}"
    prs = api.ok("GET", f"{R}/pulls?state=all")
    assert [pr["title"] for pr in prs] == [f"Codex: issue #{issue['number']}"]
    assert prs[0]["draft"] is True and prs[0]["head"]["ref"] == f"codex/issue-{issue['number']}"
    gate = {v["gate"]: v for v in final["gate"]["verdicts"]}
    assert gate["checks"]["verdict"] == "pass" and gate["tdd"]["verdict"] == "pass"
    # The seed-format report (the agent's last message) was read through the mapping.
    report = final["codex"]["report"]
    assert report["validation"][0]["details"].startswith("red:")
    assert labels_of(api, issue["number"]) == ["agent:auto", "agent:review"]
    # Nothing of cxo's landed in the checkout: worktrees and state live outside it.
    assert not (target / ".codex-orchestrator" / "workspaces").exists()
    assert not (target / ".codex-orchestrator" / "state").exists()


def changed_seed_config() -> dict:
    config = seed_config()
    for key, label in config["github"]["labels"].items():
        label["name"] = f"bot/{key}"
        label["color"] = "123456"
    config["branches"]["scopedIssue"] = "work/${issueNumber}-seed"
    config["pullRequests"]["scopedIssueTitle"] = "Seed PR for #${issueNumber}"
    config["checks"] = {"lint": "npm run lint"}
    config["runner"]["allowAgentLocalCommits"] = True
    config["deny"]["secretFiles"] = ["config/secret.yml"]
    config["deny"]["additionalPathGlobs"] = ["vendor/**"]
    config["deny"]["destructiveDbOrCache"] = False
    config["deny"]["productionDeployOrRelease"] = False
    config["codex"]["timeoutMs"] = 120_000
    config["codex"]["idleTimeoutMs"] = 60_000
    config["reviewGates"]["quality"]["codeReview"]["requiredValidationPatterns"] = ["peer-review-done"]
    return config


def test_changed_seed_keys_are_honoured_through_a_real_run(hub, tmp_path, monkeypatch):
    config = changed_seed_config()
    target, api = make_seed_repo(hub, tmp_path, monkeypatch, json.dumps(config, indent=2))
    # cxo-setup --prepare-labels creates the renamed labels with the seed's colors.
    setup = exe("cxo-setup", "--target", str(target), "--prepare-labels")
    assert setup.returncode == 0, setup.stderr
    created = {lab["name"]: lab["color"] for lab in api.ok("GET", f"{R}/labels")}
    assert created["bot/auto"] == "123456" and "agent:auto" not in created
    assert not (target / ".codex-orchestrator" / "config.yaml").exists()  # setup keeps the seed's file

    from cxo import policy as policy_mod

    loaded = policy_mod.load(target)
    assert loaded["codex"]["timeoutSeconds"] == 120 and loaded["codex"]["idleTimeoutSeconds"] == 60
    assert loaded["git"]["allowLocalCommits"] is True
    assert "config/secret.yml" in loaded["deny"]["paths"] and "vendor/**" in loaded["deny"]["paths"]
    assert not any("drop" in c or "deploy" in c for c in loaded["deny"]["commands"])

    # The old trigger label no longer starts anything; the renamed one does.
    old = api.ok("POST", f"{R}/issues", {"title": "Add multiply", "body": "x", "labels": ["agent:auto"]})
    issue = api.ok("POST", f"{R}/issues", {"title": "Add multiply", "body": "Add multiply(a, b) to lib/calc.py.",
                                           "labels": ["bot/auto"]})
    status = exe("cxo-status", "--target", str(target), "--json")
    eligible = [i["number"] for i in json.loads(status.stdout)["eligible"]]
    assert issue["number"] in eligible and old["number"] not in eligible

    # The code-review evidence rule was changed: the stand-in's "code review" line no longer satisfies it.
    blocked = run_issue(target, issue["number"])
    assert blocked["status"] == "blocked"
    assert "codeReviewValidationPatterns" in blocked["blocked"]["reason"]
    assert labels_of(api, issue["number"]) == ["bot/auto", "bot/blocked"]

    # With the rule back to the seed's default, the run publishes under the seed's names and templates.
    config["reviewGates"]["quality"]["codeReview"]["requiredValidationPatterns"] = ["code review"]
    (target / ".codex-orchestrator" / "config.json").write_text(json.dumps(config, indent=2))
    git(target, "commit", "-qam", "seed config: code review rule")
    git(target, "push", "-q", "origin", "HEAD:main", env={"GIT_CONFIG_COUNT": "0"} | _token_env())
    git(target, "fetch", "-q", "origin")
    issue = api.ok("POST", f"{R}/issues", {"title": "Add multiply", "body": "Add multiply(a, b) to lib/calc.py.",
                                           "labels": ["bot/auto"]})
    final = run_issue(target, issue["number"])
    assert final["status"] == "ok", final.get("blocked")
    assert final["worktree"]["branch"] == f"work/{issue['number']}-seed"
    prs = api.ok("GET", f"{R}/pulls?state=all")
    assert [pr["title"] for pr in prs] == [f"Seed PR for #{issue['number']}"]
    gate = {v["gate"]: v for v in final["gate"]["verdicts"]}
    assert gate["checks"]["verdict"] == "pass"
    assert "lint" in json.dumps(gate["checks"])
    assert labels_of(api, issue["number"]) == ["bot/auto", "bot/review"]


def _token_env() -> dict:
    from cxo.gitutil import token_env

    return token_env(TOKEN)


def test_a_denied_seed_path_blocks_the_run(hub, tmp_path, monkeypatch):
    config = seed_config()
    config["deny"]["additionalPathGlobs"] = ["lib/**"]
    target, api = make_seed_repo(hub, tmp_path, monkeypatch, json.dumps(config))
    create_labels(api, [v["name"] for v in config["github"]["labels"].values()])
    issue = api.ok("POST", f"{R}/issues", {"title": "Add multiply", "body": "Add multiply(a, b) to lib/calc.py.",
                                           "labels": ["agent:auto"]})
    final = run_issue(target, issue["number"])
    assert final["status"] == "blocked"
    assert "lib/calc.py matches a denied path" in json.dumps(final["gate"]["verdicts"])
    assert api.ok("GET", f"{R}/pulls?state=all") == []


@pytest.mark.parametrize("failing", ["typecheck", "test"])
def test_a_failing_seed_check_blocks(hub, tmp_path, monkeypatch, failing):
    target, api = make_seed_repo(hub, tmp_path, monkeypatch, (DATA / "config.json").read_text(),
                                 extra_files={f"npm-fails-{failing}": "x\n"})
    create_labels(api, [v["name"] for v in seed_config()["github"]["labels"].values()])
    issue = api.ok("POST", f"{R}/issues", {"title": "Add multiply", "body": "Add multiply(a, b) to lib/calc.py.",
                                           "labels": ["agent:auto"]})
    final = run_issue(target, issue["number"])
    assert final["status"] == "blocked"
    gate = {v["gate"]: v for v in final["gate"]["verdicts"]}
    assert gate["checks"]["verdict"] == "fail"
    assert failing in gate["checks"]["summary"]
