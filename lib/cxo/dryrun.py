"""`cxo-run --dry-run`: what a run would do, read from GitHub and this host, without a single write.

The plan is built from the same rules the run applies: the label classifier `cxo-status` uses
(status.Classifier, labels.classify, claims.running_label_state), the run's choice between a fresh run, the
resume of an interrupted local run, `--continue`, a feedback round on the issue's draft PR and an issue tree
(runner.run_issue), the branch template (steps/worktree.branch_name) and the policy as the run reads it.
Only GET requests reach GitHub; nothing is created under the state dir or the workspace root (no lock file,
no run directory, no identity cache, no copied prompt, no worktree).
"""

import fcntl
from pathlib import Path

from .errors import CxoError, InputError

MODES = {
    "auto": "auto issue: claim, worktree, agent, gates, publish (draft PR)",
    "plan-auto": "plan-auto issue tree: the integration worktree, a read-only planning agent run that creates "
                 "or updates the child issues, then each child's agent run, merged into the integration branch",
    "tree-child": "one child of an issue tree's fan-out: starts from the parent's integration branch, pushes the "
                  "child branch",
    "feedback-round": "feedback round on cxo's draft PR: the agent works on the PR branch, the gates check the "
                      "whole PR, the round report is posted",
    "resume": "resume of an interrupted local run (same run id, claim renewed, the next unfinished step)",
    "resume-round": "resume of an interrupted local feedback round",
    "continue": "continue of a run stopped at the token budget: same worktree and branch, the kept work as "
                "the starting point",
}


def logins(policy, tracker) -> set[str]:
    """connect.runner_logins without its cache write: the cached login if this host has one, else GET /user."""
    from .connect import cached_login

    login = cached_login(policy) or tracker.get_authenticated_user()["login"]
    return {login.lower()} | {name.lower() for name in policy["runner"]["logins"]}


def check_prompts(policy) -> None:
    """prompting.check_prompts, reading the prompts in place (the run copies a committed prompt out first)."""
    from .policy import POLICY_DIR
    from .policy.checks import check_template
    from .prompting import PROMPT_PLACEHOLDERS, read_prompt
    from .resources import prompts_dir

    for key, allowed in PROMPT_PLACEHOLDERS.items():
        rel = policy["prompts"][key]
        text = policy.repo_text(rel)
        shown = f"{policy.source[:12]}:{POLICY_DIR}/{rel}" if policy.source and text is not None else \
            str(policy.target / POLICY_DIR / rel)
        if text is None:
            packaged = prompts_dir() / Path(rel).name
            shown, text = str(packaged), read_prompt(packaged, key)
        check_template(text, allowed, f"prompts.{key}", shown)


def lock_held(policy, issue: int) -> bool:
    """Whether another process on this host holds the issue's lock (recovery.IssueLock), without creating it."""
    path = policy.state_dir / "locks" / f"issue-{issue}.lock"
    if not path.is_file():
        return False
    try:
        with open(path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def _git_sha(target, ref: str) -> str | None:
    from .gitutil import git

    return git(target, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}",
               retcode=None).strip() or None


def _agent(policy, issue: dict, branch: str, worktree: Path, run_dir: Path, args) -> dict:
    """The agent command line the run would start (placeholders filled in, secrets redacted)."""
    from . import agents
    from .agents.base import AgentSpec
    from .redact import redact
    from .steps.codex import mobile_timeout

    kind = agents.kind_of(policy)
    codex = agents.settings(policy, kind)
    builtin = kind != "command"
    out = run_dir / "agent-output"
    spec = AgentSpec(worktree=worktree, prompt_path=run_dir / "prompt.md", report_path=out / "report.json",
                     issue_number=issue["number"], branch_name=branch, state_dir=policy.state_dir, run_dir=run_dir,
                     log_path=run_dir / "agent.log", last_message_path=out / "last-message.md" if builtin else None)
    try:
        argv = agents.adapter(kind).argv_for(codex, spec)
    except CxoError as exc:
        argv = [str(codex["command"]), f"(cannot render: {exc.message})"]
    timeout = getattr(args, "agent_timeout", None) or mobile_timeout(codex, issue) or codex["timeoutSeconds"]
    return {"kind": kind, "command": [redact(str(a)) for a in argv],
            "timeout_seconds": timeout,
            "idle_timeout_seconds": getattr(args, "idle_timeout", None) or codex["idleTimeoutSeconds"],
            "max_tokens": codex.get("maxTokens"), "env_passthrough": list(codex["envPassthrough"] or []),
            "log_path": str(spec.log_path)}


def _commands(items) -> list[dict]:
    return [{"name": item.get("name"), "command": item.get("command"), "timeout_seconds": item.get("timeoutSeconds")}
            for item in items or []]


def _policy_part(policy) -> dict:
    if policy.source:
        read_from = f"commit {policy.source} (the fetched base {policy.remote}/{policy.base_branch})"
    else:
        read_from = "the working copy (no fetched base branch in this checkout)"
    return {"source": policy.source, "read_from": read_from, "path": policy.shown_path(),
            "gates": list(policy["reviewGates"]["order"])}


def _sandbox_part(policy) -> dict:
    from .agents import sandbox as sandboxes

    usable, line = sandboxes.status(policy)
    return {"isolation": sandboxes.isolation(policy), "usable": usable, "status": line}


def _network_part(policy) -> dict:
    from .agents import sandbox as sandboxes

    mode = "none (agent.isolation: none: the runner's whole network)" if sandboxes.isolation(policy) == "none" \
        else sandboxes.network(policy)
    return {"mode": mode, "allow_hosts": sandboxes.allow_hosts(policy) if mode == "allowlist" else []}


class Plan:
    def __init__(self, policy, number: int, args):
        self.policy, self.args = policy, args
        self.data = {"dry_run": True, "status": "would-run", "refused": None, "issue": {"number": number},
                     "run_id": getattr(args, "run_id", None)}

    def refuse(self, reason: str) -> dict:
        if self.data["refused"] is None:
            self.data["status"], self.data["refused"] = "refused", reason
        return self.data


def plan(target, args, policy) -> dict:
    """The dry-run plan of `cxo-run` with `args` (see the module docstring). Raises the run's own errors for
    bad input (a PR cxo did not open, an impossible --continue, a broken prompt template)."""
    from .agents import sandbox as sandboxes
    from .connect import tracker_for

    number = args.issue
    tracker = tracker_for(policy)
    pull = None
    if args.pr:
        from .github.feedback import REPORT, is_cxo_pull

        pull = tracker.get_pull(args.pr)
        who = logins(policy, tracker)
        match = REPORT.search(pull.get("body") or "")
        if not match or not is_cxo_pull(pull, who):
            raise InputError(f"--pr {args.pr}: not a pull request cxo opened (no runner-written report in its "
                             "body): feedback rounds run only on cxo's own draft PRs")
        number = int(match.group(1))
    continuing = None
    if getattr(args, "continue_run", False) and not args.pr:
        from .budget import continuation

        continuing = continuation(policy, number)  # InputError (exit 2), as the run says it
    out = Plan(policy, number, args)
    data = out.data
    data["policy"] = _policy_part(policy)
    data["sandbox"] = _sandbox_part(policy)
    data["network"] = _network_part(policy)
    data["setup"] = _commands(policy.data.get("setup"))
    data["checks"] = _commands(policy["checks"])
    check_prompts(policy)
    if not data["sandbox"]["usable"]:
        out.refuse(f"agent sandbox (bubblewrap) cannot start: {data['sandbox']['status']} (or set "
                   "agent.isolation: none in the policy)")
    hidden = sandboxes.hidden_agent_paths(policy)
    if hidden:
        from .agents import command_of

        out.refuse(f"{command_of(policy)[0]}: {hidden[0]} is under /tmp, which the agent sandbox replaces by a "
                   "private empty /tmp")
    if lock_held(policy, number):
        out.refuse("another run on this host is working on this issue (its lock is held)")

    issue = tracker.get_issue(number)
    data["issue"] = {"number": number, "title": issue.get("title") or "", "url": issue.get("html_url") or "",
                     "state": issue.get("state", "open"), "labels": _label_names(issue)}
    from . import recovery

    saved = None if args.run_id else recovery.latest_unfinished(policy, number)
    if saved is not None and getattr(args, "restart", False):
        data["restart"] = {"releases_run": saved["run_id"]}
        saved = None
    if args.pr:
        _round(out, policy, tracker, issue, pull, saved)
    elif saved is not None and "claim" in saved:
        _resume(out, policy, tracker, issue, saved)
    else:
        _fresh(out, policy, tracker, issue, continuing)
    return data


def _label_names(issue: dict) -> list[str]:
    from .labels import label_names

    return label_names(issue)


def _classify(policy, tracker, issue: dict, continuing=None):
    """status.Classifier (cxo-status's rule, with a stale agent:running taken over), read-only; `--continue`
    lifts agent:blocked as the claim step does."""
    import dataclasses

    from .status import Classifier

    if continuing:
        policy = dataclasses.replace(policy, data={**policy.data, "labels": {**policy.labels,
                                                                              "blocked": "\0 not a label"}})
    classifier = Classifier(policy, tracker, None)
    if policy.label("running").lower() in {n.lower() for n in _label_names(issue)}:
        classifier.logins = logins(policy, tracker)
    return classifier(issue)


def _verdict(data: dict, verdict) -> None:
    data["eligibility"] = {"eligible": verdict.eligible, "mode": verdict.mode, "reason": verdict.reason}


def _where(out: Plan, policy, issue: dict, mode: str, branch: str, base: dict, steps, kind: str = "issue") -> None:
    from .steps.worktree import valid_branch

    data = out.data
    number = issue["number"]
    run_id = data["run_id"] or "<new run id>"
    run_dir = policy.state_dir / "runs" / str(number) / run_id
    worktree = Path(data.pop("worktree_path", None) or policy.workspace_root / f"{kind}-{number}")
    data["mode"], data["mode_text"] = mode, MODES[mode]
    data["branch"] = branch
    data["base"] = base
    data["steps"] = list(steps)
    data["local"] = {"state_dir": str(policy.state_dir), "run_dir": str(run_dir), "worktree": str(worktree),
                     "worktree_exists": worktree.exists()}
    data["agent"] = _agent(policy, {**issue, "labels": _label_names(issue)}, branch, worktree, run_dir, out.args)
    if branch and not valid_branch(policy.target, branch):
        out.refuse(f"git.branchTemplate gives no valid branch name for this issue ({branch!r})")


def _attempts(out: Plan, policy) -> None:
    """Best-of-N (lib/cxo/attempts/): how many attempts, how many at a time, each one's agent and token share."""
    from .attempts import specs

    n = specs.count(policy, out.args)
    if n < 2:
        return
    each = specs.share(policy["codex"].get("maxTokens"), n)
    views = [specs.view(policy, spec, each, k) for k, spec in enumerate(specs.agent_specs(policy, out.args), 1)]
    out.data["attempts"] = {"n": n, "concurrency": max(1, min(n, int(policy["concurrency"]["children"] or 1))),
                            "max_tokens_each": each, "agents": [specs.describe(view) for view in views]}


def _base(policy, branch: str | None = None, what: str = "the base branch") -> dict:
    branch = branch or policy.base_branch
    remote = policy.remote
    return {"branch": branch, "remote": remote, "fetch_url": policy.clone_url, "what": what,
            "last_fetched_sha": _git_sha(policy.target, f"refs/remotes/{remote}/{branch}")}


def _fresh(out: Plan, policy, tracker, issue: dict, continuing) -> None:
    from .steps.worktree import branch_name

    data, args = out.data, out.args
    verdict = _classify(policy, tracker, issue, continuing)
    tree_parent = getattr(args, "tree_parent", None)
    if tree_parent and verdict.mode == "child" and verdict.reason == f"child of #{tree_parent}: runs with its " \
            "parent's tree" and policy.label("auto").lower() in {n.lower() for n in verdict.labels}:
        verdict.eligible = True  # an afk child, claimed by its own parent's tree run (steps/claim.py)
    _verdict(data, verdict)
    mode = verdict.mode if verdict.mode in ("auto", "plan-auto", "child") else "auto"
    summary = {"number": issue["number"], "title": issue.get("title") or "",
               "mode": "plan-auto" if mode == "plan-auto" else "auto"}
    branch = branch_name(policy, summary)
    if continuing:
        branch = continuing.get("branch") or branch
        data["continue_from"] = {k: continuing.get(k) for k in ("run_id", "kept_sha", "branch", "base_sha")}
        _where(out, policy, issue, "continue", branch, _base(policy), ("claim", "worktree", "codex", "gate",
                                                                       "publish"))
    elif tree_parent:
        parent = tracker.get_issue(tree_parent)
        integration = branch_name(policy, {"number": tree_parent, "title": parent.get("title") or "",
                                           "mode": "plan-auto"})
        _where(out, policy, issue, "tree-child", branch,
               _base(policy, integration, f"the integration branch of #{tree_parent} on the remote"),
               ("claim", "worktree", "codex", "gate", "push child branch"))
    elif mode == "plan-auto":
        steps = ("claim", "worktree", "plan" if not getattr(args, "replan", False) else "replan", "children",
                 "publish")
        _where(out, policy, issue, "plan-auto", branch, _base(policy), steps, kind="tree")
    else:
        _where(out, policy, issue, "auto", branch, _base(policy), ("claim", "worktree", "codex", "gate", "publish"))
        if verdict.mode == "auto":
            _attempts(out, policy)
    if verdict.eligible and verdict.mode in ("auto", "child", "plan-auto"):
        if not continuing and not tree_parent:  # a new issue waits while too many cxo PRs wait (lib/cxo/pace.py)
            from .pace import check_start

            held, _ = check_start(policy, tracker)
            from .measure.caps import check_start as check_caps

            held = held or check_caps(policy, tracker)[0]
            if held:
                out.refuse(held)
        return
    reason = verdict.reason if not verdict.eligible else f"{verdict.mode} issues are not run by cxo-run"
    if not continuing and not tree_parent and verdict.reason.startswith(("review", "blocked")):
        # runner.run_issue: an issue in review (or blocked after a round) whose draft PR has feedback waiting
        # runs that PR's feedback round.
        pull = _feedback_pull(policy, tracker, issue["number"])
        if pull is not None:
            _round(out, policy, tracker, issue, pull, None, issue_refusal=f"not eligible: {reason}")
            return
    out.refuse(f"not eligible: {reason}")


def _feedback_pull(policy, tracker, number: int) -> dict | None:
    from .github.feedback import REPORT, cxo_pulls

    who = logins(policy, tracker)
    for pull in cxo_pulls(tracker.list_issues(state="open"), who):
        if int(REPORT.search(pull["body"]).group(1)) == number:
            return tracker.get_pull(pull["number"])
    return None


def _round(out: Plan, policy, tracker, issue: dict, pull: dict, saved, issue_refusal: str | None = None) -> None:
    from .github.feedback import pull_feedback

    data = out.data
    number = pull["number"]
    if saved is not None and (saved.get("round") or {}).get("pull") == number and "claim" in saved:
        _resume(out, policy, tracker, issue, saved)
        return
    data["worktree_path"] = str(policy.workspace_root / f"issue-{issue['number']}")
    state = pull_feedback(policy, tracker, pull, logins(policy, tracker))
    data["pull"] = {"number": number, "url": pull.get("html_url") or "", "draft": bool(pull.get("draft")),
                    "state": pull.get("state"), "round": state["rounds"] + 1,
                    "max_rounds": policy["feedback"]["maxRounds"], "items": state["items"],
                    "feedback": state["reason"]}
    data["eligibility"] = {"eligible": state["eligible"], "mode": "feedback-round", "reason": state["reason"]}
    _where(out, policy, issue, "feedback-round", pull["head"]["ref"],
           _base(policy, pull["head"]["ref"], f"the PR's branch (PR base: {pull['base']['ref']})"),
           ("claim", "worktree", "codex", "gate", "publish"))
    if pull.get("state") != "open" or not pull.get("draft"):
        out.refuse(issue_refusal or f"not eligible: PR #{number} is not an open draft")
    elif not state["triggers"]:
        out.refuse(issue_refusal or "not eligible: no trusted feedback since the last round")
    elif not state["eligible"]:
        note = "" if state["stopped"] else " (the run would say so once on the PR)"
        out.refuse(f"not eligible: PR #{number} had its {policy['feedback']['maxRounds']} feedback round(s) "
                   f"(feedback.maxRounds){note}")
    else:
        verdict = _round_verdict(policy, issue)
        if verdict:
            out.refuse(f"not eligible: {verdict}")


def _round_verdict(policy, issue: dict) -> str | None:
    """Why the claim step refuses a round's issue (steps/claim._round_verdict), or None."""
    if issue.get("state") == "closed":
        return "closed"
    have = {n.lower() for n in _label_names(issue)}
    for key, why in (("manual", "manual: reserved for human work"), ("running", "running: a runner is working on it")):
        if policy.label(key).lower() in have:
            return why
    return None


def _resume(out: Plan, policy, tracker, issue: dict, saved: dict) -> None:
    from . import recovery
    from .github.claims import earliest_live, finished_runs, parse_claims
    from .steps.worktree import branch_name

    data = out.data
    data["run_id"] = saved["run_id"]
    tree = saved.get("worktree") or {}
    if tree.get("path"):
        data["worktree_path"] = tree["path"]
    claim_issue = saved["claim"]["issue"]
    branch = tree.get("branch") or (saved.get("round") or {}).get("branch") or branch_name(policy, claim_issue)
    comments = tracker.list_comments(issue["number"])
    who = logins(policy, tracker)
    winner = earliest_live(parse_claims(comments, who), finished=finished_runs(comments, who))
    steps = recovery.remaining_steps(saved)
    data["resume"] = {"run_id": saved["run_id"], "steps_done": saved["steps_done"],
                      "blocked": (saved.get("blocked") or {}).get("reason")}
    data["eligibility"] = {"eligible": True, "mode": claim_issue.get("mode"),
                           "reason": f"interrupted run {saved['run_id']} on this host holds the claim"}
    mode = "resume-round" if saved.get("round") else "resume"
    if saved.get("round"):
        data["pull"] = {"number": saved["round"]["pull"], "round": saved["round"]["n"]}
    base = _base(policy, tree.get("base_branch")) if tree else _base(policy)
    if tree.get("base_sha"):
        base["recorded_sha"] = tree["base_sha"]
    _where(out, policy, issue, mode, branch, base, steps, kind="tree" if claim_issue.get("mode") == "plan-auto"
           else "issue")
    if winner is not None and winner["run_id"] != saved["run_id"]:
        out.refuse(f"claimed by another runner (run {winner['run_id']}) while this run was down")


def text(data: dict) -> str:
    """The plan for a terminal."""
    issue = data["issue"]
    lines = [f"cxo-run --dry-run: issue #{issue['number']} {issue.get('title', '')}".rstrip()]
    if issue.get("labels") is not None:
        lines.append(f"  labels:      {', '.join(issue['labels']) or '(none)'}")
    verdict = data.get("eligibility")
    if verdict:
        lines.append(f"  eligibility: {'eligible' if verdict['eligible'] else 'not eligible'} ({verdict['reason']})")
    if data.get("mode"):
        lines.append(f"  mode:        {data['mode']}: {data['mode_text']}")
    if data.get("restart"):
        lines.append(f"  restart:     would release the claim of interrupted run {data['restart']['releases_run']}")
    if data.get("resume"):
        lines.append(f"  resumes:     run {data['resume']['run_id']} after "
                     f"{', '.join(data['resume']['steps_done']) or 'start'}")
    if data.get("continue_from"):
        lines.append(f"  continues:   run {data['continue_from']['run_id']} (kept work "
                     f"{(data['continue_from'].get('kept_sha') or '-')[:12]})")
    if data.get("pull"):
        pull = data["pull"]
        lines.append(f"  pull:        PR #{pull['number']} {pull.get('url', '')}, round {pull.get('round')}"
                     + (f": {pull['feedback']}" if pull.get("feedback") else ""))
    if data.get("steps"):
        lines.append(f"  steps:       {' -> '.join(data['steps'])}")
    if data.get("branch") is not None:
        lines.append(f"  branch:      {data['branch']}")
    base = data.get("base")
    if base:
        sha = base.get("recorded_sha") or base.get("last_fetched_sha")
        lines.append(f"  base:        fetches {base['branch']} from {base['fetch_url']} into {base['remote']}/"
                     f"{base['branch']} ({base['what']}; " + (f"last fetched {sha[:12]})" if sha
                                                               else "not fetched yet)"))
    local = data.get("local")
    if local:
        lines.append(f"  worktree:    {local['worktree']}" + (" (exists)" if local["worktree_exists"] else ""))
        lines.append(f"  run dir:     {local['run_dir']}")
    pol = data["policy"]
    lines.append(f"  policy:      {pol['path']}, read from {pol['read_from']}")
    lines.append(f"  gates:       {' -> '.join(pol['gates'])}")
    agent = data.get("agent")
    if agent:
        lines.append(f"  agent:       {' '.join(agent['command'])}")
        lines.append(f"               timeout {agent['timeout_seconds']}s, idle {agent['idle_timeout_seconds']}s, "
                     f"max tokens {agent['max_tokens'] or 'none'}"
                     + (f", env passthrough {', '.join(agent['env_passthrough'])}" if agent["env_passthrough"]
                        else ""))
    attempts = data.get("attempts")
    if attempts:
        agents = ", ".join(a["kind"] + (f" {a['model']}" if a.get("model") else "") for a in attempts["agents"])
        lines.append(f"  attempts:    best of {attempts['n']}, {attempts['concurrency']} at a time"
                     + (f", {attempts['max_tokens_each']:,} tokens each" if attempts["max_tokens_each"] else "")
                     + f": {agents}")
    lines.append(f"  sandbox:     {data['sandbox']['isolation']}: {data['sandbox']['status']}")
    net = data["network"]
    lines.append(f"  network:     {net['mode']}" + (f" ({', '.join(net['allow_hosts']) or 'no hosts'})"
                                                   if net["mode"] == "allowlist" else ""))
    for key in ("setup", "checks"):
        lines.append(f"  {key + ':':<12} (none)" if not data[key] else f"  {key}:")
        lines += [f"    {item['name']}: {item['command']}" + (f" (timeout {item['timeout_seconds']}s)"
                                                             if item.get("timeout_seconds") else "")
                  for item in data[key]]
    lines.append(f"  result:      {final_line(data)}")
    return "\n".join(lines) + "\n"


def final_line(data: dict) -> str:
    if data["refused"]:
        return f"would be refused: {data['refused']}"
    issue = data["issue"]["number"]
    return f"would run {data.get('mode')} on #{issue} on branch {data.get('branch')} (nothing was written)"

