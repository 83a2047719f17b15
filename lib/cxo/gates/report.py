"""report: the completion report is present, valid and consistent with the change set."""

from ..schemas import errors as schema_errors
from .base import Gate, verdict


class ReportGate(Gate):
    name = "report"

    def applies(self, ctx):
        if ctx.report is None and ctx.envelope is None:
            return False, "no completion report given (--report FILE)"
        if ctx.report is None and ((ctx.envelope or {}).get("codex") or {}).get("agent") == "none":
            return False, "no agent ran: the runner merged the base cleanly (an update round)"
        return True, ""

    def run(self, ctx) -> dict:
        report = ctx.report
        if report is None:
            return verdict(self.name, "fail", "no completion report")
        problems = schema_errors("completion-report", report)
        if problems:
            return verdict(self.name, "fail", f"completion report is invalid at {problems[0]}")
        findings = []
        files = set(ctx.changes.files) | set(ctx.changes.deleted)
        claimed = [c if isinstance(c, str) else c["path"] for c in report["changes"]]
        for path in claimed:
            if "/" in path or "." in path:  # a path, not prose
                if path not in files:
                    findings.append({"file": path, "line": None, "severity": "minor",
                                     "message": f"the report lists {path}, which the change set does not touch"})
        failed = [v for v in report["validation"] if v["status"] == "failed"]
        for line in failed:
            findings.append({"file": None, "line": None, "severity": "blocker",
                             "message": f"the report's own validation failed: {line['name']}"})
        missing = self._evidence(ctx, report)
        if missing:
            return verdict(self.name, "fail", "; ".join(missing), findings=findings)
        if report.get("noChangesNeeded") and files:
            return verdict(self.name, "fail", "the report says no changes were needed, but the change set is "
                           f"not empty ({len(files)} file(s))", findings=findings)
        if failed:
            return verdict(self.name, "fail", f"{len(failed)} failed validation line(s) in the report",
                           findings=findings)
        summary = f"report valid: {len(report['validation'])} validation line(s)"
        if findings:
            summary += f", {len(findings)} claim(s) not in the change set"
        return verdict(self.name, "pass", summary, findings=findings)

    def _evidence(self, ctx, report: dict) -> list[str]:
        """The seed's evidence rules (reviewGates.quality.*ValidationPatterns, visualProof.requiredValidationPatterns
        and blockOnSkippedPatterns): the report must claim what the seed's prompts ask the agent to do. They add to
        the gates that verify; they never replace them."""
        import re

        from .paths import quality, runtime_files
        from .visual import VisualGate, visual_policy

        def text(line):
            return f"{line.get('name', '')}\n{line.get('command', '')}\n{line.get('details', '')}"

        passed = [text(v) for v in report["validation"] if v["status"] == "passed"]

        def claims(patterns):
            return any(re.search(p, t, re.I) for p in patterns for t in passed)

        missing = []
        q = quality(ctx.policy)
        runtime = runtime_files(ctx) if q["enabled"] else []
        if runtime:
            rules = [("tdd", q.get("tdd"), "tddValidationPatterns", "TDD red-to-green"),
                     ("codeReview", q.get("codeReview"), "codeReviewValidationPatterns", "code review"),
                     ("cleanup", len(runtime) >= q["cleanupReviewThreshold"], "cleanupReviewValidationPatterns",
                      "cleanup review")]
            for _, on, key, what in rules:
                patterns = q.get(key) or []
                if on and patterns and not claims(patterns):
                    missing.append(f"the report has no passed {what} validation line "
                                   f"(reviewGates.quality.{key})")
        v = visual_policy(ctx.policy)
        if (v.get("requiredValidationPatterns") or v.get("blockOnSkippedPatterns")) and VisualGate().applies(ctx)[0]:
            if v.get("requiredValidationPatterns") and not claims(v["requiredValidationPatterns"]):
                missing.append("the report has no passed visual validation line "
                               "(reviewGates.visualProof.requiredValidationPatterns)")
            for skipped in report.get("skippedChecks") or []:
                line = f"{skipped.get('name', '')}: {skipped.get('reason', '')}"
                if any(re.search(p, line, re.I) for p in v.get("blockOnSkippedPatterns") or []):
                    missing.append(f"a visual check was skipped: {skipped.get('name', '')[:80]} "
                                   "(reviewGates.visualProof.blockOnSkippedPatterns)")
        return missing
