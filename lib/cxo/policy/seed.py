"""The seed's policy (codex-orchestrator 0.1.21's `.codex-orchestrator/config.json`), read with its meaning.

`translate(seed) -> (cxo policy dict, warnings)`: every key the seed's `setup` writes is mapped to the cxo key
that does the same thing; a key cxo does not act on is accepted and named in one warning line. Nothing here
refuses a seed configuration: the seed's own validation already ran when it was written.
"""

import copy
import math

# Keys only the seed's configuration has (cxo's own policy never uses them at the top level).
SEED_ONLY_TOP = {"runner", "branches", "pullRequests", "project", "workflows", "issueClassification"}
SEED_ONLY_MARKERS = ("branches", "pullRequests", "project", "workflows", "issueClassification")

# The seed's default codex args (and the form its setup migrated older configs to): cxo's built-in
# `codex exec` command line is the same call plus --json and the isolation flags (README "The agent").
SEED_DEFAULT_CODEX_ARGS = [
    "exec", "--cd", "${worktreePath}", "--sandbox", "workspace-write", "--add-dir", "${stateDir}",
    "-c", "sandbox_workspace_write.network_access=true", "--output-last-message", "${reportPath}", "-",
]
SEED_DEFAULT_WORKSPACE_ROOT = ".codex-orchestrator/workspaces"
SEED_DEFAULT_STATE_DIR = ".codex-orchestrator/state"
SEED_PROMPT_ENV = "CODEX_ORCHESTRATOR_PROMPT_FILE"
SEED_REPORT_ENV = "CODEX_ORCHESTRATOR_REPORT_FILE"
POLICY_PREFIX = ".codex-orchestrator/"

# cxo's deny.commands patterns grouped by the seed's two switches.
DB_OR_CACHE = ("drop", "truncate", "flushall")
DEPLOY_OR_RELEASE = ("publish", "twine", "kubectl", "deploy", "release")


def is_seed_config(data: dict, file_name: str | None = None) -> bool:
    """A seed configuration: the file is config.json, or seed-only keys are present."""
    if not isinstance(data, dict):
        return False
    if file_name == "config.json":
        return True
    if any(key in data for key in SEED_ONLY_MARKERS):
        return True
    github = data.get("github")
    if isinstance(github, dict) and ("labels" in github or "prepareLabels" in github):
        return True
    runner = data.get("runner")
    seed_runner = {"maxParallelChildren", "allowAgentLocalCommits", "worktreeCleanup"}
    if isinstance(runner, dict) and seed_runner & set(runner):
        return True
    codex = data.get("codex")
    seed_codex = {"timeoutMs", "idleTimeoutMs", "mobileTimeoutMs", "promptFileEnv", "reportFileEnv", "adapter"}
    if isinstance(codex, dict) and seed_codex & set(codex):
        return True
    deny = data.get("deny")
    seed_deny = {"secretFiles", "destructiveDbOrCache", "productionDeployOrRelease", "additionalPathGlobs"}
    if isinstance(deny, dict) and seed_deny & set(deny):
        return True
    return isinstance(data.get("checks"), dict)


def _seconds(ms) -> int:
    return max(1, math.ceil(int(ms) / 1000))


def _template(text: str) -> str:
    """The seed fills only ${issueNumber} (and ${parentIssueNumber} for trees, the parent's number)."""
    return str(text).replace("${parentIssueNumber}", "${issueNumber}")


def _rel_prompt(path: str) -> str:
    path = str(path).replace("\\", "/")
    path = path[2:] if path.startswith("./") else path
    return path[len(POLICY_PREFIX):] if path.startswith(POLICY_PREFIX) else path


def translate(seed: dict, defaults: dict) -> tuple[dict, list[str]]:
    """The cxo policy (only the keys the seed sets) and one warning per seed key cxo does not act on."""
    out: dict = {}
    warnings: list[str] = []

    def warn(key: str, why: str):
        warnings.append(f"seed key '{key}' is accepted but cxo does not act on it: {why}")

    seed = copy.deepcopy(seed)
    known_top = {"version", "github", "labels", "runner", "codex", "project", "workflows", "checks", "reviewGates",
                 "deny", "branches", "pullRequests", "issueClassification"}
    if "version" in seed:
        out["version"] = seed["version"]
    # cxo keys written into a seed file keep working (a partly migrated file).
    for key, value in seed.items():
        if key not in known_top:
            out[key] = value

    github = dict(seed.get("github") or {})
    labels = github.pop("labels", None)
    prepare = github.pop("prepareLabels", None)
    if github:
        out["github"] = github
    if isinstance(labels, dict):
        out["labels"] = {k: ({kk: vv for kk, vv in v.items() if kk in ("name", "color", "description")}
                             if isinstance(v, dict) else v) for k, v in labels.items()}
    if isinstance(seed.get("labels"), dict):
        out.setdefault("labels", {}).update(seed["labels"])
    if prepare is not None and prepare != "report-only":
        warn("github.prepareLabels", "run `cxo-setup --prepare-labels` to create missing labels")

    runner = dict(seed.get("runner") or {})
    git: dict = {}
    if "allowAgentLocalCommits" in runner:
        git["allowLocalCommits"] = bool(runner.pop("allowAgentLocalCommits"))
    if "maxParallelChildren" in runner:
        out["concurrency"] = {"children": runner.pop("maxParallelChildren")}
        warn("runner.maxParallelChildren", "cxo runs no issue trees (agent:plan-auto); kept as concurrency.children")
    cleanup = runner.pop("worktreeCleanup", None)
    if isinstance(cleanup, dict) and cleanup.get("enabled") is False:
        warn("runner.worktreeCleanup", "cxo-daemon always removes the clean worktrees of merged branches")
    for key, seed_default in (("workspaceRoot", SEED_DEFAULT_WORKSPACE_ROOT), ("stateDir", SEED_DEFAULT_STATE_DIR)):
        if key in runner:
            value = runner.pop(key)
            if str(value).rstrip("/") == seed_default:
                warn(f"runner.{key}", f"the seed's default {seed_default} stays unused: cxo keeps worktrees and "
                     "state outside the checkout, under ~/.local/state/cxo/, out of the agent's reach")
            else:
                runner[key] = value
    if runner:
        out["runner"] = runner

    codex_in = dict(seed.get("codex") or {})
    codex: dict = {}
    adapter = codex_in.pop("adapter", "codex-cli")
    if adapter != "codex-cli":
        warn("codex.adapter", f"'{adapter}' is not an adapter cxo knows; codex.command/args decide")
    for key, literal in (("promptFileEnv", SEED_PROMPT_ENV), ("reportFileEnv", SEED_REPORT_ENV)):
        value = codex_in.pop(key, literal)
        if value != literal:
            warn(f"codex.{key}", f"the agent always gets {literal}")
    if "command" in codex_in:
        codex["command"] = codex_in.pop("command")
    if "args" in codex_in:
        args = codex_in.pop("args")
        codex["args"] = None if args == SEED_DEFAULT_CODEX_ARGS else args
    for seed_key, cxo_key in (("timeoutMs", "timeoutSeconds"), ("idleTimeoutMs", "idleTimeoutSeconds"),
                              ("mobileTimeoutMs", "mobileTimeoutSeconds")):
        if codex_in.get(seed_key) is not None:
            codex[cxo_key] = _seconds(codex_in.pop(seed_key))
        else:
            codex_in.pop(seed_key, None)
    codex.update(codex_in)  # cxo keys (model, extraArgs, ...) pass through
    if codex:
        out["codex"] = codex

    project = seed.get("project") or {}
    for key, literal in (("configDir", ".codex-orchestrator"), ("promptsDir", ".codex-orchestrator/prompts")):
        if key in project and project[key] != literal:
            warn(f"project.{key}", "cxo always reads .codex-orchestrator/ and its prompts/")

    workflows = seed.get("workflows") or {}
    for wid, workflow in workflows.items():
        workflow = workflow if isinstance(workflow, dict) else {}
        if wid == "scopedImplementation":
            if workflow.get("promptPath"):
                out.setdefault("prompts", {})["workflow"] = _rel_prompt(workflow["promptPath"])
        else:
            warn(f"workflows.{wid}", "cxo runs no planning workflows (agent:plan-auto)")

    checks = seed.get("checks")
    if isinstance(checks, dict):
        out["checks"] = [{"name": str(name), "command": str(command)} for name, command in checks.items()]
    elif isinstance(checks, list):
        out["checks"] = checks

    gates = seed.get("reviewGates")
    if isinstance(gates, dict):
        out["reviewGates"] = _review_gates(gates, defaults)

    deny = seed.get("deny")
    if isinstance(deny, dict):
        out["deny"] = _deny(deny, defaults)

    branches = seed.get("branches") or {}
    if "base" in branches:
        git["baseBranch"] = branches["base"]
    if "scopedIssue" in branches:
        git["branchTemplate"] = _template(branches["scopedIssue"])
    if "issueTree" in branches:
        git["integrationBranchTemplate"] = _template(branches["issueTree"])
        warn("branches.issueTree", "cxo runs no issue trees (agent:plan-auto); kept as git.integrationBranchTemplate")
    if git:
        out["git"] = {**git, **(seed.get("git") or {})}

    prs = seed.get("pullRequests") or {}
    if "scopedIssueTitle" in prs:
        out["pullRequest"] = {"titleTemplate": _template(prs["scopedIssueTitle"])}
    if "issueTreeTitle" in prs:
        warn("pullRequests.issueTreeTitle", "cxo runs no issue trees (agent:plan-auto)")

    classification = seed.get("issueClassification") or {}
    if "promotionCriteria" in classification:
        warn("issueClassification.promotionCriteria", "the agent decides on needs-promotion from cxo's prompt; "
             "the criteria are not listed to it")
    gate = classification.get("clarificationGate", "block-and-comment")
    if gate != "block-and-comment":
        warn("issueClassification.clarificationGate", "cxo always blocks and comments")
    return out, warnings


def _review_gates(gates: dict, defaults: dict) -> dict:
    out: dict = {}
    order = list(defaults["reviewGates"]["order"])
    for key in ("order", "reviewer"):
        if key in gates:
            out[key] = gates[key]
    visual_in = gates.get("visualProof")
    if isinstance(visual_in, dict):
        visual = {k: v for k, v in visual_in.items()
                  if k not in ("changedPathGlobs", "minScreenshotArtifacts", "artifactDir", "runnerValidationCommand")}
        if "changedPathGlobs" in visual_in:
            visual["uiChangedPathGlobs"] = visual_in["changedPathGlobs"]
        if "minScreenshotArtifacts" in visual_in:
            visual["minScreenshots"] = visual_in["minScreenshotArtifacts"]
        if "artifactDir" in visual_in:
            # The seed asks for screenshots under <artifactDir>/issue-<n>/.
            visual["artifactDir"] = str(visual_in["artifactDir"]).rstrip("/") + "/issue-${issueNumber}"
        if "runnerValidationCommand" in visual_in:
            visual["runnerValidationCommand"] = (visual_in["runnerValidationCommand"] or "").strip() or None
        out["visualProof"] = visual
    quality_in = gates.get("quality")
    if isinstance(quality_in, dict):
        quality = {k: v for k, v in quality_in.items() if k not in ("tdd", "cleanupReview", "codeReview")}
        tdd = quality_in.get("tdd")
        if isinstance(tdd, dict):
            if "enabled" in tdd:
                quality["tdd"] = bool(tdd["enabled"])
            if "requireTestChange" in tdd:
                quality["requireTestChange"] = bool(tdd["requireTestChange"])
            if "requiredValidationPatterns" in tdd:
                quality["tddValidationPatterns"] = tdd["requiredValidationPatterns"]
        elif isinstance(tdd, bool):
            quality["tdd"] = tdd
        cleanup = quality_in.get("cleanupReview")
        if isinstance(cleanup, dict):
            if cleanup.get("enabled") is False and "order" not in gates:
                order.remove("cleanup")
                out["order"] = order
            if "runtimeFileThreshold" in cleanup:
                quality["cleanupReviewThreshold"] = cleanup["runtimeFileThreshold"]
            if "requiredValidationPatterns" in cleanup:
                quality["cleanupReviewValidationPatterns"] = cleanup["requiredValidationPatterns"]
        review = quality_in.get("codeReview")
        if isinstance(review, dict):
            if "enabled" in review:
                quality["codeReview"] = bool(review["enabled"])
            if "requiredValidationPatterns" in review:
                quality["codeReviewValidationPatterns"] = review["requiredValidationPatterns"]
        elif isinstance(review, bool):
            quality["codeReview"] = review
        out["quality"] = quality
    return out


def _deny(deny: dict, defaults: dict) -> dict:
    out = {k: v for k, v in deny.items()
           if k not in ("secretFiles", "additionalPathGlobs", "destructiveDbOrCache", "productionDeployOrRelease")}
    if "secretFiles" in deny or "additionalPathGlobs" in deny:
        # cxo's own list (keys, certificates, credentials) stays: it is stricter than the seed's .env default.
        paths = list(out.get("paths") or defaults["deny"]["paths"])
        for pattern in list(deny.get("secretFiles") or []) + list(deny.get("additionalPathGlobs") or []):
            for variant in (pattern, pattern if "/" in pattern else f"**/{pattern}"):
                if variant not in paths:
                    paths.append(variant)
        out["paths"] = paths
    commands = list(out.get("commands") or defaults["deny"]["commands"])
    for switch, words in (("destructiveDbOrCache", DB_OR_CACHE), ("productionDeployOrRelease", DEPLOY_OR_RELEASE)):
        if deny.get(switch) is False:
            commands = [c for c in commands if not any(w in c.lower() for w in words)]
    if commands != defaults["deny"]["commands"] or "commands" in out:
        out["commands"] = commands
    return out


# --- the seed's completion report ------------------------------------------------------------------------------

def is_seed_report(data) -> bool:
    """The seed's scoped completion report: no summary, validation lines with command/summary, and
    skippedChecks as strings or prohibitedActions as {type, description}."""
    if not isinstance(data, dict) or "summary" in data:
        return False
    validation = data.get("validation")
    if not isinstance(validation, list) or not isinstance(data.get("changes"), list):
        return False
    return all(isinstance(v, dict) and "name" not in v and "command" in v for v in validation)


def report_from_seed(data: dict) -> dict:
    """The cxo completion report with the same content (schema/completion-report.schema.json)."""
    validation = [{"name": str(v.get("command") or "validation"), "command": str(v.get("command") or ""),
                   "status": v.get("status"), "details": str(v.get("summary") or "")}
                  for v in data.get("validation") or []]
    artifacts = []
    for a in data.get("artifacts") or []:
        if isinstance(a, dict) and (a.get("path") or a.get("url")):
            artifacts.append({"path": str(a.get("path") or a.get("url")), "kind": str(a.get("type") or "other"),
                              "description": str(a.get("description") or "")})
    skipped = []
    for s in data.get("skippedChecks") or []:
        if isinstance(s, dict):
            skipped.append(s)
        else:
            name, _, reason = str(s).partition(":")
            skipped.append({"name": name.strip() or str(s), "reason": reason.strip() or str(s)})
    prohibited = [f"{p.get('type')}: {p.get('description')}" if isinstance(p, dict) else str(p)
                  for p in data.get("prohibitedActions") or []]
    changes = [str(c) for c in data.get("changes") or []]
    status = data.get("status")
    summary = (f"{len(changes)} change(s): " + "; ".join(changes[:5])) if changes else "no changes reported"
    report = {"status": status, "summary": summary[:500], "changes": changes, "validation": validation,
              "artifacts": artifacts, "skippedChecks": skipped,
              "residualRisks": [str(r) for r in data.get("residualRisks") or []], "prohibitedActions": prohibited}
    promotion = data.get("promotion")
    if isinstance(promotion, dict):
        reason = str(promotion.get("reason") or "needs promotion")
        extra = [f"criteria: {', '.join(map(str, promotion.get('criteria') or []))}" if promotion.get("criteria")
                 else "", f"evidence: {'; '.join(map(str, promotion.get('evidence') or []))}"
                 if promotion.get("evidence") else ""]
        report["promotion"] = {"reason": " ".join([reason, *[e for e in extra if e]])}
    return report
