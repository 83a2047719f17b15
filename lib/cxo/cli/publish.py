"""cxo-publish: the pipeline step that publishes a passed run, or reports a blocked one."""

from .step import step_main


def _work(env, *, policy, args, say):
    """An issue tree's parent (planned, not blocked) gets its integration PR; everything else the usual publish."""
    from .. import envelope

    if "plan" in env and not envelope.is_blocked(env):
        from ..connect import tracker_for
        from ..tree.run import publish_tree

        return publish_tree(env, policy, say, args, tracker_for(policy))
    from ..steps import publish

    return publish.run(env, policy=policy, args=args, say=say)


def main(argv=None) -> int:
    return step_main("publish", "The only step that writes to the remote. A passed envelope: commit what is "
                     "uncommitted as the runner, push the issue branch (never the base, never force), open or "
                     "update the draft PR with the review report, post the report comment, move agent:running to "
                     "agent:review (exit 0). A planned agent:plan-auto parent (after cxo-plan): when every child is "
                     "merged, the integration checks, one push and ONE integration draft PR. A blocked envelope: "
                     "post the blocked report and move agent:running to agent:blocked, nothing pushed (exit 3). "
                     "Running it twice changes nothing more.", argv, work=_work)
