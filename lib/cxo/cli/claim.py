"""cxo-claim: start a run envelope for one issue and claim the issue."""

import sys

from .common import add_target, issue_arg, parser, progress, run, run_id_arg


def main(argv=None) -> int:
    p = parser("cxo-claim", "Re-read an issue, refuse it unless its labels allow autonomous work, and claim it "
               "(agent:running + a claim comment). Writes the run envelope on stdout.",
               epilog="An ineligible issue gives a blocked envelope and writes nothing to GitHub.")
    add_target(p)
    p.add_argument("--issue", type=issue_arg, required=True, help="the issue number")
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
        env = envelope.new(pol.target, args.issue, args.run_id)
        if args.tree_parent:
            from ..tree.run import child_section

            env["tree"] = child_section(pol, args.tree_parent, args.issue)
        env = claim.run(env, policy=pol, say=lambda m: progress("cxo-claim", m))
        envelope.write(env, sys.stdout)

    return run("cxo-claim", body)
