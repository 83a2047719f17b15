"""Gate verdicts for other CI systems: JSON, GitHub workflow commands, JUnit XML and SARIF 2.1.0.

Every renderer takes the list of verdicts (schema/gate-verdict.schema.json) and returns text; none
of them reads the environment except `github_summary_path`, so they are plain functions to test.
"""

import json
import re
import xml.etree.ElementTree as ET

FORMATS = ("json", "github", "junit", "sarif")
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# Finding severities (gate-verdict schema) as GitHub annotation levels and SARIF result levels.
GITHUB_LEVEL = {"blocker": "error", "major": "error", "minor": "warning", "nit": "notice", "info": "notice"}
SARIF_LEVEL = {"blocker": "error", "major": "error", "minor": "warning", "nit": "note", "info": "note"}
# XML 1.0 forbids most control characters even escaped; a finding message may hold any.
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def render(fmt: str, verdicts: list[dict]) -> str:
    if fmt == "json":
        return render_json(verdicts)
    if fmt == "github":
        return "".join(annotation_lines(verdicts))
    if fmt == "junit":
        return junit(verdicts)
    if fmt == "sarif":
        return sarif(verdicts)
    raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")


def render_json(verdicts: list[dict]) -> str:
    """One verdict object for one gate (what `cxo-gate NAME` always printed), a list for several."""
    return json.dumps(verdicts[0] if len(verdicts) == 1 else verdicts, indent=2) + "\n"


def findings_of(result: dict) -> list[dict]:
    """The verdict's findings; a failing verdict without any gets one finding from its summary, so a failure
    always shows up somewhere (a check's exit status, a crashed gate)."""
    found = list(result.get("findings") or [])
    if result["verdict"] == "fail" and not found:
        found = [{"file": None, "line": None, "severity": "blocker", "rule": result["gate"],
                  "message": result["summary"]}]
    return found


def rule_id(result: dict, finding: dict) -> str:
    return f"{result['gate']}/{finding.get('rule') or 'finding'}"


# --- GitHub workflow commands -------------------------------------------------------------------------------

def escape_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub's runner reads it back."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, **props) -> str:
    shown = ",".join(f"{key}={escape_property(str(value))}" for key, value in props.items() if value is not None)
    return f"::{level}{' ' + shown if shown else ''}::{escape_data(message)}\n"


def annotation_lines(verdicts: list[dict]) -> list[str]:
    """One annotation per finding, on its file and line where it has them; a skipped gate is a notice."""
    lines = []
    for result in verdicts:
        if result["verdict"] == "skip":
            lines.append(command("notice", result["summary"], title=f"cxo gate {result['gate']}: skipped"))
            continue
        for finding in findings_of(result):
            level = GITHUB_LEVEL.get(finding.get("severity") or "blocker", "error")
            if result["verdict"] == "pass" and level == "error":
                level = "warning"  # a passing gate's findings are advice, never a red mark
            line = finding.get("line") if finding.get("file") else None
            lines.append(command(level, finding["message"], file=finding.get("file"), line=line,
                                 title=f"cxo gate {result['gate']}: {finding.get('rule') or result['verdict']}"))
    return lines


def _cell(text) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def markdown_summary(verdicts: list[dict]) -> str:
    """The job summary: one row per gate, then one row per finding."""
    mark = {"pass": "✅ pass", "fail": "❌ fail", "skip": "⏭️ skip"}
    out = ["## cxo gates", "", "| gate | verdict | summary |", "| --- | --- | --- |"]
    out += [f"| {_cell(r['gate'])} | {mark[r['verdict']]} | {_cell(r['summary'])} |" for r in verdicts]
    rows = [(r, f) for r in verdicts if r["verdict"] != "skip" for f in r.get("findings") or []]
    if rows:
        out += ["", "| gate | file | line | rule | message |", "| --- | --- | --- | --- | --- |"]
        out += [f"| {_cell(r['gate'])} | {_cell(f.get('file') or '')} | {f.get('line') or ''} | "
                f"{_cell(f.get('rule') or '')} | {_cell(f['message'])} |" for r, f in rows]
    return "\n".join(out) + "\n"


# --- JUnit XML (the Jenkins junit-10.xsd dialect GitLab, Jenkins and most CI read) --------------------------

def _xml_text(text) -> str:
    return _XML_BAD.sub("\ufffd", str(text))


def _seconds(value) -> str:
    return f"{float(value or 0):.3f}"


def junit(verdicts: list[dict]) -> str:
    """One testsuite per gate; one failing testcase per finding, or one passing (or skipped) testcase."""
    root = ET.Element("testsuites", name="cxo gates")
    totals = {"tests": 0, "failures": 0, "time": 0.0}
    for result in verdicts:
        gate, cases = result["gate"], []
        if result["verdict"] == "skip":
            case = ET.Element("testcase", name=gate, classname=f"cxo.{gate}", time="0.000")
            ET.SubElement(case, "skipped", message=_xml_text(result["summary"]))
            cases.append(case)
        elif result["verdict"] == "pass":
            cases.append(ET.Element("testcase", name=gate, classname=f"cxo.{gate}",
                                    time=_seconds(result.get("duration_seconds"))))
        else:
            for finding in findings_of(result):
                where = finding.get("file") or ""
                if where and finding.get("line"):
                    where += f":{finding['line']}"
                name = f"{finding.get('rule') or gate}{': ' + where if where else ''}"
                case = ET.Element("testcase", name=_xml_text(name), classname=f"cxo.{gate}", time="0.000")
                failure = ET.SubElement(case, "failure", type=rule_id(result, finding),
                                        message=_xml_text(finding["message"]))
                failure.text = _xml_text(f"{where or gate}: {finding['message']}")
                cases.append(case)
        failures = sum(1 for c in cases if c.find("failure") is not None)
        skipped = sum(1 for c in cases if c.find("skipped") is not None)
        suite = ET.SubElement(root, "testsuite", name=gate, tests=str(len(cases)), failures=str(failures),
                              errors="0", skipped=str(skipped), time=_seconds(result.get("duration_seconds")))
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="verdict", value=result["verdict"])
        ET.SubElement(props, "property", name="summary", value=_xml_text(result["summary"]))
        suite.extend(cases)
        totals["tests"] += len(cases)
        totals["failures"] += failures
        totals["time"] += float(result.get("duration_seconds") or 0)
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", "0")
    root.set("time", _seconds(totals["time"]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --- SARIF 2.1.0 ------------------------------------------------------------------------------------------

def sarif(verdicts: list[dict], version: str | None = None) -> str:
    """One run of tool `cxo`: a rule per gate/rule, a result per finding (with its file and line when known)."""
    if version is None:
        from .. import __version__ as version
    rules, index, results = [], {}, []
    for result in verdicts:
        if result["verdict"] == "skip":
            continue
        for finding in findings_of(result):
            rid = rule_id(result, finding)
            if rid not in index:
                index[rid] = len(rules)
                rules.append({"id": rid, "name": rid.replace("/", "-"),
                              "shortDescription": {"text": f"cxo {result['gate']} gate: "
                                                           f"{finding.get('rule') or 'finding'}"},
                              "properties": {"gate": result["gate"]}})
            item = {"ruleId": rid, "ruleIndex": index[rid],
                    "level": SARIF_LEVEL.get(finding.get("severity") or "blocker", "error"),
                    "message": {"text": finding["message"]}}
            if finding.get("file"):
                location = {"artifactLocation": {"uri": finding["file"], "uriBaseId": "%SRCROOT%"}}
                if finding.get("line"):
                    location["region"] = {"startLine": finding["line"]}
                item["locations"] = [{"physicalLocation": location}]
            results.append(item)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "cxo", "version": version, "rules": rules}},
            "invocations": [{"executionSuccessful": True,
                             "properties": {"verdicts": {r["gate"]: r["verdict"] for r in verdicts}}}],
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2) + "\n"
