"""cxo-worktree: the pipeline step that creates the issue's branch and worktree."""

from .step import step_main


def main(argv=None) -> int:
    return step_main("worktree", "Fetch the base branch, create the issue branch and an isolated git worktree "
                     "from the fetched base SHA (a clean existing worktree on that branch is reused).", argv)
