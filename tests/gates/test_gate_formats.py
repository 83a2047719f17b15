"""cxo-gate NAME --format json|github|junit|sarif: what other CI systems read, checked against their own rules."""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from cxo.gates import formats
from tests.support.git_fixtures import commit_all, git, write
from tests.support.schemas import junit_xsd, sarif_schema

BIN = Path(sys.executable).parent
TOKEN = "ghp_" + "Z9y8X7w6V5" * 3 + "u4T3s2"


# --- a workflow-command parser, as GitHub's runner reads `::cmd k=v,k=v::data` ------------------------------

def _unescape(text: str, props: bool) -> str:
    table = {"%25": "%", "%0D": "\r", "%0A": "\n", **({"%3A": ":", "%2C": ","} if props else {})}
    return re.sub("%25|%0D|%0A|%3A|%2C", lambda m: table.get(m.group(0), m.group(0)), text)


def parse_command(line: str) -> tuple[str, dict, str]:
    match = re.fullmatch(r"::([a-z-]+)(?: ([^:]*))?::(.*)", line)
    assert match, f"not a workflow command: {line!r}"
    props = {}
    for pair in (match.group(2) or "").split(","):
        if pair:
            key, sep, value = pair.partition("=")
            assert sep, f"property without '=': {pair!r} in {line!r}"
            props[key] = _unescape(value, props=True)
    return match.group(1), props, _unescape(match.group(3), props=False)


def commands(stdout: str) -> list[tuple[str, dict, str]]:
    return [parse_command(line) for line in stdout.splitlines() if line.startswith("::")]


# --- fixtures ------------------------------------------------------------------------------------------------

def leak_a_token(repo: Path) -> str:
    base = git(repo, "rev-parse", "HEAD").strip()
    write(repo, "app/keys.py", f"import os\nKEY = '{TOKEN}'\n")
    commit_all(repo, "keys")
    return base


def cxo_gate(repo, base, *args, summary=None):
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    if summary:
        env["GITHUB_STEP_SUMMARY"] = str(summary)
    return subprocess.run([str(BIN / "cxo-gate"), *args, "--worktree", str(repo), "--base", base],
                          capture_output=True, text=True, env=env, timeout=120)


# --- GitHub ----------------------------------------------------------------------------------------------------

def test_workflow_commands_escape_data_and_properties():
    line = formats.command("error", "50% done\r\nnext: a, b", file="dir,x/a:b.py", line=3, title="t: 100%, ok")
    assert line.endswith("\n") and "\n" not in line[:-1] and "\r" not in line
    assert parse_command(line[:-1]) == ("error", {"file": "dir,x/a:b.py", "line": "3", "title": "t: 100%, ok"},
                                        "50% done\r\nnext: a, b")
    assert "%25" in line and "%0D%0A" in line and "%2C" in line and "%3A" in line


def test_github_format_annotates_the_offending_line_then_prints_the_summary(git_repo):
    base = leak_a_token(git_repo)
    proc = cxo_gate(git_repo, base, "safety", "--format", "github")
    assert proc.returncode == 1, proc.stderr
    found = commands(proc.stdout)
    assert [(level, props["file"], props["line"]) for level, props, _ in found] == [("error", "app/keys.py", "2")]
    assert found[0][1]["title"] == "cxo gate safety: secret" and "GitHub token" in found[0][2]
    assert TOKEN not in proc.stdout
    lines = proc.stdout.splitlines()
    table = lines.index("| gate | verdict | summary |")
    assert table > max(i for i, line in enumerate(lines) if line.startswith("::"))
    assert any(line.startswith("| safety | ❌ fail |") for line in lines)
    assert "| safety | app/keys.py | 2 | secret |" in proc.stdout


def test_github_format_writes_the_summary_to_the_step_summary_file(git_repo, tmp_path):
    base = leak_a_token(git_repo)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    proc = cxo_gate(git_repo, base, "safety", "--format", "github", summary=summary)
    assert proc.returncode == 1
    assert all(line.startswith("::") for line in proc.stdout.splitlines()) and commands(proc.stdout)
    text = summary.read_text()
    assert text.startswith("earlier step\n## cxo gates") and "| safety | ❌ fail |" in text


def test_github_format_of_a_skipped_gate_is_a_notice(git_repo):
    base = git(git_repo, "rev-parse", "HEAD").strip()
    write(git_repo, "docs/notes.md", "notes\n")
    proc = cxo_gate(git_repo, base, "tdd", "--format", "github")
    assert proc.returncode == 0, proc.stderr
    (level, props, message), = commands(proc.stdout)
    assert level == "notice" and props == {"title": "cxo gate tdd: skipped"} and "runtime" in message


# --- JUnit -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def junit_schema():
    return xmlschema.XMLSchema(str(junit_xsd()))


def test_the_junit_schema_rejects_what_it_should(junit_schema):
    assert not junit_schema.is_valid("<testsuites><testsuite name='x'/></testsuites>")  # tests= etc. required


def test_junit_of_a_failing_gate_has_one_failing_testcase_per_finding(git_repo, junit_schema):
    base = leak_a_token(git_repo)
    write(git_repo, "certs/server.pem", "not really a key\n")
    commit_all(git_repo, "pem")
    proc = cxo_gate(git_repo, base, "safety", "--format", "junit")
    assert proc.returncode == 1
    junit_schema.validate(proc.stdout)
    suite = ET.fromstring(proc.stdout).find("testsuite")
    assert suite.get("name") == "safety" and suite.get("tests") == "2" and suite.get("failures") == "2"
    names = sorted(case.get("name") for case in suite.iter("testcase"))
    assert names == ["deny-path: certs/server.pem", "secret: app/keys.py:2"]
    assert {f.get("type") for f in suite.iter("failure")} == {"safety/secret", "safety/deny-path"}


def test_junit_of_passing_and_skipped_gates(git_repo, junit_schema):
    base = git(git_repo, "rev-parse", "HEAD").strip()
    write(git_repo, "docs/notes.md", "notes\n")
    passing = cxo_gate(git_repo, base, "safety", "--format", "junit")
    skipped = cxo_gate(git_repo, base, "tdd", "--format", "junit")
    assert passing.returncode == skipped.returncode == 0
    for proc in (passing, skipped):
        junit_schema.validate(proc.stdout)
    case = ET.fromstring(passing.stdout).find("testsuite/testcase")
    assert case.get("name") == "safety" and len(case) == 0
    suite = ET.fromstring(skipped.stdout).find("testsuite")
    assert suite.get("skipped") == "1" and suite.find("testcase/skipped") is not None


def test_junit_survives_control_characters_and_a_failure_without_findings(junit_schema):
    verdict = {"gate": "checks", "verdict": "fail", "summary": "failing check(s): lint\x1b[31m (exit 1)",
               "findings": [], "duration_seconds": 1234.5678}
    text = formats.junit([verdict])
    junit_schema.validate(text)
    failure = ET.fromstring(text).find("testsuite/testcase/failure")
    assert failure.get("type") == "checks/checks" and "lint" in failure.get("message")


# --- SARIF -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sarif_validator():
    schema = sarif_schema()
    assert "2.1.0" in schema["title"]
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def test_the_sarif_schema_rejects_what_it_should(sarif_validator):
    assert not sarif_validator.is_valid({"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]})


def test_sarif_of_a_failing_gate(git_repo, sarif_validator):
    base = leak_a_token(git_repo)
    proc = cxo_gate(git_repo, base, "safety", "--format", "sarif")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    sarif_validator.validate(doc)
    run = doc["runs"][0]
    assert run["tool"]["driver"]["name"] == "cxo"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["safety/secret"]
    (result,) = run["results"]
    assert result["ruleId"] == "safety/secret" and result["level"] == "error"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "app/keys.py" and location["region"] == {"startLine": 2}


def test_sarif_of_a_passing_gate_has_no_results(git_repo, sarif_validator):
    base = git(git_repo, "rev-parse", "HEAD").strip()
    proc = cxo_gate(git_repo, base, "safety", "--format", "sarif")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    sarif_validator.validate(doc)
    assert doc["runs"][0]["results"] == [] and doc["runs"][0]["invocations"][0]["properties"]["verdicts"] == {
        "safety": "pass"}


def test_json_stays_the_default_and_a_bad_format_is_a_usage_error(git_repo):
    base = git(git_repo, "rev-parse", "HEAD").strip()
    assert json.loads(cxo_gate(git_repo, base, "safety").stdout)["verdict"] == "pass"
    proc = cxo_gate(git_repo, base, "safety", "--format", "xml")
    assert proc.returncode == 2 and "--format" in proc.stderr and "Traceback" not in proc.stderr
