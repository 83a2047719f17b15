"""cxo-eval: is cxo worth it on this repository? Its solved issues as tasks, run through the pipeline, scored."""

import json
import sys
from pathlib import Path

from .common import EXIT_CODES_HELP, add_target, concurrency_arg, count_arg, parser, progress, run

EPILOG = """commands:
  build    the repository's closed issues that a merged PR with a test change fixed, as SWE-bench tasks
           (JSON lines on --out); FAIL_TO_PASS / PASS_TO_PASS found by running the tests (sandboxed)
  run      every task through the real pipeline on an embedded hub, then its hidden tests; results in
           OUT/tasks/<instance_id>.json, OUT/summary.json, OUT/report.md, OUT/report.html; resumable
  compare  two `run` directories of the same tasks: resolve-rate difference (McNemar's exact test), the
           tasks that changed outcome, tokens, cost and time side by side

stdout: build prints {"tasks", "out", "instances"}, run prints the summary (schema/eval-summary.schema.json),
compare prints text (or JSON with --json); progress goes to stderr.

examples:
  cxo-eval build --target . --out tasks.jsonl --since 2025-01-01 --limit 30
  cxo-eval run --tasks tasks.jsonl --out eval-a --policy eval-policy.yaml --jobs 2
  cxo-eval compare eval-a eval-b"""


def _date(value: str) -> str:
    import argparse
    from datetime import date

    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2025-01-31") from None
    return f"{day.isoformat()}T00:00:00Z"  # GitHub's `since` is a timestamp; closed_at compares as text with it


def _overlay(path: str | None) -> dict:
    """The --policy file's settings, checked like a repository policy (one line and exit 2 when bad)."""
    if not path:
        return {}
    from ..errors import InputError
    from ..policy import parse_policy_text

    file = Path(path)
    if not file.is_file():
        raise InputError(f"--policy {path}: no such file: give a policy YAML (the keys of "
                         ".codex-orchestrator/config.yaml) or leave --policy out")
    return parse_policy_text(file.read_text(errors="replace"), str(file))


def main(argv=None) -> int:
    p = parser("cxo-eval", __doc__.splitlines()[0], EPILOG)
    sub = p.add_subparsers(dest="command", required=True, metavar="{build,run,compare}")
    import argparse

    def command(name: str, text: str):
        return sub.add_parser(name, help=text, description=text, epilog=EXIT_CODES_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    b = command("build", "solved issues as tasks (JSON lines)")
    add_target(b)
    b.add_argument("--out", required=True, help="the tasks file to write (JSON lines)")
    b.add_argument("--since", type=_date, help="only issues closed on or after this date (YYYY-MM-DD)")
    b.add_argument("--label", action="append", default=[], help="only issues with this label (repeatable)")
    b.add_argument("--limit", type=count_arg, help="at most N tasks, the most recently closed")
    r = command("run", "run the tasks through the pipeline and score them")
    r.add_argument("--tasks", required=True, help="tasks file (JSON lines: SWE-bench instances plus repo_path)")
    r.add_argument("--out", required=True, help="the result directory (resumes what is in it)")
    r.add_argument("--policy", help="a policy YAML laid over each task's own (agent command, checks, prices)")
    r.add_argument("--jobs", type=concurrency_arg, default=1, help="tasks at a time (default 1)")
    r.add_argument("--limit", type=count_arg, help="only the first K tasks")
    c = command("compare", "two result directories side by side")
    c.add_argument("a", help="the first `cxo-eval run` directory")
    c.add_argument("b", help="the second one")
    c.add_argument("--json", action="store_true", help="print the comparison as JSON")
    args = p.parse_args(argv)

    def say(message: str) -> None:
        progress("cxo-eval", message)

    def body():
        if args.command == "build":
            from .. import policy as policy_mod
            from ..evaluate import build, tasks

            policy = policy_mod.load(args.target)
            found = build.build(policy, say, since=args.since, labels=args.label, limit=args.limit)
            tasks.write(Path(args.out), found)
            say(f"{len(found)} task(s) written to {args.out}")
            print(json.dumps({"tasks": len(found), "out": args.out,
                              "instances": [t["instance_id"] for t in found]}))
        elif args.command == "run":
            from ..evaluate import run as run_mod
            from ..evaluate import summary, tasks

            overlay = _overlay(args.policy)
            found = tasks.load(Path(args.tasks))[: args.limit]
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            say(f"{len(found)} task(s), {args.jobs} at a time; results in {out}")
            results = run_mod.run_tasks(found, out.resolve(), overlay, args.jobs, say)
            written = summary.write(out, results, run_mod.prices(overlay))
            say(f"resolved {written['resolved']} of {written['tasks']} ({written['resolve_rate']:.1%}); "
                f"report: {out / 'report.html'}")
            print(json.dumps(written))
        else:
            from ..evaluate import compare

            report = compare.compare(Path(args.a), Path(args.b))
            print(json.dumps(report, indent=1) if args.json else compare.text(report))

    return run("cxo-eval", body)


if __name__ == "__main__":
    sys.exit(main())
