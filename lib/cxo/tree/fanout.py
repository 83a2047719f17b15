"""An issue tree one step per process, every step's state on GitHub: the fan-out GitHub Actions runs, where each
job is a fresh clone on whichever runner is free and no job sees another's disk.

- `tree_step` (`cxo-tree --parent N --step`) on a claimed parent: plans it when GitHub has no plan yet (children
  with the parent marker and the PRD comment), pushes the integration branch, merges every finished child's
  pushed branch into it (from the remote), pushes it again, and then either opens the one integration draft PR
  (every child merged), blocks the parent (nothing can start and nothing runs), or names the children that may
  start now. The parent's claim is released at the end of every step, so the next step can run anywhere.
- `run_child` (`cxo-run --issue C --tree-parent N`) claims one child, bases its worktree on the integration
  branch's head fetched from the remote, runs the agent and gates, pushes the child branch and leaves a
  runner-written marker comment naming the pushed commit; the next tree step merges it.

What a later step reads: the child issues (marker, labels, metadata), their marker comments, the PRD comment and
the branches on the remote. The local tree state file is still written (the shared helpers keep it) but never
read back here.
"""

import re
from pathlib import Path

from .. import envelope
from ..errors import CxoError
from ..github.claims import by_runners, claim_comment, done_marker, running_label_state
from ..gitutil import git, remote, rev_parse
from . import children, integrate, schedule
from . import plan as plan_mod
from . import report as tree_report
from .state import author

STEP = "tree"
CHILD_MARKER = "<!-- cxo:tree-child parent={parent} branch={branch} sha={sha} -->"
CHILD_MARKER_RE = re.compile(r"<!-- cxo:tree-child parent=(\d+) branch=(\S+) sha=([0-9a-f]{40}) -->")


# --- git against the remote ---------------------------------------------------------------------------------
def fetch_branch(policy, cwd: Path, branch: str) -> str | None:
    """The remote branch's head, fetched into refs/remotes/<remote>/<branch>; None when the remote has no such
    branch (any other failure raises)."""
    from ..connect import take_token

    try:
        remote(cwd, "fetch", policy.clone_url, f"+refs/heads/{branch}:refs/remotes/{policy.remote}/{branch}",
               "--quiet", "--no-tags", token=take_token())
    except CxoError as exc:
        if "couldn't find remote ref" in exc.message.lower() or "could not find remote ref" in exc.message.lower():
            return None
        raise
    return rev_parse(cwd, f"refs/remotes/{policy.remote}/{branch}")


def push(policy, cwd: Path, sha: str, branch: str, force: bool = False) -> None:
    from ..connect import take_token

    remote(cwd, "push", policy.clone_url, f"{'+' if force else ''}{sha}:refs/heads/{branch}", "--quiet",
           "--no-verify", token=take_token())


def integration_branch(policy, parent_issue: dict) -> str:
    from ..steps.worktree import branch_name

    return branch_name(policy, {**parent_issue, "mode": "plan-auto"})


# --- a child job --------------------------------------------------------------------------------------------
def child_section(policy, tracker, parent: int, number: int) -> dict:
    """The `tree` section of a child's envelope, from GitHub alone: the parent's integration branch and its
    head on the remote (fetched into this clone, so the child's worktree can start from it)."""
    from ..connect import runner_logins

    issue = tracker.get_issue(number)
    if not children.is_child(issue, parent, policy.labels["child"], runner_logins(policy, tracker)):
        raise envelope.InputError(f"--tree-parent {parent}: #{number} is not a runner-made child of #{parent}")
    node = children.parse(issue)
    branch = integration_branch(policy, tracker.get_issue(parent))
    head = fetch_branch(policy, policy.target, branch)
    if head is None:
        raise envelope.InputError(f"--tree-parent {parent}: the remote has no integration branch {branch} yet: run "
                                  f"`cxo-tree --parent {parent} --step` first")
    return {"parent": parent, "integration_branch": branch, "base_sha": head,
            **({"stable_id": node.stable_id} if node else {})}


def run_child(env: dict, policy, say, args, tracker) -> dict:
    """Claim, worktree (from the integration branch's remote head), agent, gates; then push the child branch
    and mark the child finished for the next tree step. A block ends through publish as any run's does."""
    from ..pipeline import run_steps
    from ..steps import publish

    env = run_steps(env, policy, say, args, tracker, ("claim", "worktree", "codex", "gate"))
    if envelope.is_blocked(env):
        return run_steps(env, policy, say, args, tracker, ("publish",)) if "claim" in env else env
    number, tree = env["issue"]["number"], env["tree"]
    worktree, branch = Path(env["worktree"]["path"]), env["worktree"]["branch"]
    publish.commit_checked(policy, env, worktree, say)
    head = rev_parse(worktree, "HEAD")
    say(f"pushing the child branch {branch} ({head[:12]}) for #{tree['parent']}'s next tree step")
    push(policy, worktree, head, branch, force=True)  # runner-owned; a re-run after a block replaces the old try
    gates = ", ".join(f"{v['gate']} {v['verdict']}" for v in env["gate"]["verdicts"]) or "no gate ran"
    marker = f"<!-- cxo:report-comment issue={number} -->"
    body = (f"{marker}{done_marker(env['run_id'])}\n"
            f"{CHILD_MARKER.format(parent=tree['parent'], branch=branch, sha=head)}\n"
            f"## cxo: #{number} is ready for `{tree['integration_branch']}`\n\nChecked by the gates ({gates}) and "
            f"pushed as `{head[:12]}` on `{branch}`. The next tree step of #{tree['parent']} merges it into the "
            "integration branch; the integration draft PR will carry it.")
    publish.upsert_comment(tracker, number, marker, body)
    publish.move_labels(tracker, number, policy.label("review"), policy.label("running"))
    # Not merged yet (`merge` empty): the next tree step merges `sha` into the integration branch.
    env["integrate"] = {"sha": head, "merge": "", "integration_branch": tree["integration_branch"]}
    env = envelope.mark_done(env, "integrate")
    from ..pipeline import save

    save(policy, env, 5, "integrate")
    return env


# --- a tree step --------------------------------------------------------------------------------------------
def _names(issue: dict) -> set[str]:
    return {(lab["name"] if isinstance(lab, dict) else lab).lower() for lab in issue.get("labels") or []}


def _prd(tracker, parent: dict, logins) -> str | None:
    """The plan's PRD as the runner posted it on the parent; None when the parent was never planned."""
    marker = tree_report.PRD_MARKER.format(parent["number"])
    for comment in by_runners(tracker.list_comments(parent["number"]), logins):
        if marker in (comment.get("body") or ""):
            return "\n".join(comment["body"].split("\n")[5:])
    return None


def _plan(current: dict[str, dict], parent: dict, prd: str) -> plan_mod.Plan:
    """The plan as the children on GitHub say it (in the order they were made; a maintainer's edits honoured)."""
    nodes = [children.parse(issue) for issue in sorted(current.values(), key=lambda i: i["number"])]
    nodes = [n for n in nodes if n]
    known = {n.stable_id for n in nodes}
    for node in nodes:
        node.depends_on = [d for d in node.depends_on if d in known]
    return plan_mod.Plan(title=parent.get("title") or "", prd=prd, nodes=nodes)


def _finished(tracker, issue: dict, parent: int, logins) -> dict | None:
    """The child's runner-written marker comment for this parent: {branch, sha, comment_id, comment}."""
    for comment in reversed(by_runners(tracker.list_comments(issue["number"]), logins)):
        match = CHILD_MARKER_RE.search(comment.get("body") or "")
        if match and int(match.group(1)) == parent:
            gates = re.search(r"Checked by the gates \(([^)]*)\)", comment["body"])
            return {"branch": match.group(2), "sha": match.group(3), "comment_id": comment["id"],
                    "comment": comment["body"], "gates": gates.group(1) if gates else "-"}
    return None


class TreeStep:
    """One step on a claimed parent whose integration worktree (`env['worktree']`) was just made from the base."""

    def __init__(self, env: dict, policy, say, args, tracker):
        from ..connect import runner_logins

        self.env, self.policy, self.say, self.args, self.tracker = env, policy, say, args, tracker
        self.number = env["issue"]["number"]
        self.integration = Path(env["worktree"]["path"])
        self.branch = env["worktree"]["branch"]
        self.logins = runner_logins(policy, tracker)
        self.merged: dict[str, dict] = {}
        self.notes: dict[str, str] = {}

    def align(self) -> None:
        """Continue the integration branch the remote has (fresh clone: the local one was just made from base)."""
        head = fetch_branch(self.policy, self.integration, self.branch)
        if head is None:
            return
        git(self.integration, "reset", "--quiet", "--hard", head)
        base = git(self.integration, "merge-base", self.env["worktree"]["base_sha"], head).strip()
        self.env["worktree"].update({"base_sha": base, "head_sha": head, "reused": True})
        self.say(f"continuing {self.branch} at {head[:12]} from the remote")

    def publish_head(self) -> None:
        head = rev_parse(self.integration, "HEAD")
        if fetch_branch(self.policy, self.integration, self.branch) != head:
            self.say(f"pushing the integration branch {self.branch} ({head[:12]})")
            push(self.policy, self.integration, head, self.branch)

    def merge_finished(self, plan, current: dict[str, dict]) -> None:
        """Merge each finished child's pushed commit (fetched from the remote) unless the branch has it already;
        a conflict blocks that child, naming the files."""
        from ..steps import publish

        review = self.policy.label("review").lower()
        for node in plan.nodes:
            issue = current[node.stable_id]
            if review not in _names(issue) or issue.get("state") == "closed":
                continue
            done = _finished(self.tracker, issue, self.number, self.logins)
            if done is None:
                continue
            fetch_branch(self.policy, self.integration, done["branch"])
            if not git(self.integration, "rev-parse", "-q", "--verify", f"{done['sha']}^{{commit}}",
                       retcode=None).strip():
                self.notes[node.stable_id] = f"its pushed commit {done['sha'][:12]} is not on the remote"
                continue
            if git(self.integration, "rev-list", "--count", done["sha"], "^HEAD").strip() == "0":
                self.merged[node.stable_id] = {"number": issue["number"], **done}  # merged by an earlier step
                continue
            try:
                integrate.merge(self.integration, done["sha"], f"cxo: merge #{issue['number']} ({node.stable_id}) "
                                f"into {self.branch}", author(self.policy))
            except integrate.MergeConflict as exc:
                reason = (f"{exc.message} while merging into {self.branch}: nothing of this child was merged; "
                          "remove the blocked label to run it again from the integration branch's head")
                self.say(f"child #{issue['number']}: {reason}")
                publish.move_labels(self.tracker, issue["number"], self.policy.label("blocked"),
                                    self.policy.label("review"))
                publish.upsert_comment(self.tracker, issue["number"],
                                       f"<!-- cxo:report-comment issue={issue['number']} -->",
                                       f"<!-- cxo:report-comment issue={issue['number']} -->\n## cxo: #"
                                       f"{issue['number']} blocked\n\n{reason}")
                issue["labels"] = [{"name": self.policy.label("blocked")}]
                self.notes[node.stable_id] = reason
                continue
            self.say(f"merged child #{issue['number']} ({node.stable_id}) into {self.branch}")
            self.merged[node.stable_id] = {"number": issue["number"], **done}

    def states(self, plan, current: dict[str, dict]) -> dict[str, str]:
        labels = self.policy.labels
        out = {}
        for node in plan.nodes:
            issue, names = current[node.stable_id], _names(current[node.stable_id])
            if node.stable_id in self.merged or issue.get("state") == "closed":
                out[node.stable_id] = schedule.DONE
            elif not node.afk:
                out[node.stable_id] = "waiting"
            elif labels["blocked"].lower() in names or labels["review"].lower() in names:
                out[node.stable_id] = "blocked"  # review without a mergeable pushed commit: a human looks
            elif labels["running"].lower() in names:
                comments = self.tracker.list_comments(issue["number"])
                takeover, _why = running_label_state(self.policy, issue, comments, self.logins)
                out[node.stable_id] = "pending" if takeover else "running"
            else:
                out[node.stable_id] = "pending"
        return out

    def release(self) -> None:
        """End this step's hold on the parent: the claim marked released, agent:running off."""
        claim = self.env["claim"]
        data = {"run_id": self.env["run_id"], "runner": claim["runner"]["name"], "host": claim["runner"]["host"],
                "pid": claim["runner"].get("pid", 0), "claimed_at": claim["claimed_at"],
                "lease_expires_at": claim["lease_expires_at"], "released": True}
        self.tracker.update_comment(claim["comment_id"], claim_comment(data, "Released: this tree step is done; "
                                                                             "the next one claims the parent anew."))
        self.tracker.remove_label(self.number, self.policy.label("running"))


def tree_step(env: dict, policy, say, args, tracker) -> tuple[dict, dict]:
    """One tree step on a claimed parent with its integration worktree; returns (envelope, result) where result is
    {"parent", "status": planned|running|integrated|blocked, "startable": [child numbers], "children": [...]}."""
    from ..pipeline import heartbeat_for
    from .execute import TreeRun
    from .run import _blocked, _finish, plan_approved

    number = env["issue"]["number"]
    heartbeat = heartbeat_for(env, policy, say)
    try:
        step = TreeStep(env, policy, say, args, tracker)
        step.align()
        parent = env["claim"]["issue"]
        labels = policy.labels
        current = children.existing(tracker, number, labels["child"], step.logins)
        prd = _prd(tracker, parent, step.logins)
        status = "running"
        if prd is None or not current or getattr(args, "replan", False):
            # Through plan approval when the policy asks for it: the plan and its state live on GitHub.
            env = plan_approved(env, policy, say, args, tracker)
            if envelope.is_blocked(env):
                heartbeat.stop()
                status = "awaiting" if env["blocked"]["reason"].startswith("plan awaits approval") else "blocked"
                return _blocked(env, policy, say, args, tracker, env["blocked"]["reason"],
                                env["blocked"]["details"]), {"parent": number, "status": status, "startable": []}
            current = children.existing(tracker, number, labels["child"], step.logins)
            prd = env["plan"]["report"]["parent"]["body"]
            status = "planned"
        plan = _plan(current, parent, prd)
        step.merge_finished(plan, current)
        step.publish_head()
        states = step.states(plan, current)
        numbers = {sid: issue["number"] for sid, issue in current.items()}
        items = [{"stable_id": n.stable_id, "number": numbers[n.stable_id], "state": states[n.stable_id]}
                 for n in plan.nodes]
        run = TreeRun(env, policy, say, args, tracker)
        run.notes = step.notes
        if all(states[n.stable_id] == schedule.DONE for n in plan.nodes):
            run.state = {"merged": step.merged}
            heartbeat.stop()
            env = _finish(env, policy, say, args, tracker, run, plan, numbers, states)
            if envelope.is_blocked(env):
                return env, {"parent": number, "status": "blocked", "startable": [], "children": items}
            return env, {"parent": number, "status": "integrated", "startable": [], "children": items,
                         "pull_request": env["publish"]["pull_request"]["number"]}
        start = [numbers[s] for s in schedule.startable(plan, states, policy["concurrency"]["children"])]
        running = [s for s in states if states[s] == "running"]
        if not start and not running:
            stuck = schedule.stuck(plan, states)
            summary = "; ".join(f"#{numbers[s]} {states[s]}" + (f" (waits on {stuck[s]})" if s in stuck else "")
                                for s in numbers if states[s] != schedule.DONE)
            run.update_status(plan, numbers, states, f"Stopped: {summary}.")
            heartbeat.stop()
            env = _blocked(env, policy, say, args, tracker, f"issue tree incomplete: {summary}", {"states": states})
            return env, {"parent": number, "status": "blocked", "startable": [], "children": items}
        upcoming = ", ".join(f"#{n}" for n in start) or "-"
        busy = ", ".join(f"#{numbers[s]}" for s in running) or "-"
        run.update_status(plan, numbers, states, f"Children are running: starting {upcoming}; running {busy}.")
        heartbeat.stop()
        step.release()
        return env, {"parent": number, "status": status, "startable": start, "children": items}
    finally:
        heartbeat.stop()
