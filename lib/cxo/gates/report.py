"""report: the completion report is present, valid and consistent with the change set."""

from ..schemas import errors as schema_errors
from .base import Gate, verdict


class ReportGate(Gate):
    name = "report"

    def applies(self, ctx):
        if ctx.report is None and ctx.envelope is None:
            return False, "no completion report given (--report FILE)"
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
