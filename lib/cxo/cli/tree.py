"""cxo-tree: read an issue tree's children back from GitHub and say which may start now; with `--parent N --step`,
run one tree step of the fan-out (plan, merge finished children, integrate) with every state on GitHub."""

import sys

from .step import step_main


def _work(env, *, policy, args, say):
    from ..connect import tracker_for
    from ..tree.run import children_step

    return children_step(env, policy, say, args, tracker_for(policy))


def _step(argv) -> int:
    from .common import add_target, issue_arg, parser, progress, run

    p = parser("cxo-tree --step", "One step of an agent:plan-auto tree on a fresh clone (GitHub Actions): claim the "
               "parent; plan it if GitHub has no plan yet and push the integration branch; merge every child whose "
               "branch its child job pushed; then open the one integration draft PR when every child is merged, "
               "or print the children that may start now. The parent's claim is released at the end.",
               epilog="stdout: {\"parent\", \"status\": planned|awaiting|running|integrated|blocked, "
                      "\"startable\": [numbers], \"children\": [...]}; in GitHub Actions also the step outputs "
                      "`children` (a JSON list) and `status` (awaiting: its plan waits for approval, "
                      "planning.requireApproval). "
                      "exit 3: the parent ended blocked")
    add_target(p)
    p.add_argument("--parent", type=issue_arg, required=True, help="the agent:plan-auto parent issue")
    p.add_argument("--step", action="store_true", required=True, help="run one tree step (required with --parent)")
    p.add_argument("--replan", action="store_true", help="ask for a new plan; children are updated by Stable ID")
    args = p.parse_args(argv)

    def body():
        import json

        from .. import actions, runner
        from ..errors import EXIT_BLOCKED

        result = runner.run_tree_step(args.target, args.parent, args, say=lambda m: progress("cxo-tree", m))
        print(json.dumps(result, indent=1))
        actions.publish_tree_step(result)
        return EXIT_BLOCKED if result["status"] == "blocked" else 0

    return run("cxo-tree", body)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--parent" in argv or any(a.startswith("--parent=") for a in argv):
        return _step(argv)
    return step_main("tree", "For a planned agent:plan-auto parent envelope (after cxo-plan): the children as GitHub "
                     "has them now, their states, what each waits on, and the issue numbers that may start now "
                     "(dependencies merged, a free slot, no overlapping ownership scope). With --parent N --step: "
                     "one step of the tree fan-out (see cxo-tree --parent N --step --help).", argv, work=_work)
