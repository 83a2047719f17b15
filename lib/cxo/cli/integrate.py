"""cxo-integrate: merge one gated child of an issue tree into its parent's integration branch."""

from .step import step_main


def _work(env, *, policy, args, say):
    from ..connect import tracker_for
    from ..tree.execute import integrate_child

    return integrate_child(env, policy, say, args, tracker_for(policy))


def main(argv=None) -> int:
    return step_main("integrate", "For a child's envelope after cxo-gate (claimed inside its parent's tree run): "
                     "commit the checked change as the runner and merge it into the integration branch; a merge "
                     "conflict blocks the child, naming the files. The child moves to agent:review.", argv, work=_work)
