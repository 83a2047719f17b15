"""cxo-worktrees: what cxo keeps on this machine (work trees, earlier attempts), listed, discarded or pruned."""

import json
import sys

from .common import add_target, issue_arg, parser, run


def _human(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} B"


def _age(seconds: int) -> str:
    return f"{seconds // 86400}d" if seconds >= 86400 else f"{seconds // 3600}h" if seconds >= 3600 else \
        f"{seconds // 60}m"


def table(found: dict) -> str:
    lines = []
    for tree in found["worktrees"]:
        state = "clean" if tree["clean"] else "uncommitted work" if tree["clean"] is False else "not a git tree"
        size, age = _human(tree["bytes"]), _age(tree["age_seconds"])
        lines.append(f"#{tree['issue']:<6} {tree['kind']:<5} {size:>10}  {age:>4}  {state:<17} "
                     f"{tree['branch'] or '-'}  {tree['path']}")
    for entry in found["attempts"]:
        lines.append(f"#{entry['issue'] or '?':<6} attempt {'':>8}  {_age(entry['age_seconds']):>4}  "
                     f"{'kept, not pushed':<17} {entry['branch']}")
    return ("\n".join(lines) if lines else "nothing kept") + "\n"


def main(argv=None) -> int:
    p = parser("cxo-worktrees", "What cxo keeps on this machine: work trees (each with the agent's own repository) "
               "and earlier attempts' local branches (<branch>-attempt-K, never pushed). `list` shows them with "
               "size and age; `discard N` removes issue N's tree, branch and attempts; `prune` removes trees whose "
               "PR is merged and that hold no uncommitted work, and what is left of gone trees.")
    add_target(p)
    sub = p.add_subparsers(dest="command", required=True, metavar="{list,discard,prune}")
    listed = sub.add_parser("list", help="kept trees and attempt branches, with size and age")
    listed.add_argument("--json", action="store_true", help="print JSON instead of a table")
    gone = sub.add_parser("discard", help="remove issue N's kept tree, branch and attempt branches")
    gone.add_argument("issue", type=issue_arg, help="the issue number")
    sub.add_parser("prune", help="remove merged, clean trees and what is left of gone ones")
    args = p.parse_args(argv)

    def body():
        from .. import policy as policy_mod
        from .. import worktrees

        policy = policy_mod.load(args.target)
        say = lambda message: sys.stderr.write(f"cxo-worktrees: {message}\n")  # noqa: E731
        if args.command == "list":
            found = worktrees.listing(policy)
            sys.stdout.write(json.dumps(found, indent=2) + "\n" if args.json else table(found))
        elif args.command == "discard":
            sys.stdout.write(json.dumps({"removed": worktrees.discard(policy, args.issue, say)}) + "\n")
        else:
            from ..connect import tracker_for

            sys.stdout.write(json.dumps(worktrees.prune(policy, tracker_for(policy), say)) + "\n")

    return run("cxo-worktrees", body)
