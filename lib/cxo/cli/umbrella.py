"""codex-orchestrator: the seed's umbrella CLI, delegating to the cxo-* executables."""

import importlib
import sys

from .. import __version__

COMMANDS = {
    "setup": ("cxo.cli.setup", "write .codex-orchestrator/ policy and prompts; --prepare-labels, --dry-run"),
    "status": ("cxo.cli.status", "eligible and skipped issues with reasons (read-only)"),
    "run": ("cxo.cli.run", "run one issue end to end: --issue N"),
    "daemon": ("cxo.cli.daemon", "poll for eligible issues and run them one at a time"),
    "health": ("cxo.cli.health", "check git, the agent CLI, token, API access, labels and policy"),
}
USAGE = "usage: codex-orchestrator [--help] [--version] {" + ",".join(COMMANDS) + "} [options]"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE + "\n\nReusable GitHub Issues runner for coding agents (cxo).\n\ncommands:")
        for name, (_, text) in COMMANDS.items():
            print(f"  {name:<8} {text}")
        print("\nRun `codex-orchestrator COMMAND --help` for a command's options.")
        return 0
    if argv[0] in ("-V", "--version", "version"):
        print(f"codex-orchestrator (cxo) {__version__}")
        return 0
    if argv[0] not in COMMANDS:
        print(f"codex-orchestrator: error: unknown command '{argv[0]}': choose one of {', '.join(COMMANDS)}",
              file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])
