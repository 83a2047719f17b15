"""cxo-run: claim, worktree, agent, gates and publish for one issue, in one process."""

import sys

from .common import add_target, issue_arg, parser, progress, run, run_id_arg, seconds_arg


def main(argv=None) -> int:
    p = parser("cxo-run", "Run one issue end to end: cxo-claim | cxo-worktree | cxo-codex | cxo-gate | cxo-publish "
               "in one process. The envelope is saved after every step under the state dir "
               "(runs/<issue>/<run-id>/NN-<step>.json) and printed on stdout at the end.",
               epilog="exit 0: the issue reached agent:review (a round: its PR got the round report); exit 3: the run "
               "ended blocked or was not eligible (see the issue or PR comment)")
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
    args = p.parse_args(argv)

    def body():
        from .. import actions, envelope, policy, runner
        from ..errors import EXIT_BLOCKED, CxoError

        say = lambda m: progress("cxo-run", m)  # noqa: E731
        # One policy for the whole run: the run saves its state under this policy's state dir, and the summary
        # and outputs are read from there (the base branch fetched during the run may hold a newer policy).
        pol = policy.load(args.target)
        if args.pr:
            from ..rounds.run import run_pull

            env = run_pull(args.target, args.pr, args.run_id, args, say=say, policy=pol)
        else:
            env = runner.run_issue(args.target, args.issue, args.run_id, args, say=say, policy=pol)
        envelope.write(env, sys.stdout)
        progress("cxo-run", runner.summary(env))
        if actions.active():
            try:
                actions.publish(env, str(pol.state_dir))
            except (OSError, CxoError) as exc:  # the run's outcome stands; only GitHub's view of it is missing
                progress("cxo-run", f"warning: could not write the GitHub Actions summary or outputs: {exc}")
        return EXIT_BLOCKED if envelope.is_blocked(env) else 0

    return run("cxo-run", body)
