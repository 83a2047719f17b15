"""A feedback round's public text: the one round report on the PR, the replies on inline comments, and the notice
that the PR had its rounds. Runner-written facts; the agent's words only cleaned, bounded and quoted."""

from .. import report
from ..feedback import IGNORED_WHY, STOPPED, handled_marker, pushed_marker, round_marker
from ..untrusted import one_line


def round_head(env: dict) -> str:
    """The hidden markers every host reads: round number, handled feedback, cxo's push, the run."""
    info = env["round"]
    pushed = (env.get("publish") or {}).get("pushed_sha") or info.get("head_sha")
    return (round_marker(info["n"]) + handled_marker(i["key"] for i in info["items"])
            + (pushed_marker(pushed) if pushed else "") + f"<!-- run={env['run_id']} -->"
            + report.usage_marker(env))


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
    lines = [round_head(env), f"## cxo feedback round {info['n']} of {info['max_rounds']} for #{number}", ""]
    if env.get("blocked"):
        lines += [f"**Blocked** at `{env['blocked']['step']}`: {report._text(env['blocked']['reason'], 1000)}", "",
                  "Nothing was pushed; the feedback below counts as handled by this round. Fix the cause, then ask "
                  "again (a new review or a comment with the trigger) for another round."]
    elif publish.get("pushed_sha") and publish["pushed_sha"] != info.get("head_sha"):
        lines += [f"Pushed `{publish['pushed_sha'][:12]}` on `{report._text(info['branch'], 200)}` "
                  f"(fast-forward from `{info['head_sha'][:12]}`)."]
    else:
        lines += ["No new commit: the agent concluded that no change was needed."]
    agent_report = (env.get("codex") or {}).get("report")
    if agent_report and not env.get("blocked"):
        lines += ["", "The agent's summary:", ""] + report._quote(agent_report.get("summary"), 2000)
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
