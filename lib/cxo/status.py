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
                     "blocked_reason": (env.get("blocked") or {}).get("reason")})
    worktrees = sorted(str(p) for p in policy.workspace_root.glob("issue-*")) if policy.workspace_root.is_dir() else []
    return {"runs": runs, "worktrees": worktrees}


class Classifier:
    """classify(), plus the rule cxo-run applies to an agent:running issue (claims.running_label_state): a
    stale running label is taken over, so such an issue is eligible. Costs one request per running issue."""

    def __init__(self, policy, tracker, open_numbers: set[int]):
        self.policy, self.tracker, self.open_numbers, self.logins = policy, tracker, open_numbers, None

    def __call__(self, issue: dict):
        from .claims import running_label_state
        from .connect import runner_logins

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
    return {"repository": f"{policy.owner}/{policy.repo}", "eligible": eligible, "skipped": skipped,
            "local": local_state(policy)}


def table(result: dict) -> str:
    lines = [f"{result['repository']}: {len(result['eligible'])} eligible, {len(result['skipped'])} skipped", ""]
    rows = [("#", "mode", "state", "reason", "title")]
    for item in result["eligible"] + result["skipped"]:
        rows.append((str(item["number"]), item["mode"] or "-", "eligible" if item["eligible"] else "skipped",
                     item["reason"], item["title"][:50]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)))
    local = result["local"]
    if local["runs"] or local["worktrees"]:
        lines += ["", "local state:"]
        lines += [f"  run {r['run_id']} issue #{r['issue']}: {r['state']}, last step {r['last_step']}"
                  + (f", blocked: {r['blocked_reason']}" if r["blocked_reason"] else "") for r in local["runs"]]
        lines += [f"  worktree {Path(w).name}: {w}" for w in local["worktrees"]]
    return "\n".join(lines) + "\n"
