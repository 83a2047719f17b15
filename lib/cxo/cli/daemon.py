"""cxo-daemon: poll for eligible agent:auto issues and run them one at a time."""

from .common import add_target, concurrency_arg, count_arg, parser, progress, run, seconds_arg


def main(argv=None) -> int:
    p = parser("cxo-daemon", "Poll GitHub for eligible agent:auto issues (oldest first) and run each with cxo-run, "
               "one at a time. Unchanged queues cost no rate limit (conditional requests). After every cycle, "
               "remove runner-owned worktrees whose PR was merged and that have no local changes.",
               epilog="SIGINT/SIGTERM: stop polling, let the current run end blocked (interrupted), exit 130")
    add_target(p)
    p.add_argument("--once", action="store_true", help="one polling cycle, then exit")
    p.add_argument("--interval-seconds", type=seconds_arg, help="seconds between cycles (default: policy daemon)")
    p.add_argument("--concurrency", type=concurrency_arg, default=1, help="issues run at once (default 1)")
    p.add_argument("--max-runs", type=count_arg, help="exit after this many runs (default: policy daemon.maxRuns)")
    args = p.parse_args(argv)

    def body():
        from .. import policy as policy_mod
        from ..connect import tracker_for
        from ..daemon import Daemon

        pol = policy_mod.load(args.target)
        daemon = Daemon(pol, tracker_for(pol), say=lambda m: progress("cxo-daemon", m),
                        concurrency=args.concurrency)
        interval = args.interval_seconds or pol["daemon"]["intervalSeconds"]
        max_runs = args.max_runs if args.max_runs is not None else pol["daemon"]["maxRuns"]
        return daemon.serve(args.once, interval, max_runs)

    return run("cxo-daemon", body)
