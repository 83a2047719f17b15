"""The review report (PR body and issue comment) and the blocked report, as markdown."""

import re

from .redact import redact
from .untrusted import clean, one_line

LIMIT = 60000  # GitHub rejects bodies over 65,536 characters
ICONS = {"pass": "✅", "fail": "❌", "skip": "⏭️"}
MAX_ITEMS = 30  # per agent-written list (validation, risks, …)


def _text(value, limit: int = 300) -> str:
    """Agent-written text for a list item or table cell: one clean line (no hidden text, no fake markers)."""
    return one_line(str(value or ""), limit).replace("|", "/")


def _code(path) -> str:
    """A path the agent chose, as inline code."""
    return "`" + _text(path, 200).replace("`", "'") + "`"


def _quote(value, limit: int = 4000) -> list[str]:
    """Agent-written prose as a block quote: it cannot pose as the runner's own headings or tables."""
    text = clean(str(value or "")).strip()
    text = text if len(text) <= limit else text[:limit] + " …"
    return ["> " + line.rstrip() for line in (text or "(no summary)").splitlines()]


def _items(values) -> list:
    values = list(values or [])
    return values[:MAX_ITEMS]


def pr_marker(number: int) -> str:
    return f"<!-- cxo:report issue={number} -->"


def comment_marker(number: int) -> str:
    return f"<!-- cxo:report-comment issue={number} -->"


def blocked_marker(number: int) -> str:
    return f"<!-- cxo:blocked issue={number} -->"


def _files(changes: dict) -> list[str]:
    lines = []
    for kind in ("committed", "staged", "unstaged", "untracked", "deleted"):
        paths = changes.get(kind) or []
        if paths:
            shown = ", ".join(_code(p) for p in paths[:40]) + (f" … and {len(paths) - 40} more" if len(paths) > 40
                                                              else "")
            lines.append(f"- {kind} ({len(paths)}): {shown}")
    return lines or ["- (none)"]


def _commits(commits: list[dict]) -> list[str]:
    """The agent's own local commits (git log order, newest first): short sha and subject, cleaned."""
    if not commits:
        return []
    lines = ["", f"### Local commits by the agent ({len(commits)})"]
    lines += [f"- `{c['sha'][:10]}` {_text(c.get('subject'), 120) or '(no subject)'}" for c in commits[:MAX_ITEMS]]
    if len(commits) > MAX_ITEMS:
        lines.append(f"- … and {len(commits) - MAX_ITEMS} more")
    return lines


def _gates(verdicts: list[dict]) -> list[str]:
    lines = ["| gate | verdict | summary |", "| --- | --- | --- |"]
    for v in verdicts:
        # Summaries and findings may carry reviewer-agent text and file names the agent chose.
        lines.append(f"| {v['gate']} | {ICONS.get(v['verdict'], '')} {v['verdict']} | {_text(v['summary'])} |")
    details = []
    for v in verdicts:
        for f in _items(v.get("findings")):
            where = _code(f["file"]) + (f":{f['line']}" if f.get("line") else "") if f.get("file") else "-"
            details.append(f"- **{v['gate']}** {f.get('severity', '')} {where}: {_text(f['message'], 500)}")
        for e in v.get("evidence") or []:
            if e.get("screenshot"):
                details.append(f"- **{v['gate']}** screenshot: `{e['screenshot']}`")
            if e.get("log_path") and e.get("passed") is False:
                # Runner-written facts: the counts come from the test runner's summary line, the log stays local.
                from .gates.checks import describe

                counts = describe({"count": e.get("failing_count") or 0, "failed": e.get("tests_failed"),
                                   "passed": e.get("tests_passed"), "errors": e.get("tests_errors")})
                details.append(f"- **{v['gate']}** {_code(e.get('name'))}: {counts or 'failed'}; its log is not "
                               f"posted, it stays on the runner's machine at {_code(e['log_path'])}")
    return lines + (["", "Findings and evidence:"] + details if details else [])


def _report_sections(report: dict | None) -> list[str]:
    """The agent's own claims, cleaned and bounded: every string here was written by the agent."""
    if not report:
        return []
    out = ["", "### Validation (as reported by the agent)"]
    out += [f"- {_text(v['status'], 20)}: {_text(v['name'], 120)}"
            + (f" ({_code(v['command'])})" if v.get("command") else "")
            for v in _items(report.get("validation"))] or ["- (none reported)"]
    if report.get("skippedChecks"):
        out += ["", "### Skipped checks (as reported by the agent)"] + [
            f"- {_text(s['name'], 120)}: {_text(s['reason'])}" for s in _items(report["skippedChecks"])]
    out += ["", "### Residual risks (as reported by the agent)"] + (
        [f"- {_text(r, 500)}" for r in _items(report.get("residualRisks"))] or ["- (none reported)"])
    if report.get("artifacts"):
        out += ["", "### Artifacts"] + [f"- {_code(a['path'])}" + (
            f": {_text(a['description'])}" if a.get("description") else "") for a in _items(report["artifacts"])]
    return out


def _finish(lines: list[str]) -> str:
    text = redact("\n".join(lines))
    if len(text) > LIMIT:
        text = text[:LIMIT] + "\n\n… (report truncated; the full report is in the run's state directory)"
    return text


def usage_marker(env: dict) -> str:
    """This run's spend as a hidden marker every host reads (cxo-metrics, runner.budget): runner-written numbers
    only, one per run (a run's earlier runs carry their own)."""
    import json
    from datetime import UTC, datetime

    agent = env.get("codex") or {}
    figures = agent.get("usage") or {}
    items = (env.get("attempts") or {}).get("items") or []
    if items:  # a best-of-N run spent what all its attempts spent
        from .usage import add, zero

        figures = zero()
        for item in items:
            figures = add(figures, item.get("usage") or {})
    issue = (env.get("issue") or {}).get("number")
    data = {"run": env["run_id"], "issue": issue, "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **{key: int(figures.get(key) or 0) for key in ("input_tokens", "cached_input_tokens", "output_tokens",
                                                            "total_tokens")}}
    return "<!-- cxo:usage " + json.dumps(data, sort_keys=True, separators=(",", ":")) + " -->"


def _done(env: dict) -> str:
    from .github.claims import done_marker

    return done_marker(env["run_id"]) + usage_marker(env)


def isolation_line(env: dict) -> list[str]:
    """What confined the agent: every report says so, and says it loudly when nothing did."""
    agent = env.get("codex") or {}
    kind = agent.get("isolation")
    if not kind:
        return []
    if kind == "none":
        return ["", "> [!WARNING]", "> **Isolation: none.** The agent ran without a sandbox (`agent.isolation: "
                "none`): it could read the runner's files. Review this change with that in mind."]
    nested = agent.get("codex_sandbox")
    extra = f"; the Codex CLI's own sandbox: `{nested}`" if nested else ""
    which = agent.get("sandbox")
    lines = ["", f"**Isolation:** `{kind}`{f' ({_text(which, 120)})' if which else ''}: default-deny (its own "
                 f"work tree and git repository, a file view it is given, a non-root uid{extra})."]
    return lines + network_lines(agent)


_HOST = re.compile(r"[^A-Za-z0-9.:\[\]_-]")


def network_lines(agent: dict) -> list[str]:
    """The agent's network: refused hosts listed (as GitHub's coding agent does for its firewall), an open
    network warned about, push attempts and stripped setuid bits named. Host names are the agent's words:
    reduced to the characters a host has, in code spans."""
    lines = []
    sandbox = agent.get("sandbox") or ""
    record = agent.get("network")
    if sandbox.endswith("network open"):
        lines += ["", "> [!WARNING]", "> **Network: open.** `agent.network: open` gave the agent the runner's whole "
                  "network, its loopback services included."]
    elif record is not None:
        refused = record.get("refused") or []
        if refused:
            hosts = sorted({_HOST.sub("", f"{r.get('host')}:{r.get('port')}")[:100] for r in refused})
            lines += ["", f"**Network (allowlist):** {len(hosts)} host(s) refused: "
                      + ", ".join(f"`{h}`" for h in hosts[:20]) + (" …" if len(hosts) > 20 else "")
                      + ". Add a host the work needs to `agent.allowHosts`."]
        else:
            lines += ["", f"**Network (allowlist):** no host refused ({len(record.get('allowed') or [])} allowed)."]
    if agent.get("push_attempts"):
        lines += ["", f"**The agent tried to push** ({len(agent['push_attempts'])} command(s)); only the runner "
                  "pushes, and it pushed only what the gates checked."]
    if agent.get("setid_stripped"):
        lines += ["", f"**Setuid/setgid bits removed** from {len(agent['setid_stripped'])} file(s) the agent made."]
    return lines


def attention_lines(gate: dict) -> list[str]:
    """Changes to the runner's policy or to CI workflows: never merged on the gates' word alone."""
    paths = gate.get("attention") or []
    if not paths:
        return []
    shown = ", ".join(f"`{_text(p, 200)}`" for p in paths[:20]) + (" …" if len(paths) > 20 else "")
    return ["", "> [!CAUTION]", f"> **Needs explicit human review:** this change touches the runner's policy or "
            f"the repository's workflows ({shown}). They steer what runs and what is checked."]


def _seconds(value) -> str:
    if value is None:
        return "-"
    value = float(value)
    return f"{value:.0f}s" if value < 120 else f"{value // 60:.0f}m {value % 60:02.0f}s"


def _tokens(figures) -> str:
    if not figures or not figures.get("total_tokens"):
        return "not reported | - | - | -"
    return (f"{figures['total_tokens']:,} | {figures.get('input_tokens', 0):,} | "
            f"{figures.get('cached_input_tokens', 0):,} | {figures.get('output_tokens', 0):,}")


def setup_lines(env: dict) -> list[str]:
    """The policy's setup in the worktree: each step's time and outcome (logs stay local, named by path)."""
    section = (env.get("worktree") or {}).get("setup") or {}
    steps = section.get("steps") or []
    if not steps:
        return []
    cells = []
    for step in steps:
        how = "timed out" if step.get("timed_out") else f"exit {step.get('exit_code')}"
        cells.append(f"`{_text(step['name'], 60)}` {how} in {step.get('seconds', 0):.1f}s")
    return ["", f"**Setup** ({len(steps)} step(s), inside the sandbox): " + "; ".join(cells) + "."]


def spend_lines(env: dict) -> list[str]:
    """Tokens and wall time per agent run (the runs a continued run carries on from, then this one)."""
    from .budget import runs_spent

    runs = runs_spent(env)
    if not runs:
        return []
    lines = ["", "### Agent runs: tokens and wall time", "",
             "| run | outcome | total tokens | input | cached input | output | wall time |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| `{_text(r.get('run_id'), 40)}` | {_text(r.get('outcome'), 30)} | {_tokens(r.get('usage'))} | "
              f"{_seconds(r.get('duration_seconds'))} |" for r in runs[-MAX_ITEMS:]]
    if len(runs) > 1:
        from .usage import add, zero

        total = zero()
        for r in runs:
            total = add(total, r.get("usage") or {})
        wall = sum(float(r.get("duration_seconds") or 0) for r in runs)
        lines.append(f"| all {len(runs)} runs | | {_tokens(total)} | {_seconds(wall)} |")
    return lines


def attempts_lines(env: dict) -> list[str]:
    """A best-of-N run (lib/cxo/attempts/): every attempt's agent, gate verdicts, findings, diff, tokens and time,
    and why the published one won (or that none passed). Runner-written facts; reasons are cleaned one-liners."""
    section = env.get("attempts") or {}
    items = section.get("items") or []
    if not items:
        return []
    lines = ["", f"### Attempts (best of {section['n']})", "",
             "| attempt | agent | outcome | gates | findings | diff | tokens | agent time |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for item in items[:MAX_ITEMS]:
        agent = item.get("agent") or {}
        who = f"`{_text(agent.get('kind'), 20)}`" + (f" {_text(agent.get('model'), 60)}" if agent.get("model") else "")
        if agent.get("kind") == "command" and agent.get("command"):
            who += f" {_code(str(agent['command']).rsplit('/', 1)[-1])}"
        won = item["k"] == section.get("winner")
        outcome = ("🏆 published" if won else "✅ passed") if item.get("passed") else \
            f"❌ {_text(item.get('step'), 20)}: {_text(item.get('reason'), 200)}"
        gates = " ".join(f"{_text(v['gate'], 20)} {ICONS.get(v['verdict'], v['verdict'])}"
                         for v in item.get("verdicts") or []) or "-"
        diff = f"{item['diff_lines']} lines, {item.get('files', 0)} file(s)" if item.get("diff_lines") is not None \
            else "-"
        tokens = f"{item['usage']['total_tokens']:,}" if (item.get("usage") or {}).get("total_tokens") else "-"
        lines.append(f"| {item['k']} | {who} | {outcome} | {gates} | {item.get('findings', 0)} | {diff} | {tokens} | "
                     f"{_seconds(item.get('agent_seconds'))} |")
    if section.get("winner"):
        lines += ["", f"**Published:** {_text(section.get('why'), 300)}."]
    else:
        lines += ["", "**No attempt passed every gate:** nothing was published."]
    kept = [i["branch"] for i in items if i.get("branch") and i["k"] != section.get("winner")]
    if kept:
        lines.append("The other attempts' work stays on the runner's machine, never pushed: local branches "
                     + ", ".join(f"`{_text(b, 120)}`" for b in kept[:MAX_ITEMS]) + " (`cxo-worktrees list`).")
    return lines


def _kept_commits(gate: dict) -> list[str]:
    kept = gate.get("kept_commits") or []
    if not kept:
        return []
    return ["", "### Work kept at the token budget (runner commits, part of this change)"] + [
        f"- `{c['sha'][:10]}` {_text(c.get('subject'), 120)}" for c in kept[:MAX_ITEMS]]


def _budget_block(details: dict, number: int) -> list[str]:
    """A token-budget stop: what was spent, the diffstat of the kept work, how to continue (runner facts)."""
    stat = details.get("diffstat") or {}
    spent = details.get("usage") or {}
    lines = ["", "### Token budget reached",
             f"- **Spent:** {spent.get('total_tokens', 0):,} tokens of the `codex.maxTokens` budget "
             f"{details.get('max_tokens') or 0:,} (input {spent.get('input_tokens', 0):,}, cached input "
             f"{spent.get('cached_input_tokens', 0):,}, output {spent.get('output_tokens', 0):,}) in "
             f"{_seconds(details.get('duration_seconds'))} of wall time.",
             "- **Work kept:** " + (f"local commit `{details['kept_sha'][:12]}` on the issue branch, never pushed."
                                    if details.get("kept_sha") else "the agent left no changes to keep.")]
    files = stat.get("files") or []
    if files:
        lines += ["", f"Diffstat against the base: {stat.get('file_count', len(files))} file(s), "
                  f"+{stat.get('insertions', 0)} -{stat.get('deletions', 0)}", ""]
        for f in files[:40]:
            counts = "binary" if f.get("added") is None else f"+{f['added']} -{f['deleted']}"
            lines.append(f"- {_code(f['path'])} {counts}")
        if len(files) > 40 or stat.get("file_count", 0) > len(files[:40]):
            lines.append(f"- … and {stat.get('file_count', len(files)) - 40} more")
    lines += ["", f"**To continue:** `cxo-run --issue {number} --continue` resumes in the same worktree, from the "
              "kept work (the issue may stay `agent:blocked` for it; cxo removes the label when it claims the run)."]
    return lines


def review_report(env: dict, marker: str) -> str:
    issue = env["claim"]["issue"]
    report = (env.get("codex") or {}).get("report")
    gate = env.get("gate") or {}
    tree = env["worktree"]
    lines = [marker + _done(env), f"## cxo review report for #{issue['number']}", "",
             "The agent's summary:", ""] + _quote((report or {}).get("summary")) + [
             "", "### Changed files"] + _files(gate.get("changes") or {})
    lines += _commits((gate.get("changes") or {}).get("commits") or [])
    lines += _kept_commits(gate)
    lines += attention_lines(gate) + isolation_line(env)
    lines += ["", "### Gates"] + _gates(gate.get("verdicts") or [])
    shots = [e["screenshot"] for v in gate.get("verdicts") or [] for e in v.get("evidence") or []
             if e.get("screenshot")]
    if shots:
        # Relative to the PR page (/owner/repo/pull/N): the files are committed on the issue branch.
        lines += ["", "### Screenshots (made by the runner)"] + [
            f"- [{path}](../blob/{tree['branch']}/{path})" for path in shots]
    lines += _report_sections(report)
    lines += setup_lines(env) + spend_lines(env) + attempts_lines(env)
    lines += ["", "---", f"Run `{env['run_id']}` by `{env['claim']['runner']['name']}` on branch "
              f"`{tree['branch']}` from `{tree['base_sha'][:12]}`. This is a draft: review before merging.", "",
              f"Closes #{issue['number']}"]
    return _finish(lines)


def blocked_report(env: dict, marker: str, state_dir: str) -> str:
    blocked = env["blocked"]
    number = env["issue"]["number"]
    tree = env.get("worktree") or {}
    lines = [marker + _done(env), f"## cxo blocked run `{env['run_id']}` for #{number}", "",
             f"**Step:** `{blocked['step']}`", f"**Reason:** {_text(blocked['reason'], 1000)}"]
    lines += isolation_line(env)
    agent = env.get("codex") or {}
    if blocked["step"] == "codex" and agent.get("log_path"):
        # Runner-written facts only: the agent's output may hold secrets or text aimed at readers.
        how = "stopped at the token budget" if agent.get("budget_stopped") else \
            "timed out" if agent.get("timed_out") or agent.get("idle_timed_out") else \
            f"exit status {agent.get('exit_code')}"
        lines += ["", f"**Agent:** {how} after {agent.get('duration_seconds', 0):.1f}s. Its log is not posted; "
                  f"it stays on the runner's machine at `{agent['log_path']}`."]
    details = blocked.get("details") or {}
    if details.get("budget_stop"):
        lines += _budget_block(details, number)
    lines += setup_lines(env) + spend_lines(env) + attempts_lines(env)
    verdicts = (env.get("gate") or {}).get("verdicts") or []
    if verdicts:
        lines += ["", "### Gates"] + _gates(verdicts)
    if tree:
        lines += ["", f"The worktree is preserved at `{tree['path']}` (branch `{tree['branch']}`); "
                  "nothing was pushed."]
    lines += ["", "### What to do next"]
    if details.get("budget_stop"):
        lines.append(f"- Continue from the kept work: `cxo-run --issue {number} --continue` (same worktree and "
                     "branch; raise `codex.maxTokens` first if the budget was too small).")
    kept = f" (this attempt's work is then kept on the local branch `{tree['branch']}-attempt-K`, never pushed)" \
        if tree.get("branch") else ""
    lines += ["- Fix the cause (clarify the issue, adjust the policy, or fix the worktree by hand).",
              "- Remove the `agent:blocked` label to make the issue eligible again, then rerun "
              f"`cxo-run --issue {number}` (or let the daemon pick it up): a fresh attempt from the current base"
              f"{kept}.",
              f"- Replay one step from its saved envelope, e.g. `cxo-gate < {state_dir}/runs/{number}/"
              f"{env['run_id']}/{'attempt-1/' if env.get('attempts') else ''}03-codex.json`"
              + (" (each attempt's steps are under `attempt-<k>/`)." if env.get("attempts") else ".")]
    return _finish(lines)


def no_change_report(env: dict, marker: str) -> str:
    report = env["codex"]["report"]
    return _finish([marker + _done(env), f"## cxo run `{env['run_id']}`: no changes needed", "",
                    "The agent's summary:", ""] + _quote(report["summary"]) + _report_sections(report))
