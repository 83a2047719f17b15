"""cxo-run inside GitHub Actions (`GITHUB_ACTIONS=true`): job summary, step outputs, annotations.

- the run report (the PR body, the blocked report or the no-change report) is appended to
  `$GITHUB_STEP_SUMMARY`;
- `status` (`ok` or `blocked`), `pr-url`, `issue` and `blocked-step`/`blocked-reason` are appended to
  `$GITHUB_OUTPUT` in the format GitHub documents (`name=value`, or a heredoc with a delimiter that the
  value does not contain);
- a blocked run prints `::error` workflow commands (the reason, and every finding of a failing gate on its
  file and line) and `::warning` ones (an unconfined agent, findings of gates that passed), on stderr: stdout
  carries the envelope, and GitHub's runner reads commands from both streams.

Every message goes through cxo.gates.formats' escaping, so agent-written text (a reviewer's finding, a file
name) stays one command's data and cannot start a workflow command of its own.
"""

import os
import secrets
import sys

from .gates import formats


def active(environ=None) -> bool:
    return (os.environ if environ is None else environ).get("GITHUB_ACTIONS") == "true"


def outputs(env: dict) -> dict[str, str]:
    pull = (env.get("publish") or {}).get("pull_request") or {}
    blocked = env.get("blocked") or {}
    return {"status": env["status"], "pr-url": pull.get("html_url") or "",
            "issue": str((env.get("issue") or {}).get("number") or ""),
            "blocked-step": blocked.get("step") or "", "blocked-reason": blocked.get("reason") or ""}


def output_lines(values: dict[str, str]) -> str:
    """GITHUB_OUTPUT's format: `name=value` for one line, `name<<DELIM` … `DELIM` otherwise."""
    out = []
    for name, value in values.items():
        if "\n" not in value and "\r" not in value:
            out.append(f"{name}={value}\n")
            continue
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in value:  # pragma: no cover - 128 random bits
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        out.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(out)


def summary(env: dict, state_dir: str) -> str:
    from . import report

    if env["status"] == "blocked":
        return report.blocked_report(env, "", state_dir) + "\n"
    if ((env.get("publish") or {}).get("pull_request")):
        pull = env["publish"]["pull_request"]
        return f"**Draft PR:** {pull.get('html_url') or pull.get('url')}\n\n" + report.review_report(env, "") + "\n"
    if (env.get("codex") or {}).get("report"):
        return report.no_change_report(env, "") + "\n"
    return f"cxo run `{env['run_id']}`: {env['status']}\n"


def annotations(env: dict) -> list[str]:
    number = (env.get("issue") or {}).get("number")
    lines = []
    if (env.get("codex") or {}).get("isolation") == "none":
        lines.append(formats.command("warning", "the agent ran without a sandbox (agent.isolation: none)",
                                     title=f"cxo #{number}: isolation none"))
    verdicts = (env.get("gate") or {}).get("verdicts") or []
    if env["status"] == "blocked":
        blocked = env["blocked"]
        lines.append(formats.command("error", f"{blocked['step']}: {blocked['reason']}",
                                     title=f"cxo #{number}: run blocked"))
        lines += formats.annotation_lines([v for v in verdicts if v["verdict"] == "fail"])
    lines += formats.annotation_lines([v for v in verdicts if v["verdict"] == "pass" and v.get("findings")])
    return lines


def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def publish(env: dict, state_dir: str, environ=None, stream=None) -> None:
    """Everything GitHub Actions shows about this run; a no-op outside Actions."""
    environ = os.environ if environ is None else environ
    if not active(environ):
        return
    if environ.get("GITHUB_STEP_SUMMARY"):
        _append(environ["GITHUB_STEP_SUMMARY"], summary(env, state_dir))
    if environ.get("GITHUB_OUTPUT"):
        _append(environ["GITHUB_OUTPUT"], output_lines(outputs(env)))
    stream = stream or sys.stderr
    stream.write("".join(annotations(env)))
    stream.flush()


def publish_tree_step(result: dict, environ=None, stream=None) -> None:
    """`cxo-tree --parent N --step` in Actions: the step outputs `children` (the matrix of the child jobs, a JSON
    list) and `status`, and one summary line; a no-op outside Actions."""
    import json

    environ = os.environ if environ is None else environ
    if not active(environ):
        return
    if environ.get("GITHUB_OUTPUT"):
        _append(environ["GITHUB_OUTPUT"], output_lines({"children": json.dumps(result["startable"]),
                                                        "status": result["status"]}))
    if environ.get("GITHUB_STEP_SUMMARY"):
        started = ", ".join(f"#{n}" for n in result["startable"]) or "none"
        _append(environ["GITHUB_STEP_SUMMARY"], f"cxo tree step for #{result['parent']}: {result['status']}; "
                f"children starting: {started}\n")
    if result["status"] == "blocked":
        (stream or sys.stderr).write(formats.command("error", result.get("reason") or "the tree is blocked",
                                                     title=f"cxo tree #{result['parent']}: blocked"))
