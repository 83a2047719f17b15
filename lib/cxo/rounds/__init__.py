"""Feedback rounds: a trusted reviewer's feedback on a cxo draft PR sent back to the agent, on the same branch
and the same PR (issue 12).

The round is the ordinary pipeline with a `round` section in the envelope: the same claim on the issue, a
worktree at the PR head as fetched from the remote (`worktree`), the agent with the feedback items in its
prompt, the full gate chain against the PR's base, and a publish of its own (`publish`: a fast-forward push,
replies on the inline comments, one round report on the PR, the issue back to review). `run` composes them;
`start` finds the feedback (lib/cxo/github/feedback.py decides eligibility) and builds the envelope.
"""
