"""cxo-plan: plan an agent:plan-auto parent and create or update its child issues."""

from .step import step_main


def _work(env, *, policy, args, say):
    from .. import envelope
    from ..connect import tracker_for
    from ..tree.run import plan_approved

    envelope.require(env, "plan", "claim", "worktree")
    # With planning.requireApproval the plan is posted and waits (blocked: "plan awaits approval"); an approved
    # one becomes the children without planning again.
    return plan_approved(env, policy, say, args, tracker_for(policy))


def main(argv=None) -> int:
    return step_main("plan", "Planning run of an agent:plan-auto parent (after cxo-claim | cxo-worktree): the agent, "
                     "read-only, writes a plan report (schema/plan-report.schema.json); a valid plan becomes child "
                     "issues (marker, labels, sub-issues, blocked-by links), updated by Stable ID, never duplicated. "
                     "With planning.requireApproval the plan is posted on the parent and waits for a trusted "
                     "approval.",
                     argv, work=_work)
