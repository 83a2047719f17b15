"""cxo-status: which open issues are eligible, which are skipped and why, and the local run state. Read-only."""

import json
from pathlib import Path

from .labels import classify, label_names, runner_labels


def local_state(policy) -> dict:
    """Runs under the state dir (their last saved step and outcome) and worktrees under the workspace root."""
    runs = []
    root = policy.state_dir / "runs"
    for run_dir in sorted(root.glob("*/*")) if root.is_dir() else []:
        saved = sorted(run_dir.glob("[0-9][0-9]-*.json"))
        if not saved:
            continue
        try:
            env = json.loads(saved[-1].read_text())
        except (OSError, ValueError):
            continue
        finished = "publish" in env.get("steps_done", []) or (env.get("publish") is not None)
        runs.append({"issue": env.get("issue", {}).get("number"), "run_id": env.get("run_id"),
                     "last_step": saved[-1].stem[3:], "status": env.get("status"),
                     "state": "finished" if finished else "in progress or interrupted",
                     "blocked_reason": (env.get("blocked") or {}).get("reason"),
                     # What the agent spent (docs: codex.maxTokens): tokens and wall time of this run.
                     "usage": (env.get("codex") or {}).get("usage"),
                     "duration_seconds": (env.get("codex") or {}).get("duration_seconds"),
                     "budget_stopped": bool((env.get("codex") or {}).get("budget_stopped")),
                     # A feedback round on the issue's draft PR (lib/cxo/rounds/): which PR, which round.
                     "round": {k: env["round"][k] for k in ("pull", "n")} if env.get("round") else None})
    worktrees = sorted(str(p) for p in policy.workspace_root.glob("issue-*")) if policy.workspace_root.is_dir() else []
    return {"runs": runs, "worktrees": worktrees}


class Classifier:
    """classify(), plus the rule cxo-run applies to an agent:running issue (claims.running_label_state): a
    stale running label is taken over, so such an issue is eligible. Costs one request per running issue."""

    def __init__(self, policy, tracker, open_numbers: set[int]):
        self.policy, self.tracker, self.open_numbers, self.logins = policy, tracker, open_numbers, None

    def __call__(self, issue: dict):
        from .connect import runner_logins
        from .github.claims import running_label_state

        verdict = classify(issue, self.policy.labels, self.open_numbers)
        if not verdict.reason.startswith("running"):
            return verdict
        if self.logins is None:
            self.logins = runner_logins(self.policy, self.tracker)
        comments = self.tracker.list_comments(issue["number"])
        takeover, why = running_label_state(self.policy, issue, comments, self.logins)
        if not takeover:
            verdict.reason = why
            return verdict
        running = self.policy.label("running").lower()
        without = dict(issue, labels=[lab for lab in issue["labels"]
                                      if (lab["name"] if isinstance(lab, dict) else lab).lower() != running])
        verdict = classify(without, self.policy.labels, self.open_numbers)
        if verdict.eligible:
            verdict.reason = f"eligible: its stale {self.policy.label('running')} label is taken over ({why})"
        return verdict


def collect(policy, tracker=None) -> dict:
    from .connect import tracker_for

    tracker = tracker or tracker_for(policy)
    issues = tracker.list_issues(state="open")
    open_numbers = {i["number"] for i in issues if i.get("pull_request") is None}
    ours = runner_labels(policy.labels)
    eligible, skipped = [], []
    classify_open = Classifier(policy, tracker, open_numbers)
    for issue in sorted(issues, key=lambda i: i["number"]):
        if issue.get("pull_request") is not None or not ({n.lower() for n in label_names(issue)} & ours):
            continue
        verdict = classify_open(issue)
        (eligible if verdict.eligible else skipped).append(verdict.to_json())
    # Pacing to the reviewers (lib/cxo/pace.py): new issues past concurrency.maxOpenPullRequests(PerOwner) wait.
    from .pace import hold
    from .pace import state as pace_state

    pace = pace_state(policy, tracker, issues)
    started, held = hold(pace, [item["number"] for item in eligible])
    # Spend caps (lib/cxo/measure/caps.py): past runner.budget, new issues wait for the reset.
    from .measure import caps as spend_caps

    budget = spend_caps.state(policy, tracker)
    held.update(spend_caps.hold(budget, started)[1])
    for item in eligible:
        if item["number"] in held:
            item["eligible"], item["reason"] = False, held[item["number"]]
    skipped = sorted(skipped + [item for item in eligible if not item["eligible"]], key=lambda item: item["number"])
    eligible = [item for item in eligible if item["eligible"]]
    from .github.commands import apply_issue_commands

    # Read-only: the `@cxo` commands the daemon would act on, and those it would ignore.
    from .github.feedback import feedback_state

    commands = apply_issue_commands(policy, tracker, issues, apply=False)
    from .rounds.upkeep import annotate

    # Base moves and failing checks on cxo's PRs make rounds too (rounds/upkeep.py: free while nothing moved).
    feedback = annotate(policy, tracker, feedback_state(policy, tracker, issues))
    return {"repository": f"{policy.owner}/{policy.repo}", "eligible": eligible, "skipped": skipped,
            "commands": commands, "feedback": feedback, "work": work(eligible, feedback, commands),
            "trees": trees(policy, tracker, issues), "pace": pace.to_json() if pace else None,
            "budget": budget.to_json() if budget else None,
            "local": local_state(policy)}


def work(eligible: list[dict], feedback: list[dict], commands: list[dict] | None = None) -> list[dict]:
    """Every kind of work a runner would start now, one list (what GitHub Actions' matrix reads): issues
    (`cxo-run --issue N`), issue trees (`mode: plan-auto`; also a parent whose waiting plan a maintainer
    approved or asked to re-plan: its tree step applies that first), rounds on cxo's PRs (`cxo-run --issue N`
    of the issue in review runs its PR's round)."""
    from .github.feedback import wants_round

    found = [{"kind": "tree" if item.get("mode") == "plan-auto" else "issue", "number": item["number"]}
             for item in eligible]
    seen = {item["number"] for item in found}
    for item in commands or []:
        if item.get("action") == "unblock" and item.get("label") and item["issue"] not in seen \
                and item.get("command") in ("approve", "replan"):
            found.append({"kind": "tree", "number": item["issue"]})
            seen.add(item["issue"])
    for item in feedback:
        if wants_round(item) and item["issue"] not in seen:
            found.append({"kind": "round", "number": item["issue"], "pull": item["pull"]})
            seen.add(item["issue"])
    return found


def _child_state(names: set[str], labels: dict) -> str:
    for key, state in (("review", "merged"), ("blocked", "blocked"), ("running", "running"), ("manual", "waiting")):
        if labels[key].lower() in names:
            return state
    return "pending"


def trees(policy, tracker, issues: list[dict]) -> list[dict]:
    """Each open agent:plan-auto parent with its open children (closed ones count as done), their state and
    what each waits on. No request beyond the issue list, but the runner's login (asked once, then kept)."""
    from .connect import runner_logins
    from .tree import children

    labels = policy.labels
    parents = [i for i in issues if labels["planAuto"].lower() in {n.lower() for n in label_names(i)}
               and i.get("pull_request") is None]
    if not parents:
        return []
    logins = runner_logins(policy, tracker)
    out = []
    for parent in sorted(parents, key=lambda i: i["number"]):
        kids = []
        for issue in issues:
            if not children.is_child(issue, parent["number"], labels["child"], logins):
                continue
            node = children.parse(issue)
            names = {n.lower() for n in label_names(issue)}
            kids.append({"number": issue["number"], "stable_id": node.stable_id if node else None,
                         "title": issue.get("title") or "", "state": _child_state(names, labels),
                         "depends_on": node.depends_on if node else []})
        open_ids = {k["stable_id"]: k for k in kids}
        for kid in kids:
            kid["waits_on"] = [d for d in kid["depends_on"] if d in open_ids and open_ids[d]["state"] != "merged"]
        out.append({"parent": parent["number"], "title": parent.get("title") or "", "children": kids})
    return out


def _spent(run: dict) -> str:
    """`, agent: 12,345 tokens, 42s` for a run whose agent ran."""
    if run.get("duration_seconds") is None:
        return ""
    total = (run.get("usage") or {}).get("total_tokens")
    tokens = f"{total:,} tokens" if total else "tokens not reported"
    return f", agent: {tokens}, {run['duration_seconds']:.0f}s" + (" (token budget)" if run.get("budget_stopped")
                                                                     else "")


def table(result: dict) -> str:
    lines = [f"{result['repository']}: {len(result['eligible'])} eligible, {len(result['skipped'])} skipped", ""]
    rows = [("#", "mode", "state", "reason", "title")]
    for item in result["eligible"] + result["skipped"]:
        rows.append((str(item["number"]), item["mode"] or "-", "eligible" if item["eligible"] else "skipped",
                     item["reason"], item["title"][:50]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)))
    pace = result.get("pace")
    if pace:
        limits = [f"{pace['maxOpenPullRequests']} per repository"] if pace["maxOpenPullRequests"] else []
        limits += [f"{pace['maxOpenPullRequestsPerOwner']} per code owner"] if pace["maxOpenPullRequestsPerOwner"] \
            else []
        waiting = ", ".join(f"#{n}" for n in pace["open"]) or "none"
        lines += ["", f"pacing to reviewers ({', '.join(limits)}): open cxo PRs {waiting}"
                  + (f"; full: {', '.join(pace['fullOwners'])}" if pace["fullOwners"] else "")]
    budget = result.get("budget")
    if budget:  # runner.budget (lib/cxo/measure/caps.py)
        spent = budget["spent"]
        lines += ["", f"spend: {spent['day']['tokens']:,} tokens today, {spent['week']['tokens']:,} this week"
                  + (f"; cost {spent['day']['cost']:.2f} today, {spent['week']['cost']:.2f} this week"
                     if spent["day"]["cost"] is not None else "")
                  + (f"; cap reached, new issues wait until {budget['resets_at']}" if budget["reached"] else "")]
    verbs = {"add-label": "would add {label}", "superseded": "superseded by a newer command",
             "stale": "older than the last removal of a trigger label", "ignore-untrusted": "ignored: not trusted",
             "ignore-bot": "ignored: a bot", "ignore-runner": "ignored: the runner's own comment"}
    if result.get("commands"):
        lines += ["", "commands in comments:"]
        lines += [f"  #{c['issue']} comment {c['comment_id']} by @{c['author']}: {c['command']}: "
                  + verbs.get(c["action"], c["action"]).format(label=c["label"]) for c in result["commands"]]
    if result.get("feedback"):
        lines += ["", "cxo pull requests (review feedback):"]
        for item in result["feedback"]:
            state = "eligible" if item["eligible"] else "waiting"
            lines.append(f"  PR #{item['pull']} (issue #{item['issue']}): {state}, {item['reason']}")
            lines += [f"    {t['kind']} by @{t['author']} at {t['at']}" for t in item["triggers"]]
    for tree in result.get("trees") or []:
        lines += ["", f"tree #{tree['parent']} {tree['title'][:60]}: {len(tree['children'])} open child(ren)"]
        for kid in tree["children"]:
            waits = f", waits on {', '.join(kid['waits_on'])}" if kid["waits_on"] else ""
            lines.append(f"  #{kid['number']} {kid['stable_id'] or '?'}: {kid['state']}{waits}")
    local = result["local"]
    if local["runs"] or local["worktrees"]:
        lines += ["", "local state:"]
        lines += [f"  run {r['run_id']} issue #{r['issue']}"
                  + (f" (feedback round {r['round']['n']} on PR #{r['round']['pull']})" if r.get("round") else "")
                  + f": {r['state']}, last step {r['last_step']}"
                  + _spent(r) + (f", blocked: {r['blocked_reason']}" if r["blocked_reason"] else "")
                  for r in local["runs"]]
        lines += [f"  worktree {Path(w).name}: {w}" for w in local["worktrees"]]
    return "\n".join(lines) + "\n"
