"""cxo-metrics: how cxo did in operation (issues run, PRs opened and merged, time to merge, feedback rounds,
merges without human commits, blocked reasons, tokens and cost per merged PR), per week, from GitHub alone.
Never writes to GitHub."""

import argparse
import json
import re
import sys
from datetime import timedelta

from .common import add_target, parser, run

SINCE = re.compile(r"^(\d{1,4})([dwh])$")


def since_delta(text: str) -> timedelta:
    """--since: a number and d, w or h."""
    match = SINCE.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"--since {text[:40]!r} is not a period: use a number and d, w or h "
                                         "(e.g. 30d, 4w, 12h)")
    amount, unit = int(match.group(1)), match.group(2)
    return {"d": timedelta(days=amount), "w": timedelta(weeks=amount), "h": timedelta(hours=amount)}[unit]


def main(argv=None) -> int:
    p = parser("cxo-metrics", "Show how cxo did in operation, per ISO week, read from GitHub alone (the runners' "
               "claim, report, round and usage markers): issues run, draft PRs opened and merged, time to merge, "
               "feedback rounds per PR, share merged without human commits, blocked reasons, tokens and cost per "
               "merged PR. Read-only.")
    add_target(p)
    p.add_argument("--since", default=since_delta("30d"), type=since_delta, metavar="PERIOD",
                   help="how far back: a number and d (days), w (weeks) or h (hours); default 30d")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args(argv)

    def body():
        from .. import policy as policy_mod
        from ..connect import tracker_for
        from ..measure import clock, metrics

        delta = args.since
        policy = policy_mod.load(args.target)
        until = clock.now()
        result = metrics.collect(policy, tracker_for(policy), until - delta, until)
        sys.stdout.write(json.dumps(result, indent=2) + "\n" if args.json else metrics.table(result) + "\n")

    return run("cxo-metrics", body)
