"""setup, status, health and policy errors, through the real executables against the hub."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cxo import labels as labels_mod
from cxo import policy as policy_mod
from tests.support.git_fixtures import git, write_policy
from tests.support.hub_fixtures import Api, start_hub

BIN = Path(sys.executable).parent
R = "/repos/acme/widgets"
LABELS = ["agent:auto", "agent:plan-auto", "agent:plan-approved", "agent:child", "agent:running", "agent:blocked",
          "agent:manual", "agent:review"]


def exe(name, *args, env=None, cwd=None):
    return subprocess.run([str(BIN / name), *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, **(env or {})})


def tree(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(path).parts}


def test_setup_creates_the_labels_once_and_keeps_user_edits(target_repo, hub_repo):
    (target_repo / ".codex-orchestrator" / "config.yaml").unlink()
    first = exe("cxo-setup", "--target", str(target_repo), "--api-url", hub_repo.url, "--prepare-labels", "--json")
    assert first.returncode == 0, first.stderr
    assert sorted(json.loads(first.stdout)["labels_to_create"]) == sorted(LABELS)
    names = [lab["name"] for lab in hub_repo.api.ok("GET", f"{R}/labels")]
    assert sorted(names) == sorted(LABELS)
    config = target_repo / ".codex-orchestrator" / "config.yaml"
    loaded = policy_mod.load(target_repo)
    assert (loaded.owner, loaded.repo, loaded.api_url) == ("acme", "widgets", hub_repo.url)
    assert (target_repo / ".codex-orchestrator" / "prompts" / "implement.md").is_file()

    writes = hub_repo.api.admin("GET", "/_hub/stats")["writes"]
    config.write_text(config.read_text() + "\n# my edit\n")
    second = exe("cxo-setup", "--target", str(target_repo), "--prepare-labels", "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["labels_to_create"] == []
    assert hub_repo.api.admin("GET", "/_hub/stats")["writes"] == writes
    assert "# my edit" in config.read_text() and "kept your edits" in second.stderr
    forced = exe("cxo-setup", "--target", str(target_repo), "--force")
    assert forced.returncode == 0 and "# my edit" not in config.read_text()


def test_setup_dry_run_writes_and_creates_nothing(target_repo, hub_repo):
    before = tree(target_repo)
    writes = hub_repo.api.admin("GET", "/_hub/stats")["writes"]
    proc = exe("cxo-setup", "--target", str(target_repo), "--dry-run", "--prepare-labels")
    assert proc.returncode == 0, proc.stderr
    assert "would create label agent:auto" in proc.stderr
    assert tree(target_repo) == before
    assert hub_repo.api.admin("GET", "/_hub/stats")["writes"] == writes


def make_fixture_issues(api):
    def issue(title, labels, body=""):
        return api.ok("POST", f"{R}/issues", {"title": title, "labels": labels, "body": body})["number"]

    made = {
        "auto": issue("eligible auto", ["agent:auto"]),
        "plan": issue("eligible plan", ["agent:plan-auto"]),
        "manual": issue("manual", ["agent:auto", "agent:manual"]),
        "blocked": issue("blocked", ["agent:auto", "agent:blocked"]),
        "running": issue("running", ["agent:auto", "agent:running"]),
        "review": issue("review", ["agent:auto", "agent:review"]),
        "conflict": issue("conflict", ["agent:auto", "agent:plan-auto"]),
        "orphan": issue("child no marker", ["agent:child"]),
        "unrelated": issue("not ours", ["bug"]),
    }
    made["unknown_parent"] = issue("child unknown parent", ["agent:child"], labels_mod.parent_marker(999))
    made["child"] = issue("child of plan", ["agent:child"], labels_mod.parent_marker(made["plan"]))
    made["no_trigger"] = issue("only state", ["agent:review"])
    closed = issue("closed", ["agent:auto"])
    api.ok("PATCH", f"{R}/issues/{closed}", {"state": "closed"})
    made["closed"] = closed
    return made


def test_status_classifies_every_skip_reason_without_writing(target_repo, hub_repo):
    made = make_fixture_issues(hub_repo.api)
    writes = hub_repo.api.admin("GET", "/_hub/stats")["writes"]
    proc = exe("cxo-status", "--target", str(target_repo), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert hub_repo.api.admin("GET", "/_hub/stats")["writes"] == writes
    eligible = {i["number"]: i["mode"] for i in result["eligible"]}
    assert eligible == {made["auto"]: "auto", made["plan"]: "plan-auto"}
    reasons = {i["number"]: i["reason"] for i in result["skipped"]}
    assert reasons[made["manual"]].startswith("manual")
    assert reasons[made["blocked"]].startswith("blocked")
    assert reasons[made["running"]].startswith("running")
    assert reasons[made["review"]].startswith("review")
    assert reasons[made["conflict"]].startswith("conflicting labels")
    assert reasons[made["orphan"]] == "child without the runner's parent marker"
    assert reasons[made["unknown_parent"]] == "child of an unknown or closed parent #999"
    assert reasons[made["child"]] == f"child of #{made['plan']}: runs with its parent's tree"
    assert reasons[made["no_trigger"]].startswith("review")
    assert made["unrelated"] not in reasons and made["closed"] not in reasons  # not listed at all
    closed = hub_repo.api.ok("GET", f"{R}/issues/{made['closed']}")
    assert labels_mod.classify(closed, policy_mod.defaults()["labels"]).reason == "closed"
    table = exe("cxo-status", "--target", str(target_repo))
    assert "eligible auto" in table.stdout and "2 eligible" in table.stdout


def test_classify_pull_requests_and_no_trigger():
    labels = policy_mod.defaults()["labels"]
    pr = {"number": 5, "title": "pr", "labels": [{"name": "agent:auto"}], "pull_request": {}, "state": "open"}
    assert labels_mod.classify(pr, labels).reason == "pull request"
    plain = {"number": 6, "title": "x", "labels": [{"name": "agent:running"}], "state": "open"}
    assert not labels_mod.classify(plain, labels).eligible


def test_health_all_ok_then_fails_when_the_hub_is_down(target_repo, hub_repo, hub):
    exe("cxo-setup", "--target", str(target_repo), "--prepare-labels")
    write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url},
                               "codex": {"command": "git"}})
    ok = exe("cxo-health", "--target", str(target_repo))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok   labels: all 7 labels exist" in ok.stdout
    hub.stop()
    down = exe("cxo-health", "--target", str(target_repo))
    assert down.returncode == 1
    assert "FAIL api: GitHub API failed" in down.stdout and "cannot connect" in down.stdout


def test_health_reports_a_rejected_token(tmp_path, target_repo):
    server = start_hub(tmp_path / "strict", tokens=["acme:real-token"])
    try:
        write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": server.url},
                                   "codex": {"command": "git"}})
        proc = exe("cxo-health", "--target", str(target_repo), env={"GITHUB_TOKEN": "wrong-token"})
        assert proc.returncode == 1
        line = next(line for line in proc.stdout.splitlines() if line.startswith("FAIL"))
        assert line.startswith("FAIL token:") and "401" in line and "wrong-token" not in proc.stdout
    finally:
        server.stop()


BAD_POLICIES = {
    "malformed YAML": ("labels: [unclosed\n", "not valid YAML/JSON"),
    "unknown key": ("reviewGates:\n  qualty: {}\n", "unknown key 'reviewGates.qualty'"),
    "runtime key": ("runner:\n  locks: {}\n", "'runner.locks' is runtime state"),
    "wrong type": ("concurrency:\n  children: many\n", "'concurrency.children'"),
}


@pytest.mark.parametrize("case", sorted(BAD_POLICIES))
def test_bad_policy_is_one_line_exit_2_and_changes_nothing(case, target_repo):
    text, expected = BAD_POLICIES[case]
    config = target_repo / ".codex-orchestrator" / "config.yaml"
    config.write_text(text)
    before = tree(target_repo)
    # With a fetched base, the base's policy runs and the broken working copy is named in one warning line.
    proc = exe("cxo-status", "--target", str(target_repo))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cxo: warning:") and expected in lines[0] and str(config) in lines[0]
    # Without one the working copy is the policy, and its error is exit 2.
    git(target_repo, "update-ref", "-d", "refs/remotes/origin/main")
    proc = exe("cxo-status", "--target", str(target_repo))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and str(config) in lines[0]
    assert tree(target_repo) == before


def test_seed_config_json_and_empty_policy(target_repo):
    config_dir = target_repo / ".codex-orchestrator"
    (config_dir / "config.yaml").unlink()
    (config_dir / "config.json").write_text(json.dumps({"labels": {"auto": "bot:go"}, "runner": {
        "workspaceRoot": "../wt"}}))
    loaded = policy_mod.load(target_repo, working_copy=True)
    assert loaded.label("auto") == "bot:go" and loaded.label("review") == "agent:review"
    assert loaded.workspace_root == (target_repo.parent / "wt").resolve()
    (config_dir / "config.json").unlink()
    (config_dir / "config.yaml").write_text("")
    assert policy_mod.load(target_repo, working_copy=True).data == {**policy_mod.defaults(), "github": {
        **policy_mod.defaults()["github"], "owner": "acme", "repo": "widgets"}}


def test_tracker_errors_have_documented_exit_codes(target_repo, hub_repo, tmp_path):
    missing = exe("cxo-status", "--target", str(target_repo), env={"GITHUB_TOKEN": "", "GH_TOKEN": ""})
    assert missing.returncode == 5 and "GITHUB_TOKEN" in missing.stderr
    write_policy(target_repo, {"github": {"owner": "acme", "repo": "nothing", "apiUrl": hub_repo.url}})
    unknown = exe("cxo-status", "--target", str(target_repo))
    assert unknown.returncode == 6 and len(unknown.stderr.strip().splitlines()) == 1
    write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": "http://127.0.0.1:9"}})
    down = exe("cxo-status", "--target", str(target_repo))
    assert down.returncode == 4 and "cannot connect" in down.stderr
    assert hub_repo.token not in missing.stderr + unknown.stderr + down.stderr


def executables() -> list[str]:
    """Every entry point, from pyproject.toml: the one list of them."""
    import tomllib

    return sorted(tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]["scripts"])


def test_every_executable_has_help_and_version():
    from cxo import __version__

    assert len(executables()) >= 16
    for name in executables():
        proc = exe(name, "--help")
        assert proc.returncode == 0 and "usage" in proc.stdout.lower(), name
        assert "--version" in proc.stdout, name
        # --version answers even where other arguments are required (--issue, --url, a hub subcommand).
        version = exe(name, "--version")
        assert (version.returncode, version.stdout, version.stderr) == (0, f"{name} (cxo) {__version__}\n", ""), name
    for module, shown in (("cxo", "codex-orchestrator"), ("cxo.demo", "cxo.demo")):
        proc = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=60)
        assert (proc.returncode, proc.stdout) == (0, f"{shown} (cxo) {__version__}\n"), (module, proc.stderr)
    umbrella = subprocess.run([sys.executable, "-m", "cxo", "--help"], capture_output=True, text=True, timeout=60)
    assert umbrella.returncode == 0 and "codex-orchestrator" in umbrella.stdout and "setup" in umbrella.stdout


def test_umbrella_delegates_with_seed_commands(target_repo):
    assert exe("codex-orchestrator", "--version").stdout.startswith("codex-orchestrator (cxo)")
    proc = exe("codex-orchestrator", "status", "--target", str(target_repo), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["repository"] == "acme/widgets"
    assert exe("codex-orchestrator", "frobnicate").returncode == 2


def test_bad_envelope_is_exit_2_naming_the_field():
    proc = subprocess.run([str(BIN / "cxo-worktree")], input=json.dumps({"version": 1}), capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert "run_id" in proc.stderr or "(top level)" in proc.stderr
    garbage = subprocess.run([str(BIN / "cxo-gate")], input="not json", capture_output=True, text=True)
    assert garbage.returncode == 2 and "not JSON" in garbage.stderr


def test_api_clients_agree(hub_repo):
    assert Api(hub_repo.url, hub_repo.token).ok("GET", "/user")["login"] == "acme"


def test_the_policy_comes_from_the_fetched_base_not_the_working_copy(target_repo, hub_repo):
    # An agent (or anyone) editing the working copy's policy changes nothing: what is merged rules.
    (target_repo / ".codex-orchestrator" / "config.yaml").write_text(
        "reviewGates:\n  order: [report]\nlabels:\n  auto: 'bot:go'\n")
    loaded = policy_mod.load(target_repo)
    assert loaded.label("auto") == "agent:auto"
    assert "safety" in loaded["reviewGates"]["order"]
    assert loaded.source and str(loaded.path).endswith(":.codex-orchestrator/config.yaml")
    # Once committed and pushed (and fetched), it applies.
    write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url},
                               "labels": {"auto": "bot:go"}})
    assert policy_mod.load(target_repo).label("auto") == "bot:go"


def test_in_github_actions_github_api_url_wins_over_the_policys_api_url(target_repo, hub_repo, tmp_path):
    # `cxo-setup --api-url` records github.apiUrl in the committed policy; in CI (GITHUB_ACTIONS=true) the
    # runner's GITHUB_API_URL must still win, and setup says so.
    config = target_repo / ".codex-orchestrator" / "config.yaml"
    config.unlink()
    elsewhere = "http://127.0.0.1:9/api/v3"  # nothing listens there
    setup = exe("cxo-setup", "--target", str(target_repo), "--api-url", elsewhere)
    assert setup.returncode == 0, setup.stderr
    assert f'apiUrl: "{elsewhere}"' in config.read_text()
    assert "GITHUB_ACTIONS=true" in setup.stderr and "GITHUB_API_URL" in setup.stderr
    write_policy(target_repo, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": elsewhere}})
    ci = {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": hub_repo.url, "CXO_RETRY_BASE_SECONDS": "0.01"}
    in_ci = exe("cxo-status", "--target", str(target_repo), "--json", env=ci)
    assert in_ci.returncode == 0, in_ci.stderr
    local = exe("cxo-status", "--target", str(target_repo), "--json", env={**ci, "GITHUB_ACTIONS": ""})
    assert local.returncode == 4 and "127.0.0.1:9" in local.stderr, local.stderr


def test_the_generated_gitignore_names_no_directory_cxo_writes_in_the_repository(target_repo):
    # Worktrees and run state live under $XDG_STATE_HOME/cxo/, never in .codex-orchestrator/.
    (target_repo / ".codex-orchestrator" / "config.yaml").unlink()
    assert exe("cxo-setup", "--target", str(target_repo)).returncode == 0
    text = (target_repo / ".codex-orchestrator" / ".gitignore").read_text()
    ignored = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert "worktrees/" not in ignored and "~/.local/state/cxo" in text
    assert ignored == ["workspaces/", "state/"]  # only the seed's run left-overs (codex-orchestrator 0.1.21)
    loaded = policy_mod.load(target_repo)
    for where in (loaded.state_dir, loaded.workspace_root):
        assert not where.resolve().is_relative_to(target_repo.resolve()), where
