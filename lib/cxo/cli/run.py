"""cxo-run: claim, worktree, agent, gates and publish for one issue, in one process."""

import json
import sys

from .common import add_target, issue_arg, parser, progress, run, run_id_arg, seconds_arg


def main(argv=None) -> int:
    p = parser("cxo-run", "Run one issue end to end: cxo-claim | cxo-worktree | cxo-codex | cxo-gate | cxo-publish "
               "in one process. The envelope is saved after every step under the state dir "
               "(runs/<issue>/<run-id>/NN-<step>.json) and printed on stdout at the end.",
               epilog="exit 0: the issue reached agent:review (a round: its PR got the round report)\n"
               "exit 3: the run ended blocked or was not eligible (see the issue or PR comment); a blocked run\n"
               "        whose agent ran names the agent's local log last on stderr (agent log: PATH)\n"
               "--dry-run: exit 0 when the run would start, 3 when it would be refused (the reason is the last\n"
               "        line), 2 for bad input; nothing is written to GitHub or under the state dir")
    add_target(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--issue", type=issue_arg, help="the issue number (an issue in review whose draft PR has "
                       "trusted feedback waiting runs that PR's feedback round)")
    which.add_argument("--pr", type=issue_arg, metavar="N",
                       help="run one feedback round on cxo's draft PR N (trusted review feedback since the last "
                            "round), or say once on the PR that it had its feedback.maxRounds")
    p.add_argument("--run-id", type=run_id_arg, help="use this run id, YYYYMMDDTHHMMSSZ-xxxxxx (default: a new one)")
    p.add_argument("--agent-timeout", type=seconds_arg, metavar="S", help="total agent time limit (default: policy)")
    p.add_argument("--replan", action="store_true",
                   help="agent:plan-auto parents: ask for a new plan; children are updated by Stable ID, never "
                        "duplicated")
    p.add_argument("--tree-parent", type=issue_arg, metavar="P",
                   help="run a child of the issue tree P as one job of its fan-out (GitHub Actions): start from P's "
                        "integration branch on the remote, push the child branch; `cxo-tree --parent P --step` "
                        "merges it")
    p.add_argument("--restart", action="store_true",
                   help="start a fresh run even when an interrupted run of this issue could be resumed")
    p.add_argument("--continue", dest="continue_run", action="store_true",
                   help="continue the issue's run that stopped at the token budget (codex.maxTokens): same worktree "
                        "and branch, the kept work as the starting point; allowed while the issue is agent:blocked "
                        "by that stop")
    p.add_argument("--idle-timeout", type=seconds_arg, metavar="S", help="limit on time without agent output")
    p.add_argument("--attempts", type=attempts_arg, metavar="N",
                   help="best of N: N independent attempts (own worktree, agent run and gates each), the best one "
                        "that passed every gate published; overrides agent.attempts (default: the policy's, 1)")
    p.add_argument("--dry-run", action="store_true",
                   help="show what the run would do and write nothing (GET requests only; no worktree, lock or "
                        "run directory): the issue's eligibility (cxo-status's rules), the mode (auto issue, "
                        "plan-auto tree, tree child, feedback round on its PR, resume of an interrupted local run, "
                        "--continue), branch, base to fetch, policy source and gate order, agent command, "
                        "sandbox, network and allowlist, setup steps and checks")
    p.add_argument("--json", dest="as_json", action="store_true",
                   help="print one JSON object on stdout instead of the envelope: the run's summary (status, "
                        "issue, blocked step and reason, PR url, labels, run id, local paths), or with --dry-run "
                        "the plan; progress stays on stderr")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress on stderr: only errors and the final line (none with --json)")
    args = p.parse_args(argv)

    def body():
        from .. import actions, envelope, policy, runner
        from ..errors import EXIT_BLOCKED, CxoError

        def say(message: str) -> None:
            if not args.quiet:
                progress("cxo-run", message)

        def final(message: str) -> None:  # the last line(s): kept by --quiet, not by --quiet --json
            if not (args.quiet and args.as_json):
                progress("cxo-run", message)

        # One policy for the whole run: the run saves its state under this policy's state dir, and the summary
        # and outputs are read from there (the base branch fetched during the run may hold a newer policy).
        pol = policy.load(args.target)
        if args.dry_run:
            from .. import dryrun

            plan = dryrun.plan(args.target, args, pol)
            sys.stdout.write(json.dumps(plan, indent=2) + "\n" if args.as_json else dryrun.text(plan))
            sys.stdout.flush()
            final(dryrun.final_line(plan))
            return EXIT_BLOCKED if plan["refused"] else 0
        if args.pr:
            from ..rounds.run import run_pull

            env = run_pull(args.target, args.pr, args.run_id, args, say=say, policy=pol)
        else:
            env = runner.run_issue(args.target, args.issue, args.run_id, args, say=say, policy=pol)
        if args.as_json:
            sys.stdout.write(json.dumps(summary_object(env, pol), indent=2) + "\n")
            sys.stdout.flush()
        else:
            envelope.write(env, sys.stdout)
        final(runner.summary(env))
        log = agent_log(env)
        if log:
            final(f"agent log: {log}")
        if actions.active():
            try:
                actions.publish(env, str(pol.state_dir))
            except (OSError, CxoError) as exc:  # the run's outcome stands; only GitHub's view of it is missing
                progress("cxo-run", f"warning: could not write the GitHub Actions summary or outputs: {exc}")
        return EXIT_BLOCKED if envelope.is_blocked(env) else 0

    return run("cxo-run", body)


def attempts_arg(value: str):
    """--attempts: 1 to 20, ASCII digits."""
    import argparse

    text = value.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text[:3]) <= 20 or len(text) > 3:
        raise argparse.ArgumentTypeError(f"{value[:20]!r} is not a number of attempts (1 to 20)")
    return int(text)


def agent_log(env: dict) -> str | None:
    """The agent's local log of a blocked run whose agent ran (never published: the terminal is where it shows)."""
    if env.get("status") != "blocked":
        return None
    details = (env.get("blocked") or {}).get("details") or {}
    return (env.get("codex") or {}).get("log_path") or details.get("log_path") or None


def summary_object(env: dict, pol) -> dict:
    """`--json`: the final envelope's summary as one object."""
    from pathlib import Path

    from ..runner import summary

    publish = env.get("publish") or {}
    pull = publish.get("pull_request") or {}
    blocked = env.get("blocked") or {}
    details = blocked.get("details") or {}
    claim = env.get("claim") or {}
    labels = publish.get("labels") or details.get("labels") or (claim.get("issue") or {}).get("labels") or []
    run_dir = Path(pol.state_dir) / "runs" / str(env["issue"]["number"]) / env["run_id"]
    worktree = env.get("worktree") or {}
    rnd = env.get("round")
    return {
        "status": env["status"], "summary": summary(env),
        "issue": env["issue"]["number"], "title": env["issue"].get("title") or (claim.get("issue") or {}).get("title"),
        "run_id": env["run_id"],
        "blocked": {"step": blocked.get("step"), "reason": blocked.get("reason")} if blocked else None,
        "pr_url": pull.get("html_url") or pull.get("url") or None, "pr_number": pull.get("number"),
        "outcome": publish.get("outcome"), "labels": list(labels), "branch": worktree.get("branch"),
        "round": {"pull": rnd.get("pull"), "n": rnd.get("n")} if rnd else None,
        "paths": {"run_dir": str(run_dir) if run_dir.is_dir() else None, "worktree": worktree.get("path"),
                  "agent_log": (env.get("codex") or {}).get("log_path") or details.get("log_path")},
    }
