"""The generated workflow's `next` job: its dispatch `curl` is a correct multi-line shell command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.git_fixtures import write_policy

BIN = Path(sys.executable).parent
URL = '"$GITHUB_API_URL/repos/$GITHUB_REPOSITORY/actions/workflows/cxo.yml/dispatches"'


def dispatch_step(git_repo) -> dict:
    write_policy(git_repo, {}, publish=False)
    proc = subprocess.run([str(BIN / "cxo-setup"), "--actions", "--target", str(git_repo)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    doc = yaml.safe_load((git_repo / ".github" / "workflows" / "cxo.yml").read_text())
    return next(s for s in doc["jobs"]["next"]["steps"] if "curl" in s.get("run", ""))


def test_the_next_jobs_curl_is_valid_shell_with_one_part_a_line(git_repo):
    script = dispatch_step(git_repo)["run"]
    check = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    lines = script.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("curl "))
    end = next(i for i in range(start, len(lines)) if not lines[i].endswith(" \\"))
    command = [line.strip().removesuffix(" \\").strip() for line in lines[start:end + 1]]
    assert len(command) >= 5, command  # not one joined line
    assert all(line.endswith(" \\") for line in lines[start:end])
    assert URL in command
    assert "--request POST" in command
    assert '--header "Authorization: Bearer $GITHUB_TOKEN"' in command
    assert '--header "Accept: application/vnd.github+json"' in command
    assert not any("  " in line for line in command), "a continuation was lost: parts joined by runs of spaces"


def test_the_next_jobs_script_dispatches_each_parent_with_those_arguments(git_repo, tmp_path):
    """Run the step's script with a `curl` that records its arguments."""
    script = dispatch_step(git_repo)["run"]
    fake = tmp_path / "bin"
    fake.mkdir()
    record = tmp_path / "calls.jsonl"
    (fake / "curl").write_text(f"#!{sys.executable}\nimport json, sys\n"
                               f"open({str(record)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    (fake / "curl").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "GITHUB_TOKEN": "t0k", "REF": "main",
           "TREE": "4", "CHILDREN_RAN": "success", "MORE": "[7]", "GITHUB_API_URL": "https://api.example",
           "GITHUB_REPOSITORY": "acme/widgets"}
    proc = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, env=env, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "dispatched the next tree step of #4" in proc.stdout and "#7" in proc.stdout
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(calls) == 2
    for call, parent in zip(calls, ("4", "7"), strict=True):
        assert call[-1] == "https://api.example/repos/acme/widgets/actions/workflows/cxo.yml/dispatches"
        assert call[call.index("--request") + 1] == "POST"
        headers = [call[i + 1] for i, a in enumerate(call) if a == "--header"]
        assert headers == ["Authorization: Bearer t0k", "Accept: application/vnd.github+json"]
        assert json.loads(call[call.index("--data") + 1]) == {"ref": "main", "inputs": {"tree": parent}}
