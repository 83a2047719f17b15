"""cxo-health: check git, the agent CLI, the token and its access, labels and the policy."""

import json
import sys

from .common import add_target, parser, run


def main(argv=None) -> int:
    p = parser("cxo-health", "Check git, the agent CLI, the policy, the token and its access to the repository, "
               "the labels and the state dir: one line per check.",
               epilog="exit 1 when any check fails")
    add_target(p)
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    args = p.parse_args(argv)

    def body():
        from ..health import run_checks

        checks = run_checks(args.target)
        if args.json:
            sys.stdout.write(json.dumps([c.to_json() for c in checks], indent=2) + "\n")
        else:
            for check in checks:
                sys.stdout.write(f"{check.status:<4} {check.name}: {check.detail}\n")
        return 1 if any(c.status == "FAIL" for c in checks) else 0

    return run("cxo-health", body)
