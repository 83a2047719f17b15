"""The tree run of an `agent:plan-auto` parent: plan (or resume), persist children, run them, integrate, one PR.

Children start as soon as their dependencies are merged, a slot is free
(`concurrency.children`) and no running child's ownership scope overlaps; each
goes through the ordinary steps (claim, worktree from the integration branch's
head, agent, gates) and is then merged into the integration branch by the runner.
Progress lives on GitHub (labels, the status comment) and in the runner's state
file `trees/<parent>.json`, so a killed tree run resumes where it stopped.
"""

from pathlib import Path

from .. import envelope, killpoints
from ..github.claims import done_marker
from ..gitutil import remote, rev_parse
from ..policy import render
from ..tracker.base import write_once
from . import children, schedule
from . import plan as plan_mod
from . import report as tree_report
from .execute import TreeRun
from .state import load_state, save_state

STEP = "tree"


def _merged_as(merged: dict) -> str:
    """The merge commit on the integration branch (the child's own commit beside it)."""
    if not merged:
        return "-"
    merge = merged.get("merge") or merged["sha"]
    return f"`{merge[:12]}`" + (f" (child `{merged['sha'][:12]}`)" if merge != merged["sha"] else "")


def plan_parent(env: dict, policy, args, say, tracker, context: str = "") -> tuple[dict, dict | None]:
    """The planning run: read-only, in the integration worktree; returns the envelope and the plan report."""
    from .. import prompting
    from ..gitutil import status_porcelain
    from ..steps.codex import output_dir, run_agent

    issue, tree = env["claim"]["issue"], env["worktree"]
    worktree = Path(tree["path"])
    head_before = rev_parse(worktree, "HEAD")
    report_path = output_dir(policy, env) / "report.json"
    prompt = prompting.build(policy, issue, tracker.list_comments(issue["number"]), report_path, tree["branch"],
                             kind="plan", context=context)
    say("planning: asking the agent for a PRD and a child-issue graph")
    env, report = run_agent(env, policy, args, say, prompt, "plan", "plan-report")
    if report is None:
        return env, None
    if rev_parse(worktree, "HEAD") != head_before or status_porcelain(worktree):
        return envelope.block(env, STEP, "the planning run changed the worktree (planning is read-only): the plan "
                              "was discarded and no child issue was created", {}), None
    return env, report


def _states(plan, current: dict, saved: dict, labels: dict) -> dict[str, str]:
    states = {}
    for node in plan.nodes:
        issue = current[node.stable_id]
        names = {(lab["name"] if isinstance(lab, dict) else lab).lower() for lab in issue.get("labels") or []}
        if node.stable_id in saved["merged"] or issue.get("state") == "closed":
            states[node.stable_id] = schedule.DONE
        elif not node.afk:
            states[node.stable_id] = "waiting"
        elif labels["blocked"].lower() in names:
            states[node.stable_id] = "blocked"
        else:
            states[node.stable_id] = "pending"
    return states


def run_tree(env: dict, policy, say, args, tracker) -> dict:
    """Continue a claimed plan-auto parent whose integration worktree exists; returns the final envelope."""
    from ..pipeline import heartbeat_for

    heartbeat = heartbeat_for(env, policy, say)
    try:
        return _run(env, policy, say, args, tracker)
    finally:
        heartbeat.stop()


def _blocked(env, policy, say, args, tracker, reason: str, details=None) -> dict:
    from ..pipeline import run_steps

    if not envelope.is_blocked(env):
        env = envelope.block(env, STEP, reason, details or {})
    return run_steps(env, policy, say, args, tracker, steps=("publish",))


def plan_checked(env: dict, policy, say, args, tracker, context: str = "") -> tuple[dict, dict | None]:
    """Plan the parent (read-only agent run) and validate the plan: (env, report), or (blocked env, None)."""
    from ..connect import runner_logins

    number, labels = env["issue"]["number"], policy.labels
    env, report = plan_parent(env, policy, args, say, tracker, context)
    if report is None:
        return env, None
    errors = plan_mod.problems(report)
    current = children.existing(tracker, number, labels["child"], runner_logins(policy, tracker))
    if not errors:
        errors = children.foreign_numbers(plan_mod.build(report), current)
    if errors:
        return envelope.block(env, STEP, f"the plan was rejected ({len(errors)} problem(s)): " + "; ".join(errors),
                              {"errors": errors}), None
    return env, report


def plan_and_persist(env: dict, policy, say, args, tracker, report: dict | None = None) -> dict:
    """Plan the parent (read-only agent run), validate the plan, create or update its children by Stable ID,
    post the PRD comment and keep the plan in the tree state. `cxo-plan` is this on stdin. With `report` (an
    approved plan, validated when it was made) the agent is not asked again."""
    from ..connect import runner_logins
    from ..steps import publish

    number, labels = env["issue"]["number"], policy.labels
    logins = runner_logins(policy, tracker)
    if report is None:
        env, report = plan_checked(env, policy, say, args, tracker)
        if report is None:
            return env
    plan = plan_mod.build(report)
    made = children.persist(tracker, plan, env["claim"]["issue"], labels, logins, say)
    publish.upsert_comment(tracker, number, tree_report.PRD_MARKER.format(number),
                           tree_report.prd_comment(number, plan.prd))
    state = load_state(policy, number) or {}
    save_state(policy, number, {**state, "report": report, "merged": state.get("merged", {}),
                                "branch": env["worktree"]["branch"],
                                "children": {sid: issue["number"] for sid, issue in made.items()}})
    env["plan"] = {"report": report, "children": {sid: issue["number"] for sid, issue in made.items()}}
    killpoints.reached("tree:after-plan")
    return envelope.mark_done(env, "plan")


def read_back(env: dict, policy, tracker) -> tuple:
    """The plan as the children on GitHub say it now (a maintainer's edits to their metadata are honoured):
    (plan, numbers, states, state)."""
    from ..connect import runner_logins

    number, labels = env["issue"]["number"], policy.labels
    state = load_state(policy, number)
    if state is None:
        raise envelope.InputError(f"issue #{number} has no plan yet: run cxo-plan (or cxo-run) on it first")
    order = [n["stableId"] for n in state["report"]["graph"]["nodes"]]
    current = children.existing(tracker, number, labels["child"], runner_logins(policy, tracker))
    nodes = [children.parse(current[sid]) for sid in order if sid in current]
    plan = plan_mod.Plan(title=state["report"]["parent"]["title"], prd=state["report"]["parent"]["body"],
                         nodes=nodes)
    known = {n.stable_id for n in nodes}
    for node in nodes:  # keep only dependencies on children that still exist
        node.depends_on = [d for d in node.depends_on if d in known]
    numbers = {sid: current[sid]["number"] for sid in known}
    states = _states(plan, current, state, labels)
    _settle_merged(tracker, policy, state, current)
    return plan, numbers, states, state


def children_step(env: dict, policy, say, args, tracker) -> dict:
    """`cxo-tree`: the children read back from GitHub, their states and the ones that may start now."""
    plan, numbers, states, _state = read_back(env, policy, tracker)
    stuck = schedule.stuck(plan, states)
    env["children"] = {"items": [{"stable_id": n.stable_id, "number": numbers[n.stable_id],
                                  "state": states[n.stable_id],
                                  **({"waits_on": stuck[n.stable_id]} if n.stable_id in stuck else {})}
                                 for n in plan.nodes],
                       "startable": [numbers[s] for s in schedule.startable(plan, states,
                                                                            policy["concurrency"]["children"])]}
    return env


def child_section(policy, parent: int, number: int) -> dict:
    """The `tree` section of a child's envelope: its parent, the integration branch and its current head."""
    state = load_state(policy, parent)
    integration = policy.workspace_root / f"tree-{parent}"
    if state is None or not integration.is_dir():
        raise envelope.InputError(f"--tree-parent {parent}: no planned tree on this host: run cxo-plan on #{parent} "
                                  "first")
    stable = next((sid for sid, n in (state.get("children") or {}).items() if n == number), None)
    return {"parent": parent, "integration_branch": state["branch"], "base_sha": rev_parse(integration, "HEAD"),
            **({"stable_id": stable} if stable else {})}


def publish_tree(env: dict, policy, say, args, tracker) -> dict:
    """`cxo-publish` on a parent envelope: when every child is merged (or a closed hitl child), the integration
    checks, one push and ONE draft PR; otherwise the parent ends blocked, saying what is missing."""
    plan, numbers, states, state = read_back(env, policy, tracker)
    missing = [f"#{numbers[n.stable_id]} ({states[n.stable_id]})" for n in plan.nodes
               if states[n.stable_id] != schedule.DONE]
    if missing:
        return _blocked(env, policy, say, args, tracker, f"children not merged yet: {', '.join(missing)}")
    run = TreeRun(env, policy, say, args, tracker)
    run.state = state
    return _finish(env, policy, say, args, tracker, run, plan, numbers, states)


def _approval(env: dict, policy, say, args, tracker) -> tuple[dict, dict | None]:
    """planning.requireApproval: (env, the approved plan report) when the plan is approved; else the env
    (blocked: the plan is posted and waits, or planning failed) and None. See tree/approval.py."""
    from ..connect import runner_logins
    from . import approval

    number = env["issue"]["number"]
    logins = runner_logins(policy, tracker)
    issue = tracker.get_issue(number)
    source = approval.source_digest(issue)
    comments = tracker.list_comments(number)
    # What waits is on GitHub (the runner's plan comment carries the plan): any host, any Actions job, reads it.
    pending = approval.pending(comments, number, logins)
    context = ""
    if pending and pending["source"] == source and pending.get("state") == "awaiting":
        decision, guidance = approval.decide(policy, issue, comments, pending, logins)
        if decision == "approve":
            say(f"the plan of #{number} is approved: creating its children from the approved plan")
            return env, pending["report"]
        if decision == "wait":
            return envelope.block(env, STEP, approval.reason(policy), {"plan": pending["plan"]}), None
        say(f"re-planning #{number} with the maintainer's guidance")
        context = approval.guidance_context(guidance)
    elif pending:
        say(f"the title or body of #{number} changed since its plan was posted: planning again")
    env, report = plan_checked(env, policy, say, args, tracker, context)
    if report is None:
        return env, None
    plan = plan_mod.build(report)
    seen = max([0] + [c["id"] for c in comments])
    approval.post(tracker, policy, number, plan, report, source, "awaiting", seen=seen)
    names = {(lab["name"] if isinstance(lab, dict) else lab).lower() for lab in issue.get("labels") or []}
    if policy.label("planApproved").lower() in names:  # an approval of an earlier plan no longer counts
        tracker.remove_label(number, policy.label("planApproved"))
    say(f"posted the plan of #{number}: it waits for approval")
    return envelope.block(env, STEP, approval.reason(policy), {"plan": approval.plan_digest(report)}), None


def mark_approved(policy, tracker, number: int, approved: dict) -> None:
    """The plan comment says `approved` once the children exist (the command pass stops waking the parent)."""
    from ..connect import runner_logins
    from . import approval

    found = approval.pending(tracker.list_comments(number), number, runner_logins(policy, tracker)) or {}
    approval.post(tracker, policy, number, plan_mod.build(approved), approved, found.get("source", ""), "approved",
                  seen=found.get("seen", 0))


def plan_approved(env: dict, policy, say, args, tracker) -> dict:
    """Plan the parent and create its children, through plan approval when the policy asks for it
    (planning.requireApproval; not on --replan): blocked with "plan awaits approval" while the plan waits. The
    one way every tree runner plans: cxo-run, the Actions fan-out and cxo-plan."""
    approved = None
    if policy["planning"]["requireApproval"] and not getattr(args, "replan", False):
        env, approved = _approval(env, policy, say, args, tracker)
        if approved is None:
            return env
    env = plan_and_persist(env, policy, say, args, tracker, report=approved)
    if approved is not None and not envelope.is_blocked(env):
        mark_approved(policy, tracker, env["issue"]["number"], approved)
    return env


def _run(env: dict, policy, say, args, tracker) -> dict:
    number = env["issue"]["number"]
    if load_state(policy, number) is None or getattr(args, "replan", False) or \
            "report" not in (load_state(policy, number) or {}):
        env = plan_approved(env, policy, say, args, tracker)
        if envelope.is_blocked(env):
            return _blocked(env, policy, say, args, tracker, env["blocked"]["reason"], env["blocked"]["details"])
    plan, numbers, states, state = read_back(env, policy, tracker)
    order = [n.stable_id for n in plan.nodes]
    run = TreeRun(env, policy, say, args, tracker)
    run.state = state
    run.update_status(plan, numbers, states, "Children are running.")
    states = run.execute(plan, numbers, states)
    state = load_state(policy, number)  # the children's merges were recorded in it meanwhile
    state["timing"] = {**state.get("timing", {}), **run.timing}  # start/end per child (monotonic clock)
    save_state(policy, number, state)
    run.state = state
    stuck = schedule.stuck(plan, states)
    done = [s for s in order if states.get(s) == schedule.DONE]
    blocked = [s for s in order if states.get(s) == "blocked"]
    waiting = [s for s in order if states.get(s) == "waiting"]
    if blocked or stuck or waiting:
        summary = (f"{len(done)} done, {len(blocked)} blocked ({', '.join(f'#{numbers[s]}' for s in blocked) or '-'}), "
                   f"{len(stuck)} not started ({'; '.join(f'#{numbers[s]} waits on {w}' for s, w in stuck.items())})")
        run.update_status(plan, numbers, states, f"Stopped: {summary}.")
        reason = (f"waiting on {', '.join(f'#{numbers[s]}' for s in waiting)} (hitl: a human does it and closes "
                  f"it); {summary}" if waiting and not blocked else f"issue tree incomplete: {summary}")
        return _blocked(env, policy, say, args, tracker, reason, {"states": states})
    return _finish(env, policy, say, args, tracker, run, plan, numbers, states)


def _settle_merged(tracker, policy, state: dict, current: dict) -> None:
    """A child merged just before a runner died still shows agent:running: finish its labels."""
    from ..steps import publish

    running = policy.label("running").lower()
    for sid in state["merged"]:
        issue = current.get(sid)
        if issue and running in {lab["name"].lower() for lab in issue.get("labels") or []}:
            publish.move_labels(tracker, issue["number"], policy.label("review"), policy.label("running"))


def _finish(env, policy, say, args, tracker, run, plan, numbers, states) -> dict:
    from ..connect import take_token
    from ..steps import publish

    number = env["issue"]["number"]
    integration = Path(env["worktree"]["path"])
    head = rev_parse(integration, "HEAD")
    problem = _validate(env, policy, say, integration)
    if problem:
        return _blocked(env, policy, say, args, tracker, problem)
    branch = env["worktree"]["branch"]
    say(f"pushing the integration branch {branch} ({head[:12]})")
    remote(integration, "push", policy.clone_url, f"{head}:refs/heads/{branch}", "--quiet", "--no-verify",
           token=take_token())
    killpoints.reached("tree:after-push")
    issue = env["claim"]["issue"]
    title = render(policy["pullRequest"]["treeTitleTemplate"], {"issueNumber": number,
                   "issueTitle": issue["title"]}, "pullRequest.treeTitleTemplate")
    body = pr_body(env, plan, numbers, run.state)
    pull = tracker.find_pull(branch, state="open")
    if pull is None:
        pull = write_once(lambda: tracker.create_pull(title, branch, env["worktree"]["base_branch"], body, draft=True),
                          lambda: tracker.find_pull(branch, state="open"))
        say(f"opened integration draft PR #{pull['number']}")
    elif pull.get("body") != body:
        pull = tracker.update_pull(pull["number"], body=body)
    killpoints.reached("tree:after-pr")
    link = f"\n\nIntegration draft PR: #{pull['number']}"
    for entry in run.state["merged"].values():
        if entry.get("comment_id") and link not in entry.get("comment", ""):
            tracker.update_comment(entry["comment_id"], entry["comment"] + link)
            entry["comment"] += link
    save_state(policy, number, run.state)
    run.update_status(plan, numbers, states, f"All children merged: integration draft PR #{pull['number']}.")
    labels = publish.move_labels(tracker, number, policy.label("review"), policy.label("running"))
    comment = publish.upsert_comment(tracker, number, f"<!-- cxo:report-comment issue={number} -->",
                                     f"<!-- cxo:report-comment issue={number} -->{done_marker(env['run_id'])}\n"
                                     f"## cxo issue tree for #{number}: integration draft PR #{pull['number']}\n\n"
                                     f"{len(numbers)} children merged into `{branch}`. Review the draft PR before "
                                     "merging: nothing is merged into the base branch automatically.")
    env["publish"] = {"outcome": "review", "pushed_sha": head, "branch": branch, "commit_created": False,
                      "pull_request": {"number": pull["number"], "url": pull["url"],
                                       "html_url": pull.get("html_url", ""), "draft": bool(pull.get("draft"))},
                      "comment": {"id": comment["id"], "url": comment.get("html_url", "")}, "labels": labels}
    from ..pipeline import save

    env = envelope.mark_done(env, "publish")
    save(policy, env, 5, "publish")
    return env


def _validate(env, policy, say, integration: Path) -> str | None:
    """The policy's checks on the integration worktree; a failure message, or None."""
    if not policy["checks"]:
        return None
    from ..gates.base import GateContext, run_one
    from ..gates.checks import ChecksGate
    from ..gitutil import collect_changes

    changes = collect_changes(integration, env["worktree"]["base_sha"])
    ctx = GateContext(worktree=integration, base=changes.base, head=None, policy=policy, changes=changes,
                      run_dir=envelope.run_dir(policy.state_dir, env) / "integration", say=say, envelope=env)
    verdict = run_one(ChecksGate(), ctx)
    return None if verdict["verdict"] != "fail" else f"integration checks failed: {verdict['summary']}"


def pr_body(env, plan, numbers: dict[str, int], state: dict) -> str:
    from ..untrusted import clean

    number = env["issue"]["number"]
    prd = clean(plan.prd).strip().splitlines()
    lines = [f"<!-- cxo:report issue={number} -->", f"## Issue tree for #{number}", "",
             "### Plan (PRD, first lines)", ""] + [f"> {line}" for line in prd[:15]] + [
             "", "### Children", "", "| child | stable id | state | gates | merged as |",
             "| --- | --- | --- | --- | --- |"]
    for node in plan.nodes:
        merged = state["merged"].get(node.stable_id) or {}
        lines.append(f"| #{numbers[node.stable_id]} | `{node.stable_id}` | "
                     f"{'merged' if merged else 'closed by a human'} | {merged.get('gates', '-')} | "
                     f"{_merged_as(merged)} |")
    lines += ["", "This is a draft: review before merging. Nothing is merged into the base branch automatically.",
              ""] + [f"Closes #{numbers[n.stable_id]}" for n in plan.nodes] + [f"Closes #{number}"]
    return "\n".join(lines)
