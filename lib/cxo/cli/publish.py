"""cxo-publish: the pipeline step that publishes a passed run, or reports a blocked one."""

from .step import step_main


def main(argv=None) -> int:
    return step_main("publish", "The only step that writes to the remote. A passed envelope: commit what is "
                     "uncommitted as the runner, push the issue branch (never the base, never force), open or "
                     "update the draft PR with the review report, post the report comment, move agent:running to "
                     "agent:review (exit 0). A blocked envelope: post the blocked report and move agent:running "
                     "to agent:blocked, nothing pushed (exit 3). Running it twice changes nothing more.", argv)
