"""`cxo-setup --migrate`: the cxo config.yaml equivalent to a seed config.json, and what changed.

Above both the policy loader and the seed translation (lib/cxo/policy/seed.py), which it uses.
"""


def _flat(data, prefix="") -> dict:
    out = {}
    for key, value in (data or {}).items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def migrate(target) -> tuple[str, list[str]]:
    """The cxo config.yaml equivalent to the seed's config.json in `target`, and lines saying what changed."""
    import json
    from pathlib import Path

    import yaml

    from ..errors import PolicyError, UsageError
    from . import POLICY_DIR, parse_policy_text

    source = Path(target) / POLICY_DIR / "config.json"
    if not source.is_file():
        raise UsageError(f"{source}: no seed config.json to migrate")
    if (Path(target) / POLICY_DIR / "config.yaml").exists():
        raise UsageError(f"{Path(target) / POLICY_DIR / 'config.yaml'} exists already: remove it to migrate again")
    try:
        seed = json.loads(source.read_text())
    except ValueError as exc:
        raise PolicyError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno}): fix the file") from None
    notes: list[str] = []
    data = parse_policy_text(source.read_text(), str(source), notes)
    lines = [f"changed: {key} -> {new}" for key, new in _moves(_flat(seed))]
    lines += [f"note: {n}" for n in notes]
    header = ("# cxo policy migrated from codex-orchestrator 0.1.21's config.json by `cxo-setup --migrate`.\n"
              "# Keys left out take cxo's defaults (lib/cxo/policy_defaults.yaml).\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), lines


def _moves(before: dict) -> list[tuple[str, str]]:
    """(seed key, cxo key) for each seed key present that has a different name in cxo."""
    homes = {"github.labels": "labels (name, color, description)",
             "runner.allowAgentLocalCommits": "git.allowLocalCommits",
             "runner.maxParallelChildren": "concurrency.children",
             "codex.timeoutMs": "codex.timeoutSeconds", "codex.idleTimeoutMs": "codex.idleTimeoutSeconds",
             "codex.mobileTimeoutMs": "codex.mobileTimeoutSeconds",
             "codex.args": "codex.args (the seed's default: null, cxo's built-in codex exec)",
             "workflows.scopedImplementation.promptPath": "prompts.workflow",
             "checks": "checks (a list of {name, command})",
             "deny.secretFiles": "deny.paths", "deny.additionalPathGlobs": "deny.paths",
             "deny.destructiveDbOrCache": "deny.commands", "deny.productionDeployOrRelease": "deny.commands",
             "branches.base": "git.baseBranch", "branches.scopedIssue": "git.branchTemplate",
             "branches.issueTree": "git.integrationBranchTemplate",
             "pullRequests.scopedIssueTitle": "pullRequest.titleTemplate",
             "reviewGates.visualProof.changedPathGlobs": "reviewGates.visualProof.uiChangedPathGlobs",
             "reviewGates.visualProof.minScreenshotArtifacts": "reviewGates.visualProof.minScreenshots",
             "reviewGates.visualProof.artifactDir": "reviewGates.visualProof.artifactDir (+ /issue-${issueNumber})",
             "reviewGates.quality.tdd": "reviewGates.quality.tdd, requireTestChange, tddValidationPatterns",
             "reviewGates.quality.cleanupReview": "reviewGates.quality.cleanupReviewThreshold, "
                                                  "cleanupReviewValidationPatterns",
             "reviewGates.quality.codeReview": "reviewGates.quality.codeReview, codeReviewValidationPatterns"}
    return [(k, v) for k, v in homes.items() if any(b == k or b.startswith(k + ".") for b in before)]
