"""cxo-proof: the built-in visual proof command (dev server + screenshots in headless Chromium)."""

import sys

from .common import parser, run, seconds_arg


def main(argv=None) -> int:
    p = parser("cxo-proof", "Start the dev server, wait until it answers, and take a screenshot of each URL with "
               "Playwright driving Debian's Chromium (/usr/bin/chromium or $CXO_CHROMIUM). Prints the files as JSON.",
               epilog="With no --out, screenshots go to $CODEX_ORCHESTRATOR_PROOF_DIR (set by the visual gate).")
    p.add_argument("--worktree", default=".", help="where the dev server runs")
    p.add_argument("--out", help="screenshot directory (default: $CODEX_ORCHESTRATOR_PROOF_DIR)")
    p.add_argument("--url", action="append", required=True, help="a page to screenshot (repeatable)")
    p.add_argument("--server", help="the dev server command, e.g. 'npm run dev'")
    p.add_argument("--ready-url", help="the URL that answers once the server is up (default: the first --url)")
    p.add_argument("--timeout", type=seconds_arg, default=60, help="seconds to wait for the server")
    args = p.parse_args(argv)

    def body():
        import os
        from pathlib import Path

        from .. import proof
        from ..errors import UsageError

        out = args.out or os.environ.get("CODEX_ORCHESTRATOR_PROOF_DIR")
        if not out:
            raise UsageError("--out is not given and CODEX_ORCHESTRATOR_PROOF_DIR is not set: say where "
                             "screenshots go")
        profile = os.environ.get("CODEX_ORCHESTRATOR_PLAYWRIGHT_PROFILE_DIR")
        shots = proof.run(Path(args.worktree), Path(out), args.url, args.server, args.ready_url, args.timeout,
                          Path(profile) if profile else None)
        sys.stdout.write(proof.main_json(shots) + "\n")

    return run("cxo-proof", body)
