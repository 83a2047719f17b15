"""cxo-run: claim, worktree, agent, gates and publish for one issue, in one process."""

import sys

from .common import add_target, issue_arg, parser, progress, run, run_id_arg, seconds_arg


def main(argv=None) -> int:
    p = parser("cxo-run", "Run one issue end to end: cxo-claim | cxo-worktree | cxo-codex | cxo-gate | cxo-publish "
               "in one process. The envelope is saved after every step under the state dir "
               "(runs/<issue>/<run-id>/NN-<step>.json) and printed on stdout at the end.",
               epilog="exit 0: the issue reached agent:review; exit 3: the run ended blocked (see the issue comment)")
    add_target(p)
    p.add_argument("--issue", type=issue_arg, required=True, help="the issue number")
    p.add_argument("--run-id", type=run_id_arg, help="use this run id, YYYYMMDDTHHMMSSZ-xxxxxx (default: a new one)")
    p.add_argument("--agent-timeout", type=seconds_arg, metavar="S", help="total agent time limit (default: policy)")
    p.add_argument("--replan", action="store_true",
                   help="agent:plan-auto parents: ask for a new plan; children are updated by Stable ID, never "
                        "duplicated")
    p.add_argument("--restart", action="store_true",
                   help="start a fresh run even when an interrupted run of this issue could be resumed")
    p.add_argument("--idle-timeout", type=seconds_arg, metavar="S", help="limit on time without agent output")
    args = p.parse_args(argv)

    def body():
        from .. import actions, envelope, policy, runner
        from ..errors import EXIT_BLOCKED, CxoError

        # One policy for the whole run: the run saves its state under this policy's state dir, and the summary
        # and outputs are read from there (the base branch fetched during the run may hold a newer policy).
        pol = policy.load(args.target)
        env = runner.run_issue(args.target, args.issue, args.run_id, args, say=lambda m: progress("cxo-run", m),
                               policy=pol)
        envelope.write(env, sys.stdout)
        progress("cxo-run", runner.summary(env))
        if actions.active():
            try:
                actions.publish(env, str(pol.state_dir))
            except (OSError, CxoError) as exc:  # the run's outcome stands; only GitHub's view of it is missing
                progress("cxo-run", f"warning: could not write the GitHub Actions summary or outputs: {exc}")
        return EXIT_BLOCKED if envelope.is_blocked(env) else 0

    return run("cxo-run", body)
