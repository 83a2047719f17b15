"""Which policy runs, the fetched base's or the working copy's, and every command saying so when they differ."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.git_fixtures import git, write_policy

BIN = Path(sys.executable).parent
R = "/repos/acme/widgets"


def status(target):
    return subprocess.run([str(BIN / "cxo-status"), "--target", str(target), "--json"], capture_output=True,
                          text=True, timeout=120, env={**os.environ})


def warnings(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("cxo: warning:")]


def eligible(proc) -> list[int]:
    return [i["number"] for i in json.loads(proc.stdout)["eligible"]]


def hub_policy(hub_repo, **extra) -> dict:
    return {"github": {"owner": hub_repo.owner, "repo": hub_repo.name, "apiUrl": hub_repo.url}, **extra}


def base_sha(target) -> str:
    return git(target, "rev-parse", "refs/remotes/origin/main").strip()


def test_the_same_policy_in_the_working_copy_and_the_base_runs_without_a_warning(target_repo, hub_repo):
    proc = status(target_repo)
    assert proc.returncode == 0, proc.stderr
    assert warnings(proc) == []


def test_an_uncommitted_valid_edit_is_named_and_the_bases_policy_runs(target_repo, hub_repo):
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "x", "labels": ["agent:auto"]})["number"]
    write_policy(target_repo, hub_policy(hub_repo, labels={"auto": "bot:go"}), publish=False)
    proc = status(target_repo)
    assert proc.returncode == 0, proc.stderr
    assert eligible(proc) == [number]  # the base's labels.auto, not the working copy's
    [line] = warnings(proc)
    assert ".codex-orchestrator/config.yaml" in line and "differs" in line
    assert f"the base's (origin/main at {base_sha(target_repo)[:12]})" in line
    assert "takes effect once committed and pushed" in line
    # Committed and pushed, it runs, and nothing differs any more.
    write_policy(target_repo, hub_policy(hub_repo, labels={"auto": "bot:go"}))
    proc = status(target_repo)
    assert proc.returncode == 0 and warnings(proc) == [] and eligible(proc) == []


def test_an_invalid_working_copy_warns_naming_the_problem_instead_of_breaking_the_command(target_repo, hub_repo):
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "x", "labels": ["agent:auto"]})["number"]
    write_policy(target_repo, hub_policy(hub_repo, reviewGate={"order": ["report"]}), publish=False)
    proc = status(target_repo)
    assert proc.returncode == 0, proc.stderr
    assert eligible(proc) == [number]
    [line] = warnings(proc)
    assert "unknown key 'reviewGate'" in line and "not valid" in line
    assert f"the base's (origin/main at {base_sha(target_repo)[:12]})" in line
    assert "takes effect once committed and pushed" in line
    # A value the schema allows but loading refuses (a regex that does not compile): the same.
    write_policy(target_repo, hub_policy(hub_repo, deny={"commands": ["("]}), publish=False)
    proc = status(target_repo)
    assert proc.returncode == 0, proc.stderr
    [line] = warnings(proc)
    assert "'deny.commands[0]' is not a valid regular expression" in line and "not valid" in line
    # Not YAML at all: the same.
    (target_repo / ".codex-orchestrator" / "config.yaml").write_text("github: [unclosed\n")
    proc = status(target_repo)
    assert proc.returncode == 0, proc.stderr
    [line] = warnings(proc)
    assert "not valid YAML/JSON" in line and base_sha(target_repo)[:12] in line


def test_a_working_copy_without_the_policy_or_with_a_seed_config_json_is_named(target_repo, hub_repo):
    config = target_repo / ".codex-orchestrator" / "config.yaml"
    config.unlink()
    proc = status(target_repo)
    assert proc.returncode == 0, proc.stderr
    [line] = warnings(proc)
    assert "config.yaml" in line and "the working copy has none" in line
    (target_repo / ".codex-orchestrator" / "config.json").write_text(json.dumps(hub_policy(hub_repo)))
    proc = status(target_repo)
    assert proc.returncode == 0, proc.stderr
    [line] = warnings(proc)
    assert ".codex-orchestrator/config.json" in line and "differs" in line


def test_with_no_fetched_base_the_working_copy_runs_and_its_errors_are_errors(target_repo, hub_repo):
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "x", "labels": ["agent:auto"]})["number"]
    git(target_repo, "update-ref", "-d", "refs/remotes/origin/main")
    write_policy(target_repo, hub_policy(hub_repo, labels={"auto": "bot:go"}), publish=False)
    proc = status(target_repo)
    assert proc.returncode == 0, proc.stderr
    assert warnings(proc) == [] and eligible(proc) == []  # the working copy's labels.auto
    write_policy(target_repo, hub_policy(hub_repo, reviewGate={"order": ["report"]}), publish=False)
    proc = status(target_repo)
    assert proc.returncode == 2 and "unknown key 'reviewGate'" in proc.stderr
    assert number  # (still open, just not looked at)


def test_the_warning_comes_once_per_command_even_when_it_loads_the_policy_again(target_repo, hub_repo):
    write_policy(target_repo, hub_policy(hub_repo, labels={"auto": "bot:go"}), publish=False)
    proc = subprocess.run([str(BIN / "cxo-run"), "--target", str(target_repo), "--issue", "999"],
                          capture_output=True, text=True, timeout=120)
    assert len(warnings(proc)) == 1, proc.stderr
    assert "takes effect once committed and pushed" in warnings(proc)[0]
