"""The shared `main` of the pipeline steps that read an envelope on stdin (worktree, codex, gate, publish)."""

import importlib
import sys

from .. import envelope
from ..errors import EXIT_BLOCKED
from .common import parser, progress, run


def step_main(step: str, description: str, argv=None, add_args=None, work=None) -> int:
    """`work(env, policy=, args=, say=)` does the step (default: cxo.steps.<step>.run)."""
    prog = f"cxo-{step}"
    p = parser(
        prog,
        description,
        epilog=(
            "reads the run envelope on stdin (or --input FILE), writes it with this step's section on stdout.\n"
            "A blocked envelope passes through untouched"
            + (" (cxo-publish turns it into the blocked outcome)." if step != "publish" else ".")
        ),
    )
    p.add_argument("--input", metavar="FILE", help="read the envelope from FILE instead of stdin")
    if add_args:
        add_args(p)
    args = p.parse_args(argv)

    def body():
        from .. import policy as policy_mod

        if args.input:
            env = envelope.read_file(args.input)
        else:
            env = envelope.read(sys.stdin, "stdin")
        if envelope.is_blocked(env) and step != "publish":
            progress(prog, f"envelope is blocked at {env['blocked']['step']}: passing it through")
            envelope.write(env)
            return 0
        pol = policy_mod.load(env["target"])
        # A feedback round's envelope (cxo-claim --pr) has its own worktree and publish (lib/cxo/rounds/).
        if env.get("round") and step in ("worktree", "publish"):
            do = importlib.import_module(f"cxo.rounds.{step}").run
        else:
            do = work or importlib.import_module(f"cxo.steps.{step}").run
        env = do(env, policy=pol, args=args, say=lambda msg: progress(prog, msg))
        envelope.write(env)
        if step == "publish" and envelope.is_blocked(env):
            return EXIT_BLOCKED
        return 0

    return run(prog, body)
