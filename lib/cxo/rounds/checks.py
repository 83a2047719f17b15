"""CI fix rounds: failing checks on a cxo PR's head, from trusted sources only.

Trusted (`feedback.ci`): check runs whose GitHub App's slug is in `trustedApps` (Actions is `github-actions`),
and commit statuses whose context is in `trustedContexts`. Everything else is counted and ignored: anyone
with write access can post a status, and an app nobody listed could say anything.

A round starts when every trusted check on the head has finished and at least one failed (failure, timed out,
startup failure, action required; cancelled, skipped and neutral are not failures), and no earlier CI round
handled that head (`<!-- cxo:ci head=SHA -->` in its round report). Each failing check goes to the agent with
its name, summary and text, and for Actions the end of the failing job's log, all fenced as data.

Requests: two conditional reads per PR head (check runs, combined status), 304 and free while nothing changed;
the log only for a failing Actions job.
"""

from __future__ import annotations

from ..github.feedback import CI

FAILED = ("failure", "timed_out", "startup_failure", "action_required")
TAIL_LINES, TAIL_CHARS = 60, 4000


def ci_marker(head: str) -> str:
    return f"<!-- cxo:ci head={head} -->"


def _tail(text: str | None) -> str:
    lines = (text or "").rstrip().splitlines()[-TAIL_LINES:]
    return "\n".join(lines)[-TAIL_CHARS:]


def failing(policy, tracker, pull: dict, rounds: list[dict]) -> dict | None:
    """{head_sha, failing: [{name, source, conclusion, summary, log_tail, url}], ignored} for a head whose
    trusted checks finished with a failure, else None."""
    trusted = policy["feedback"].get("ci") or {}
    apps = {a.lower() for a in trusted.get("trustedApps") or []}
    contexts = set(trusted.get("trustedContexts") or [])
    head = (pull.get("head") or {}).get("sha")
    if not head or not (apps or contexts):
        return None
    if head in {m.group(1) for c in rounds for m in CI.finditer(c.get("body") or "")}:
        return None
    found, ignored, waiting = [], 0, False
    if apps:
        for run in tracker.list_check_runs(head):
            app = str(((run.get("app") or {}).get("slug")) or "").lower()
            if app not in apps:
                ignored += run.get("conclusion") in FAILED
                continue
            if run.get("status") != "completed":
                waiting = True
            elif run.get("conclusion") in FAILED:
                output = run.get("output") or {}
                summary = "\n\n".join(t for t in (output.get("title"), output.get("summary")) if t)
                found.append({"name": str(run.get("name") or "check"), "source": f"app {app}",
                              "conclusion": str(run["conclusion"]), "summary": summary[:TAIL_CHARS],
                              "log_tail": _tail(_job_log(tracker, run) if app == "github-actions" else None)
                              or _tail(output.get("text")),
                              "url": str(run.get("html_url") or run.get("details_url") or "")})
    if contexts:
        for status in (tracker.combined_status(head) or {}).get("statuses") or []:
            if status.get("context") not in contexts:
                ignored += status.get("state") in ("failure", "error")
                continue
            if status.get("state") == "pending":
                waiting = True
            elif status.get("state") in ("failure", "error"):
                found.append({"name": str(status["context"]), "source": "commit status",
                              "conclusion": str(status["state"]), "summary": str(status.get("description") or ""),
                              "log_tail": "", "url": str(status.get("target_url") or "")})
    if waiting or not found:
        return None
    return {"head_sha": head, "failing": found, "ignored": int(ignored)}


def _job_log(tracker, run: dict) -> str | None:
    """The Actions job's log (an Actions check run's id is its job's id), or None when it cannot be read."""
    try:
        return tracker.job_log(int(run["id"]))
    except Exception:  # noqa: BLE001 - a log is a help, not a condition: the summary still goes to the agent
        return None
