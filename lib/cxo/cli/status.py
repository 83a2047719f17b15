"""cxo-status: eligible and skipped issues with reasons, and local run state. Never writes to GitHub."""

import json
import sys

from .common import add_target, parser, run


def main(argv=None) -> int:
    p = parser("cxo-status", "List the open issues that carry a runner label as eligible or skipped (with the "
               "reason), and the local run state and worktrees. Read-only.")
    add_target(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--dry-run", action="store_true", help="accepted for seed compatibility: status never writes")
    args = p.parse_args(argv)

    def body():
        from .. import policy as policy_mod
        from .. import status

        result = status.collect(policy_mod.load(args.target))
        sys.stdout.write(json.dumps(result, indent=2) + "\n" if args.json else status.table(result))

    return run("cxo-status", body)
