"""A feedback round's public text: the one round report on the PR, the replies on inline comments, and the notice
that the PR had its rounds. Runner-written facts; the agent's words only cleaned, bounded and quoted."""

from .. import report
from ..github.feedback import IGNORED_WHY, STOPPED, handled_marker, pushed_marker, round_marker
from ..untrusted import one_line


def round_head(env: dict) -> str:
    """The hidden markers every host reads: round number, handled feedback, cxo's push, the run."""
    info = env["round"]
    pushed = (env.get("publish") or {}).get("pushed_sha") or info.get("head_sha")
    kind = ""
    if info.get("update"):
        from .update import update_marker

        kind = update_marker(info["update"]["head_sha"], info["update"]["base_sha"])
    elif info.get("checks"):
        from .checks import ci_marker

        kind = ci_marker(info["checks"]["head_sha"])
    return (round_marker(info["n"]) + handled_marker(i["key"] for i in info["items"]) + kind
            + (pushed_marker(pushed) if pushed else "") + f"<!-- run={env['run_id']} -->"
            + report.usage_marker(env))


TITLES = {"feedback": "feedback round", "update": "update round", "ci": "CI fix round"}


def _update_lines(info: dict, blocked: bool) -> list[str]:
    update = info["update"]
    lines = ["", f"### Update from `{report._text(info['base_branch'], 200)}`",
             f"The base moved to `{update['base_sha'][:12]}`; the runner merged it into the PR head "
             f"`{update['head_sha'][:12]}` with a merge commit (no rebase, no force push)."]
    if update["conflicts"]:
        state = "left in conflict" if blocked else "resolved by the agent"
        lines += [f"Files in conflict ({state}):"] + [f"- `{report._text(p, 300)}`" for p in update["conflicts"]]
    else:
        lines += ["git merged it cleanly: no agent was needed."]
    return lines


def _check_lines(info: dict) -> list[str]:
    checks = info["checks"]
    lines = ["", f"### Failing checks on `{checks['head_sha'][:12]}`"]
    for check in checks["failing"]:
        lines.append(f"- `{report._text(check['name'], 200)}` ({report._text(check['source'], 100)}): "
                     f"{report._text(check['conclusion'], 40)}")
    if checks.get("ignored"):
        lines.append(f"Ignored: {checks['ignored']} failing check(s) from sources the policy does not trust "
                     "(feedback.ci).")
    return lines


def spent(env: dict) -> str:
    agent = env.get("codex") or {}
    if not agent:
        return ""
    usage = agent.get("usage") or {}
    tokens = f", {usage['total_tokens']:,} tokens" if usage.get("total_tokens") is not None else ""
    return f"agent time {agent.get('duration_seconds', 0):.1f}s{tokens}"


def _items(info: dict, addressed: dict) -> list[str]:
    lines = []
    for item in info["items"]:
        what = {"review": "review", "review-comment": "inline comment", "comment": "comment"}[item["kind"]]
        where = f" on `{report._text(item.get('path'), 200)}`" if item.get("path") else ""
        state = addressed.get(item["id"])
        mark = "✅ addressed" if state is True else ("➖ not addressed" if state is False else "·")
        lines.append(f"- {mark}: {what} {item['id']} by @{one_line(item['author'], 60)}{where}")
    return lines or ["- (none)"]


def round_report(env: dict, addressed: dict) -> str:
    info, number = env["round"], env["issue"]["number"]
    publish = env.get("publish") or {}
    kind = info.get("kind", "feedback")
    lines = [round_head(env), f"## cxo {TITLES[kind]} {info['n']} of {info['max_rounds']} for #{number}", ""]
    if env.get("blocked"):
        lines += [f"**Blocked** at `{env['blocked']['step']}`: {report._text(env['blocked']['reason'], 1000)}", "",
                  "Nothing was pushed; " + {
                      "feedback": "the feedback below counts as handled by this round. Fix the cause, then ask "
                                  "again (a new review or a comment with the trigger) for another round.",
                      "update": "cxo will not try this merge again until the PR or its base moves.",
                      "ci": "cxo will not try to fix these checks on this head again."}[kind]]
    elif publish.get("pushed_sha") and publish["pushed_sha"] != info.get("head_sha"):
        lines += [f"Pushed `{publish['pushed_sha'][:12]}` on `{report._text(info['branch'], 200)}` "
                  f"(fast-forward from `{info['head_sha'][:12]}`)."]
    else:
        lines += ["No new commit: the agent concluded that no change was needed."]
    if info.get("update"):
        lines += _update_lines(info, bool(env.get("blocked")))
    if info.get("checks"):
        lines += _check_lines(info)
    agent_report = (env.get("codex") or {}).get("report")
    if agent_report and not env.get("blocked"):
        lines += ["", "The agent's summary:", ""] + report._quote(agent_report.get("summary"), 2000)
    if kind == "feedback":
        lines += ["", "### Feedback handled"] + _items(info, addressed)
    left = {k: v for k, v in (info.get("ignored") or {}).items() if v}
    if left:
        lines += ["", "Ignored: " + ", ".join(f"{v} {IGNORED_WHY[k]}" for k, v in left.items()) + "."]
    gate = env.get("gate") or {}
    if gate.get("verdicts"):
        lines += ["", "### Gates (the whole pull request against its base)"] + report._gates(gate["verdicts"])
    lines += report.attention_lines(gate) + report.isolation_line(env)
    figures = spent(env)
    lines += ["", "---", f"Run `{env['run_id']}` by `{env['claim']['runner']['name']}`"
              + (f"; {figures}" if figures else "") + "."]
    return report._finish(lines)


def reply(env: dict, item: dict, note: str) -> str:
    info = env["round"]
    sha = (env.get("publish") or {}).get("pushed_sha") or ""
    text = f"Addressed in `{sha[:12]}` (cxo feedback round {info['n']})."
    if note.strip():
        text += "\n\n" + "\n".join(report._quote(note, 1000))
    return f"<!-- cxo:reply id={item['id']} run={env['run_id']} -->" + text


def stopped_notice(max_rounds: int) -> str:
    return (STOPPED + f"cxo had the {max_rounds} feedback round(s) `feedback.maxRounds` allows on this pull "
            "request and will not run more. Continue by hand, or raise `feedback.maxRounds` in the policy.")
