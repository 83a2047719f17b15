"""cxo-claim: start a run envelope for one issue and claim the issue."""

import sys

from .common import add_target, issue_arg, parser, progress, run, run_id_arg


def main(argv=None) -> int:
    p = parser("cxo-claim", "Re-read an issue, refuse it unless its labels allow autonomous work, and claim it "
               "(agent:running + a claim comment). Writes the run envelope on stdout.",
               epilog="An ineligible issue gives a blocked envelope and writes nothing to GitHub.")
    add_target(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--issue", type=issue_arg, help="the issue number")
    which.add_argument("--pr", type=issue_arg, metavar="N",
                       help="start a feedback round on cxo's draft PR N: claims its issue; the envelope carries the "
                            "round (chain it into cxo-worktree | cxo-codex | cxo-gate | cxo-publish)")
    p.add_argument("--run-id", type=run_id_arg, help="use this run id, YYYYMMDDTHHMMSSZ-xxxxxx (default: a new one)")
    p.add_argument("--tree-parent", type=issue_arg, metavar="P",
                   help="claim a child of the issue tree P (planned with cxo-plan): its worktree will start from "
                        "P's integration branch")
    args = p.parse_args(argv)

    def body():
        from .. import envelope
        from .. import policy as policy_mod
        from ..steps import claim

        pol = policy_mod.load(args.target)
        say = lambda m: progress("cxo-claim", m)  # noqa: E731
        if args.pr:
            from ..connect import tracker_for
            from ..rounds.run import cxo_pull, round_envelope

            tracker = tracker_for(pol)
            pull, issue, logins = cxo_pull(pol, tracker, args.pr)
            env = round_envelope(pol, tracker, pull, issue, logins, args.run_id, say)
            if not envelope.is_blocked(env):
                env = claim.run(env, policy=pol, say=say, tracker=tracker)
            envelope.write(env, sys.stdout)
            return
        env = envelope.new(pol.target, args.issue, args.run_id)
        if args.tree_parent:
            from ..tree.run import child_section

            env["tree"] = child_section(pol, args.tree_parent, args.issue)
        env = claim.run(env, policy=pol, say=say)
        envelope.write(env, sys.stdout)

    return run("cxo-claim", body)
