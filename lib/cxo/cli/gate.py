"""cxo-gate: the pipeline's gate step, or one gate alone on any git range (for other CI systems)."""

import sys

from .common import issue_arg, parser, progress, run
from .step import step_main

GATES = ("safety", "report", "checks", "tdd", "review", "cleanup", "visual")


def single(argv) -> int:
    name = argv[0]
    prog = f"cxo-gate {name}"
    p = parser(prog, f"Run the {name} gate alone on a git range and print its verdict (JSON by default).",
               epilog="exit status for a verdict: 0 pass or skip, 1 fail. --format github prints workflow-command "
                      "annotations and a markdown summary (to $GITHUB_STEP_SUMMARY when set); junit writes JUnit "
                      "XML; sarif writes SARIF 2.1.0")
    p.add_argument("--worktree", required=True, help="the git working tree to check")
    p.add_argument("--base", required=True, help="the base revision of the change")
    p.add_argument("--head", help="the head revision (default: the working tree, uncommitted changes included)")
    p.add_argument("--report", help="a completion report JSON file")
    p.add_argument("--target", help="where the policy lives (default: the worktree)")
    p.add_argument("--issue-number", type=issue_arg)
    p.add_argument("--labels", default="", help="comma-separated issue labels")
    p.add_argument("--run-dir", help="where logs go (default: a temporary directory)")
    p.add_argument("--format", default="json", choices=("json", "github", "junit", "sarif"),
                   help="how to print the verdict (default: json)")
    args = p.parse_args(argv[1:])

    def body():
        import contextlib
        import tempfile
        from pathlib import Path

        from .. import gates, jsonin
        from .. import policy as policy_mod
        from ..errors import InputError, UsageError
        from ..gates.base import GateContext, run_one
        from ..gitutil import collect_changes, is_repo

        gate = gates.load(name)
        if gate is None:
            raise UsageError(f"gate '{name}' is not available in this version: choose one of "
                             f"{', '.join(gates.names())}")
        worktree = Path(args.worktree).resolve()
        if not worktree.is_dir() or not is_repo(worktree):
            raise UsageError(f"--worktree {args.worktree}: not a git working tree: give the checkout to check")
        pol = policy_mod.load(args.target or worktree, infer_repo=False)
        report = None
        if args.report:
            try:
                report = jsonin.loads(jsonin.read_text(args.report, f"--report {args.report}"))
            except jsonin.BadJson as exc:
                raise InputError(f"--report {args.report}: not usable JSON ({exc}): give the completion report "
                                 "file") from None
        base = revision(worktree, "--base", args.base)
        head = revision(worktree, "--head", args.head) if args.head else None
        changes = collect_changes(worktree, base, head or "HEAD")
        issue = None
        if args.issue_number:
            issue = {"number": args.issue_number, "title": "", "labels": [x for x in args.labels.split(",") if x]}
        with contextlib.ExitStack() as stack:
            if args.run_dir:
                run_dir = Path(args.run_dir)
            else:  # logs live as long as the gate: give --run-dir to keep them
                run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cxo-gate-")))
            ctx = GateContext(worktree=worktree, base=base, head=head, policy=pol, changes=changes,
                              run_dir=run_dir, report=report, issue=issue, say=lambda m: progress(prog, m))
            result = run_one(gate, ctx)
            if not args.run_dir:
                result["logs"] = []
        emit(args.format, [result])
        return 1 if result["verdict"] == "fail" else 0

    return run(prog, body)


def emit(fmt: str, verdicts: list[dict]) -> None:
    """Print the verdicts in `fmt`; GitHub's markdown summary goes to $GITHUB_STEP_SUMMARY when it is set."""
    import os

    from ..gates import formats

    sys.stdout.write(formats.render(fmt, verdicts))
    if fmt == "github":
        summary = formats.markdown_summary(verdicts)
        path = os.environ.get("GITHUB_STEP_SUMMARY")
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(summary)
        else:
            sys.stdout.write(summary)


def revision(worktree, option: str, rev: str) -> str:
    """The commit `rev` names in `worktree`, or a usage error naming it (and the shallow-clone cure)."""
    from ..errors import UsageError
    from ..gitutil import git

    sha = "" if rev.startswith("-") else git(worktree, "rev-parse", "--verify", "--quiet", "--end-of-options",
                                            rev + "^{commit}", retcode=None).strip()
    if sha:
        return sha
    shallow = git(worktree, "rev-parse", "--is-shallow-repository", retcode=None).strip() == "true"
    cure = ("this clone is shallow: fetch the full history (actions/checkout with fetch-depth: 0, or "
            "git fetch --unshallow)" if shallow else
            "give a branch, tag or commit of this repository (fetch it first, e.g. fetch-depth: 0 in CI)")
    raise UsageError(f"{option} {rev!r} does not name a commit in {worktree}: {cure}")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--list":
        print("\n".join(GATES))
        return 0
    if argv and not argv[0].startswith("-"):
        return single(argv)
    return step_main("gate", "Collect the full change set (local commits, staged, unstaged, untracked) and run the "
                     "policy's gates. `cxo-gate NAME --worktree DIR --base REV [--head REV]` runs one gate alone "
                     f"on any git range ({', '.join(GATES)}); `cxo-gate --list` names them.", argv)
