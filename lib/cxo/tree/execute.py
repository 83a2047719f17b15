"""Running an issue tree's children: each through the ordinary steps, then merged into the integration branch
(`integrate_child`, also `cxo-integrate`); `TreeRun` starts them as the scheduler allows, in threads."""

import threading
from pathlib import Path

from .. import envelope, killpoints
from ..github.claims import done_marker
from ..gitutil import git, rev_parse
from ..tracker.base import write_once
from . import integrate, schedule
from . import report as tree_report
from .state import author, load_state, save_state

STEP = "tree"


def integrate_child(env: dict, policy, say, args, tracker, lock=None) -> dict:
    """A gated child envelope: commit its checked change as the runner, merge it into its parent's integration
    worktree (a conflict blocks the child, naming the files), record it in the tree state, move the child to
    review with a report comment. `cxo-integrate` is this on stdin."""
    from ..pipeline import run_steps
    from ..steps import publish

    envelope.require(env, "integrate", "claim", "worktree", "codex", "gate")
    tree = env.get("tree") or {}
    if not tree.get("parent"):
        raise envelope.InputError("envelope: section 'tree' is missing: cxo-integrate takes a child of an issue "
                                  "tree (run the parent with cxo-run)")
    number, parent, branch = env["issue"]["number"], tree["parent"], tree["integration_branch"]
    integration = policy.workspace_root / f"tree-{parent}"
    worktree = Path(env["worktree"]["path"])
    publish.commit_checked(policy, env, worktree, say)
    head = rev_parse(worktree, "HEAD")
    lock = lock or threading.Lock()
    try:
        with lock:
            merged = integrate.merge(integration, head, f"cxo: merge #{number} ({tree.get('stable_id', '')}) into "
                                     f"{branch}", author(policy))
            state = load_state(policy, parent) or {"merged": {}}
            state["merged"][tree.get("stable_id") or str(number)] = {"number": number, "sha": head, "merge": merged}
            save_state(policy, parent, state)
    except integrate.MergeConflict as exc:
        env = envelope.block(env, STEP, f"{exc.message} while merging into {branch}: nothing of this child was "
                             "merged", {"files": exc.files})
        return run_steps(env, policy, say, args, tracker, steps=("publish",))
    killpoints.reached("tree:after-merge")
    publish.move_labels(tracker, number, policy.label("review"), policy.label("running"))
    marker = f"<!-- cxo:report-comment issue={number} -->"
    gates = ", ".join(f"{v['gate']} {v['verdict']}" for v in env["gate"]["verdicts"]) or "no gate ran"
    body = (f"{marker}{done_marker(env['run_id'])}\n## cxo: #{number} merged into `{branch}`\n\nChecked by the gates "
            f"({gates}) and merged as `{merged[:12]}` (its commit `{head[:12]}`). The integration draft PR of "
            f"#{parent} will carry it.")
    # A child is integrated once (the tree state says so before this point): post, and look only if the answer
    # was lost.
    comment = write_once(lambda: tracker.create_comment(number, body),
                         lambda: next((c for c in tracker.list_comments(number) if marker in (c.get("body") or "")),
                                      None))
    with lock:  # the integration PR links back from this comment once it exists
        state = load_state(policy, parent) or {"merged": {}}
        entry = state["merged"].get(tree.get("stable_id") or str(number))
        if entry is not None:
            entry.update({"comment_id": comment["id"], "comment": body, "gates": gates})
            save_state(policy, parent, state)
    env["integrate"] = {"sha": head, "merge": merged, "integration_branch": branch}
    from ..recovery import mark_finished

    mark_finished(policy, env, f"merged into {branch}")
    return envelope.mark_done(env, "integrate")


def _reader(root: Path):
    def read(path: str) -> str:
        try:
            return (root / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    return read


class TreeRun:
    def __init__(self, env: dict, policy, say, args, tracker):
        self.env, self.policy, self.say, self.args, self.tracker = env, policy, say, args, tracker
        self.number = env["issue"]["number"]
        self.integration = Path(env["worktree"]["path"])
        self.branch = env["worktree"]["branch"]
        self.lock = threading.Lock()  # merges, state and the status comment take turns
        self.notes: dict[str, str] = {}
        self.timing: dict[str, dict] = {}
        self.status_comment: dict | None = None  # found or made once, then edited by id
        self.status_at = 0.0
        self.conflicts = {"checked": 0, "rebased": 0}  # computed conflict sets (tree/conflicts.py)

    # --- one child -------------------------------------------------------------------------------
    def run_child(self, node, number: int) -> tuple[str, str]:
        from .. import recovery
        from ..connect import tracker_for
        from ..pipeline import run_steps

        policy = self.policy
        tracker = tracker_for(policy)  # a run of its own: its own connection

        def say(message):
            self.say(f"child #{number} ({node.stable_id}): {message}")

        saved = recovery.latest_unfinished(policy, number)
        if saved is not None and "claim" in saved and saved.get("tree", {}).get("parent") == self.number:
            env = recovery.prepare(policy, tracker, saved, say)
            steps = [s for s in recovery.remaining_steps(env) if s != "publish"]
        else:
            env = envelope.new(policy.target, number)
            with self.lock:
                env["tree"] = {"parent": self.number, "integration_branch": self.branch,
                               "base_sha": rev_parse(self.integration, "HEAD"), "stable_id": node.stable_id}
            steps = ["claim", "worktree", "codex", "gate"]
        before_gate = [s for s in steps if s != "gate"]
        env = run_steps(env, policy, say, self.args, tracker, steps=before_gate)
        if "gate" in steps and not envelope.is_blocked(env):
            env = self.refresh(env, node, say)
            env = run_steps(env, policy, say, self.args, tracker, steps=("gate",))
        if envelope.is_blocked(env):
            reason = env["blocked"]["reason"]
            if "claim" in env:
                run_steps(env, policy, say, self.args, tracker, steps=("publish",))
            return "blocked", reason
        env = integrate_child(env, policy, say, self.args, tracker, self.lock)
        if envelope.is_blocked(env):
            return "blocked", env["blocked"]["reason"]
        return schedule.DONE, f"merged {env['integrate']['sha'][:12]}"

    def refresh(self, env: dict, node, say) -> dict:
        """Computed conflict sets (tree/conflicts.py): when this child's widened scope meets a sibling merged since
        it started, its work is laid over the integration head before its gates run."""
        from ..gitutil import collect_changes
        from . import conflicts

        if self.policy["planning"].get("conflictSets", "computed") == "declared":
            return env
        worktree, started = Path(env["worktree"]["path"]), env["tree"]["base_sha"]
        with self.lock:
            head = rev_parse(self.integration, "HEAD")
        if head == started:
            return env
        known = set(git(self.integration, "ls-files", "-z").split("\0"))
        changes = collect_changes(worktree, env["worktree"]["base_sha"])
        mine = conflicts.widened(sorted(set(changes.files + changes.deleted)), _reader(worktree), known)
        theirs_changed = [p for p in git(self.integration, "diff", "--name-only", "--no-renames", started, head,
                                         ).splitlines() if p]
        theirs = conflicts.widened(theirs_changed, _reader(self.integration), known)
        shared = conflicts.meet(mine, theirs)
        section = {"from": started, "to": head, "declared": list(node.scope), "computed": sorted(mine)[:200],
                   "meets": shared, "rebased": False}
        env["tree"]["conflict_set"] = section
        with self.lock:
            self.conflicts["checked"] += 1
        if not shared:
            return env
        ok, files = conflicts.rebase(worktree, head)
        if not ok:
            say(f"its work does not apply over the integration head {head[:12]} (conflicts in {', '.join(files)})")
            return envelope.block(env, STEP, f"merge conflict in {', '.join(files)} with children merged since it "
                                  "started: nothing of this child was merged", {"files": files})
        section["rebased"] = True
        env["worktree"]["base_sha"] = env["tree"]["base_sha"] = head
        with self.lock:
            self.conflicts["rebased"] += 1
        say(f"meets merged siblings on {', '.join(shared[:5])}: brought onto the integration head {head[:12]} "
            "before its gates")
        return env

    # --- the loop --------------------------------------------------------------------------------
    def execute(self, plan, numbers: dict[str, int], states: dict[str, str]) -> dict[str, str]:
        import time

        slots = max(1, int(self.policy["concurrency"]["children"]))
        running: dict[str, threading.Thread] = {}
        results: dict[str, tuple[str, str]] = {}

        def work(sid):
            started = time.monotonic()
            try:
                results[sid] = self.run_child(plan.node(sid), numbers[sid])
            except Exception as exc:  # a child's crash blocks that child, never the whole tree
                results[sid] = ("blocked", f"{type(exc).__name__}: {exc}")
            with self.lock:
                self.timing[sid] = {"start": started, "end": time.monotonic()}

        while True:
            for sid, thread in list(running.items()):
                if not thread.is_alive():
                    thread.join()
                    del running[sid]
                    states[sid], self.notes[sid] = results[sid]
                    self.update_status(plan, numbers, states, "Children are running.", force=False)
            for sid in schedule.startable(plan, states, slots):
                states[sid] = "running"
                self.say(f"starting child #{numbers[sid]} ({sid})")
                running[sid] = threading.Thread(target=work, args=(sid,), name=f"cxo-child-{sid}", daemon=True)
                running[sid].start()
            if not running:
                return states
            time.sleep(0.1)

    STATUS_EVERY = 15.0  # seconds between edits while children run: visible progress, few requests

    def update_status(self, plan, numbers, states, headline: str, force: bool = True) -> None:
        import time

        from ..steps import publish

        if not force and time.monotonic() - self.status_at < self.STATUS_EVERY:
            return
        self.status_at = time.monotonic()
        body = tree_report.status_comment(self.number, plan, states, numbers, self.notes, headline)
        with self.lock:
            if self.status_comment is None:
                self.status_comment = publish.upsert_comment(self.tracker, self.number,
                                                             tree_report.STATUS_MARKER.format(self.number), body)
            elif self.status_comment.get("body") != body:
                self.status_comment = self.tracker.update_comment(self.status_comment["id"], body)
