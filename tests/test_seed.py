"""The seed's config.json and completion report, translated to cxo's keys (lib/cxo/policy/seed.py)."""

import json
import subprocess
import sys
from pathlib import Path

from cxo import policy as policy_mod
from cxo.policy import seed
from cxo.steps.codex import read_report
from tests.support.git_fixtures import git

DATA = Path(__file__).parent / "data" / "seed"
BIN = Path(sys.executable).parent


def load_json(text: str, tmp_path: Path):
    repo = tmp_path / "repo"
    (repo / ".codex-orchestrator").mkdir(parents=True)
    git(tmp_path, "init", "-q", str(repo))
    (repo / ".codex-orchestrator" / "config.json").write_text(text)
    return policy_mod.load(repo, working_copy=True, infer_repo=False)


def test_every_changed_seed_key_lands_on_its_cxo_key(tmp_path):
    config = json.loads((DATA / "config.json").read_text())
    config["github"]["labels"]["review"] = {"name": "needs-eyes", "color": "ABCDEF", "description": "d"}
    config["runner"].update(maxParallelChildren=1, allowAgentLocalCommits=True, workspaceRoot="../wt")
    config["codex"].update(command="my-codex", args=["run", "${worktreePath}"], timeoutMs=1500, idleTimeoutMs=999,
                           mobileTimeoutMs=7_200_000)
    config["workflows"]["scopedImplementation"]["promptPath"] = ".codex-orchestrator/prompts/mine.md"
    config["checks"] = {"unit": "make unit"}
    vp = config["reviewGates"]["visualProof"]
    vp.update(enabled=False, artifactDir="shots", issueTextPatterns=["pixel"], changedPathGlobs=["ui/**"],
              requiredValidationPatterns=["cypress"], blockOnSkippedPatterns=["chrome"], minScreenshotArtifacts=2,
              runnerValidationCommand="make proof", runnerTimeoutMs=5000, envPassthrough=["PROOF_USER"])
    q = config["reviewGates"]["quality"]
    q["tdd"] = {"enabled": False, "requireTestChange": False, "requiredValidationPatterns": ["tdd-ok"]}
    q["cleanupReview"] = {"enabled": False, "runtimeFileThreshold": 9, "requiredValidationPatterns": ["tidy"]}
    q["codeReview"] = {"enabled": False, "requiredValidationPatterns": ["cr-ok"]}
    config["deny"] = {"secretFiles": ["conf/prod.ini"], "destructiveDbOrCache": False,
                      "productionDeployOrRelease": True, "additionalPathGlobs": ["infra/**"]}
    config["branches"] = {"base": "trunk", "scopedIssue": "bot/${issueNumber}",
                          "issueTree": "bot/tree-${parentIssueNumber}"}
    config["pullRequests"]["scopedIssueTitle"] = "Bot #${issueNumber}"
    p = load_json(json.dumps(config), tmp_path)
    assert p.label("review") == "needs-eyes" and p.label_meta["review"]["color"] == "ABCDEF"
    assert p["concurrency"]["children"] == 1 and p["git"]["allowLocalCommits"] is True
    assert p.workspace_root == (p.target.parent / "wt").resolve()
    assert p["codex"]["command"] == "my-codex" and p["codex"]["args"] == ["run", "${worktreePath}"]
    assert (p["codex"]["timeoutSeconds"], p["codex"]["idleTimeoutSeconds"], p["codex"]["mobileTimeoutSeconds"]) \
        == (2, 1, 7200)
    assert p["prompts"]["workflow"] == "prompts/mine.md"
    assert p["checks"] == [{"name": "unit", "command": "make unit"}]
    v = p["reviewGates"]["visualProof"]
    assert (v["enabled"], v["artifactDir"], v["issueTextPatterns"], v["uiChangedPathGlobs"],
            v["requiredValidationPatterns"], v["blockOnSkippedPatterns"], v["minScreenshots"],
            v["runnerValidationCommand"], v["runnerTimeoutMs"], v["envPassthrough"]) == (
        False, "shots/issue-${issueNumber}", ["pixel"], ["ui/**"], ["cypress"], ["chrome"], 2, "make proof", 5000,
        ["PROOF_USER"])
    qq = p["reviewGates"]["quality"]
    assert (qq["tdd"], qq["requireTestChange"], qq["tddValidationPatterns"], qq["cleanupReviewThreshold"],
            qq["cleanupReviewValidationPatterns"], qq["codeReview"], qq["codeReviewValidationPatterns"]) == (
        False, False, ["tdd-ok"], 9, ["tidy"], False, ["cr-ok"])
    assert "cleanup" not in p["reviewGates"]["order"]
    assert {"conf/prod.ini", "infra/**"} <= set(p["deny"]["paths"])
    assert not any("drop" in c or "flushall" in c for c in p["deny"]["commands"])
    assert any("deploy" in c for c in p["deny"]["commands"])
    assert (p.base_branch, p["git"]["branchTemplate"], p["git"]["integrationBranchTemplate"]) == (
        "trunk", "bot/${issueNumber}", "bot/tree-${issueNumber}")
    assert p["pullRequest"]["titleTemplate"] == "Bot #${issueNumber}"


def test_unacted_keys_warn_once_each_and_never_refuse():
    warnings = []
    text = (DATA / "config.json").read_text()
    policy_mod.parse_policy_text(text, "x/config.json", warnings)
    named = [w.split("'")[1] for w in warnings]
    assert "workflows.prd" in named and "pullRequests.issueTreeTitle" in named
    assert len(named) == len(set(named))
    # keys cxo acts on are never named
    assert not {"branches.scopedIssue", "checks", "codex.timeoutMs", "deny.secretFiles"} & set(named)


def test_a_plain_cxo_policy_is_not_translated():
    assert not seed.is_seed_config({"labels": {"auto": "x"}, "checks": []}, "config.yaml")
    assert seed.is_seed_config({"branches": {"base": "main"}}, "config.yaml")


def test_migrate_writes_the_equivalent_config_yaml(tmp_path):
    p = load_json((DATA / "config.json").read_text(), tmp_path)
    proc = subprocess.run([str(BIN / "cxo-setup"), "--target", str(p.target), "--migrate"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert "changed: branches.scopedIssue -> git.branchTemplate" in proc.stdout
    assert "note: seed key 'workflows.prd'" in proc.stdout
    migrated = policy_mod.load(p.target, working_copy=True, infer_repo=False)
    assert migrated.path.name == "config.yaml"
    assert migrated.data == p.data and migrated.label_meta == p.label_meta
    again = subprocess.run([str(BIN / "cxo-setup"), "--target", str(p.target), "--migrate"], capture_output=True,
                           text=True)
    assert again.returncode == 2 and "exists already" in again.stderr and "Traceback" not in again.stderr


SEED_REPORT = {
    "status": "needs-promotion", "changes": ["app/calc.py"],
    "validation": [{"command": "npm test", "status": "passed", "summary": "red then green"}],
    "artifacts": [{"type": "screenshot", "url": "https://example.com/s.png", "description": "home page"}],
    "skippedChecks": ["BrowserUse: unavailable in the session"], "residualRisks": ["none known"],
    "prohibitedActions": [{"type": "secret-file-read", "description": "read .env"}],
    "promotion": {"reason": "touches billing", "criteria": ["billing"], "evidence": ["app/billing.py"]},
}


def test_a_seed_format_report_is_mapped_field_by_field(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(SEED_REPORT))
    report, problem = read_report(path)
    assert problem is None
    assert report["status"] == "needs-promotion" and report["changes"] == ["app/calc.py"]
    assert report["validation"] == [{"name": "npm test", "command": "npm test", "status": "passed",
                                     "details": "red then green"}]
    assert report["artifacts"] == [{"path": "https://example.com/s.png", "kind": "screenshot",
                                    "description": "home page"}]
    assert report["skippedChecks"] == [{"name": "BrowserUse", "reason": "unavailable in the session"}]
    assert report["prohibitedActions"] == ["secret-file-read: read .env"]
    assert report["promotion"]["reason"].startswith("touches billing") and "billing.py" in report["promotion"]["reason"]
    broken = dict(SEED_REPORT, validation=[{"command": "x", "status": "weird", "summary": ""}])
    path.write_text(json.dumps(broken))
    assert read_report(path)[0] is None
