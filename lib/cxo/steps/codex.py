"""cxo-codex: build the prompt, run the agent with an allow-listed environment, read its completion report."""

import json
import re
from pathlib import Path

from .. import agents, budget, envelope, jsonin, usage
from ..agents import environment, repository
from ..agents import sandbox as sandboxes
from ..agents.base import AgentSpec
from ..gitutil import rev_parse
from ..measure import telemetry
from ..policy.seed import is_seed_report, report_from_seed
from ..redact import redact
from ..schemas import errors as schema_errors
from ..untrusted import one_line

STEP = "codex"


MOBILE = re.compile(r"\b(?:android|flutter|ios|iphone|ipad|mobile|emulator|apk|aab|dart)\b", re.I)


def mobile_timeout(codex: dict, issue: dict) -> int | None:
    """codex.mobileTimeoutSeconds for an issue about mobile work (the seed's words, in title, body or labels)."""
    if not codex.get("mobileTimeoutSeconds"):
        return None
    text = "\n".join([issue.get("title") or "", issue.get("body") or "", *map(str, issue.get("labels") or [])])
    return codex["mobileTimeoutSeconds"] if MOBILE.search(text) else None


def _json_object(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_text()), dict)
    except (OSError, ValueError):
        return False


def read_report(path: Path, schema: str = "completion-report") -> tuple[dict | None, str | None]:
    """The agent's report (a completion report, or a plan report), or None and the reason it cannot be used."""
    what = schema.replace("-", " ")
    if not path.is_file():
        return None, f"no {what}: the agent did not write one"
    try:
        data = jsonin.loads(path.read_bytes())
    except (jsonin.BadJson, OSError) as exc:
        return None, f"malformed {what}: not usable JSON ({exc})"
    problems = schema_errors(schema, data)
    if problems and schema == "completion-report" and is_seed_report(data):  # a seed-era agent's report
        data = report_from_seed(data)
        problems = schema_errors(schema, data)
    if problems:  # the field only: jsonschema's message quotes the agent's value
        return None, f"malformed {what} at {problems[0].split(':', 1)[0]}: it does not match " \
                     f"schema/{schema}.schema.json"
    return data, None


def exit_reason(code: int | None) -> str:
    """Why a finished agent's run ends here: a non-zero status, or the signal that killed it."""
    if code is not None and code < 0:
        import signal

        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "an unknown signal"
        return f"agent was killed by signal {-code} ({name})"
    return f"agent exited with status {code}"


def run(env: dict, *, policy, args=None, say=print, tracker=None) -> dict:
    from .. import prompting
    from ..connect import tracker_for

    envelope.require(env, STEP, "claim", "worktree")
    issue, tree = env["claim"]["issue"], env["worktree"]
    tracker = tracker or tracker_for(policy)
    report_path = output_dir(policy, env) / "report.json"
    # A feedback round's prompt carries the reviewers' items (the round's comments live on the PR, not here).
    context = prompting.round_context(env["round"]) if env.get("round") else ""
    from ..github.claims import listing_at_claim

    comments = listing_at_claim(env["run_id"], env["claim"]["comment_id"])
    comments = tracker.list_comments(issue["number"]) if comments is None else comments
    prompt = prompting.build(policy, issue, comments, report_path, tree["branch"],
                             context=context)
    continuing = env["claim"].get("continue_from")
    if continuing:
        prompt += "\n\n" + budget.continue_prompt(continuing)
    env, report = run_agent(env, policy, args, say, prompt, "implement", "completion-report")
    if report is None:
        return env
    if report["status"] != "completed":
        # The agent's question for a human is meant to be read: one clean, bounded line of it.
        why = one_line((report.get("promotion") or {}).get("reason") or report["summary"], 500)
        return envelope.block(env, STEP, f"agent reported {report['status']}: {why}", {"report": report})
    return envelope.mark_done(env, STEP)


def output_dir(policy, env: dict) -> Path:
    """The agent's own output directory, outside the worktree: the agent may write there (the Codex sandbox
    gets it with --add-dir) without reaching the run's saved envelopes and logs."""
    out = envelope.run_dir(policy.state_dir, env) / "agent-output"
    out.mkdir(exist_ok=True)
    return out


def run_agent(env: dict, policy, args, say, prompt: str, role: str, schema: str) -> tuple[dict, dict | None]:
    """Run the policy's agent on `prompt` in the run's worktree, sandboxed, shared git state guarded; read its
    report (checked against `schema`). Returns the envelope (blocked on any failure) and the report or None."""
    issue, tree = env["claim"]["issue"], env["worktree"]
    worktree = Path(tree["path"])
    run_dir = envelope.run_dir(policy.state_dir, env)
    out_dir = output_dir(policy, env)
    report_path = out_dir / "report.json"
    report_path.unlink(missing_ok=True)
    prompt_path = run_dir / "prompt.md"
    prompt_path.write_text(prompt)
    kind = agents.kind_of(policy)
    adapter, codex = agents.adapter(kind), agents.settings(policy, kind)
    timeout = getattr(args, "agent_timeout", None) or mobile_timeout(codex, issue) or codex["timeoutSeconds"]
    idle = getattr(args, "idle_timeout", None) or codex["idleTimeoutSeconds"]
    builtin = kind != "command"
    home = run_dir / "agent-home"
    agent_env = environment.build(home, codex["envPassthrough"], say, model_keys=adapter.KEY_ENV)
    # The isolated HOME has no git identity; local commits (when policy allows them) need one, and it is never
    # the runner's (commits in the runner's name are refused when the runner takes the agent's work).
    for who in ("AUTHOR", "COMMITTER"):
        agent_env[f"GIT_{who}_NAME"] = repository.AGENT_NAME
        agent_env[f"GIT_{who}_EMAIL"] = repository.AGENT_EMAIL
    attempt = env.get("attempt")
    if attempt:  # one of a best-of-N run's attempts (lib/cxo/attempts/): which one, 1..N
        agent_env["CXO_ATTEMPT"] = str(attempt["k"])
    config_home = adapter.prepare_home(home, codex)
    if adapter.HOME_ENV and config_home is not None:
        agent_env[adapter.HOME_ENV] = str(config_home)
    # The budget stops an implementing agent only: its work is kept and continued (lib/cxo/budget.py).
    max_tokens = codex.get("maxTokens") if role == "implement" else None
    meter = adapter.meter(max_tokens, config_home)
    scope = sandboxes.worktree_scope(policy, worktree, run_dir / "agent-scratch", writable=[out_dir, home],
                                     readable=[prompt_path], home=home)
    box = sandboxes.make(policy, scope)
    agent_env["TMPDIR"] = "/tmp" if box.kind != "none" else str(scope.tmp)
    spec = AgentSpec(worktree=worktree, prompt_path=prompt_path, report_path=report_path,
                     issue_number=issue["number"], branch_name=tree["branch"], state_dir=policy.state_dir,
                     run_dir=run_dir, log_path=run_dir / "agent.log",
                     events_path=run_dir / "agent-events.jsonl" if builtin else None,
                     last_message_path=out_dir / "last-message.md" if builtin else None,
                     timeout_s=float(timeout), idle_timeout_s=float(idle), env=agent_env, sandbox=box, role=role,
                     meter=meter)
    shown = {"codex": "codex exec", "claude": "claude -p", "gemini": "gemini"}.get(kind, codex["command"])
    say(f"running the agent ({shown}) in {worktree} "
        f"(isolation: {box.kind})")
    repository.fresh(worktree)  # the agent's own repository, new for every agent run
    try:
        with telemetry.span("cxo.agent", policy, role=role, issue=issue["number"], run_id=env["run_id"],
                            usage=meter.usage):
            result = adapter.run(codex, spec, say)
    except FileNotFoundError as exc:
        where = f"agent.{kind}.command" if kind in ("claude", "gemini") else "codex.command"
        return envelope.block(env, STEP, f"agent command not found: {exc.filename}: install it or set "
                              f"{where} in the policy", {"command": codex["command"]}), None
    finally:
        box.close()
    # The agent's commits, taken like an untrusted remote's: fetched, checked, then the run's branch moves.
    taken = repository.ingest(policy, worktree, box, policy["git"]["commitAuthorName"],
                              policy["git"]["commitAuthorEmail"])
    spent = meter.usage()
    say(f"agent finished with status {result.exit_code} after {result.duration_s:.1f}s; "
        f"tokens: {usage.describe(spent)}")
    section = {
        "agent": kind, "command": [redact(a) for a in result.command],
        "exit_code": result.exit_code, "duration_seconds": round(result.duration_s, 3),
        "timed_out": result.timed_out, "idle_timed_out": result.idle_timed_out,
        "prompt_path": str(prompt_path), "report_path": str(report_path),
        "events_path": str(spec.events_path) if spec.events_path else None, "log_path": str(spec.log_path),
        "last_message_path": str(spec.last_message_path) if spec.last_message_path else None,
        "report": None, "head_sha": rev_parse(worktree, "HEAD"),
        "isolation": box.kind, "codex_sandbox": result.codex_sandbox,
        "usage": spent, "max_tokens": max_tokens, "budget_stopped": result.budget_stopped, "kept_sha": None,
        "sandbox": sandboxes.describe(box), "network": box.network_record(),
        "agent_commits": len(taken.commits), "setid_stripped": taken.setid[:50],
    }
    env["codex"] = section
    # The log stays local: the agent's output is never quoted in what the runner publishes.
    details: dict = {"log_path": str(spec.log_path)}
    pushes = push_attempts(spec.events_path, spec.log_path)
    if pushes:
        section["push_attempts"] = pushes
        details["push_attempts"] = pushes
    if taken.problem:
        return envelope.block(env, STEP, taken.problem, details), None
    if taken.setid:
        details["setid_stripped"] = taken.setid[:50]
        return envelope.block(env, STEP, f"the agent made setuid/setgid files ({', '.join(taken.setid[:5])}): "
                              "the bits were removed and nothing was published", details), None
    if result.budget_stopped:
        return budget_stop(env, policy, say, worktree, spent, int(max_tokens or 0), result.duration_s, details), None
    if result.timed_out or result.idle_timed_out:
        limit = f"{timeout}s total" if result.timed_out else f"{idle}s without output"
        return envelope.block(env, STEP, f"agent timed out ({limit})", details), None
    if result.exit_code != 0:
        return envelope.block(env, STEP, exit_reason(result.exit_code), details), None
    if not report_path.is_file() and spec.last_message_path and _json_object(spec.last_message_path):
        # The seed ran codex with --output-last-message <report>: a seed-era prompt ends with the report.
        report_path.write_text(spec.last_message_path.read_text())
    report, problem = read_report(report_path, schema)
    if problem:
        return envelope.block(env, STEP, problem, details), None
    if schema == "completion-report":
        section["report"] = report
    return env, report


PUSH = re.compile(r"\bgit\b[^\n|;&]*?\bpush\b")


def push_attempts(events_path: Path | None, log_path: Path) -> list[str]:
    """Commands by which the agent tried to push (only the runner pushes): from the Codex CLI's command events,
    or a command agent's own log lines. Cleaned to one short line each, at most five."""
    found: list[str] = []
    sources = [p for p in (events_path, log_path) if p is not None and p.is_file()]
    for path in sources:
        for line in path.read_text(errors="replace").splitlines():
            text = line
            if path == events_path:
                try:
                    item = (json.loads(line).get("item") or {})
                except ValueError:
                    continue
                text = str(item.get("command") or "")
            match = PUSH.search(text)
            if match and len(found) < 5:
                cleaned = one_line(text[match.start():], 120)
                if cleaned not in found:
                    found.append(cleaned)
    return found


def budget_stop(env: dict, policy, say, worktree: Path, spent: dict, max_tokens: int, seconds: float,
                details: dict) -> dict:
    """The agent was stopped at the token budget: keep its work in a local runner commit and block, saying what
    was spent and how to continue."""
    tree, number = env["worktree"], env["claim"]["issue"]["number"]
    kept = budget.keep_work(policy, env, worktree, say)
    env["codex"]["kept_sha"] = kept
    env["codex"]["head_sha"] = rev_parse(worktree, "HEAD")
    stat = budget.diffstat(worktree, tree["base_sha"])
    details.update({"budget_stop": True, "kept_sha": kept, "usage": spent, "max_tokens": max_tokens,
                    "duration_seconds": round(seconds, 3), "diffstat": stat,
                    "continue": f"cxo-run --issue {number} --continue"})
    work = (f"its work is kept in local commit {kept[:12]} on {tree['branch']} ({stat['file_count']} file(s), "
            f"+{stat['insertions']} -{stat['deletions']}; not pushed)" if kept else
            "it left no changes to keep" if not stat["file_count"] else
            f"its work is on {tree['branch']} ({stat['file_count']} file(s); not pushed)")
    then = (f"Continue with `cxo-run --issue {number} --continue`" if not env.get("attempt") else
            "A best-of-N attempt is not continued: its share of the budget is spent")  # lib/cxo/attempts/
    return envelope.block(env, STEP, f"token budget exhausted (codex.maxTokens {max_tokens:,}): the agent was "
                          f"stopped after {usage.describe(spent)} in {seconds:.0f}s; {work}. {then}", details)
