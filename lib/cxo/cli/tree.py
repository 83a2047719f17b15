"""cxo-tree: read an issue tree's children back from GitHub and say which may start now."""

from .step import step_main


def _work(env, *, policy, args, say):
    from ..connect import tracker_for
    from ..tree.run import children_step

    return children_step(env, policy, say, args, tracker_for(policy))


def main(argv=None) -> int:
    return step_main("tree", "For a planned agent:plan-auto parent envelope (after cxo-plan): the children as GitHub "
                     "has them now, their states, what each waits on, and the issue numbers that may start now "
                     "(dependencies merged, a free slot, no overlapping ownership scope).", argv, work=_work)
