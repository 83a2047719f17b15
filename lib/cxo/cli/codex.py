"""cxo-codex: the pipeline step that runs the agent."""

from .common import seconds_arg
from .step import step_main


def _args(p):
    p.add_argument("--agent-timeout", type=seconds_arg, metavar="S", help="total agent time limit (default: policy)")
    p.add_argument("--idle-timeout", type=seconds_arg, metavar="S", help="limit on time without agent output")


def main(argv=None) -> int:
    return step_main("codex", "Build the prompt from the issue and the policy, run the agent (Codex CLI by default, "
                     "or the policy's codex.command) with an allow-listed environment and timeouts, and read its "
                     "completion report.", argv, _args)
