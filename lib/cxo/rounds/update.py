"""Update rounds: a cxo PR whose base branch moved gets the base merged in by the runner, never rebased.

When (`feedback.updateWhen`): `conflict` (the default) when the PR no longer merges cleanly into its base,
`behind` whenever the base has commits the PR lacks, `never` not at all.

How: `git merge-tree` merges the PR head H and the base head B in the runner's repository (no work tree, no
hooks, no merge drivers from any config the agent could write). The runner records the result as a merge
commit M with parents H and B (its own identity) and puts the round's worktree on it:

- a clean merge needs no agent: the gates check the whole PR against B, and M is pushed as a fast-forward;
- conflicted files stay in M with git's markers (M is never pushed); an agent round resolves them, with the
  conflicted hunks in its prompt fenced as data. Files still carrying markers afterwards block the round,
  naming them. Otherwise the runner makes the merge commit again from the resolved files (parents H and B:
  the agent's commits, if any, are folded into it), the gates check it, and it is pushed as a fast-forward.

A human's commits on the PR branch are in H, so they are kept. The round report records the pair it handled
(`<!-- cxo:update head=H base=B -->`), so a pair that blocked is not retried on every poll; a new push to the
PR or to the base is a new pair.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from ..github.feedback import UPDATE
from ..gitutil import GitError, git, is_ancestor, rev_parse

WHEN = ("conflict", "behind", "never")
START, END = re.compile(r"^<{7}( |$)", re.M), re.compile(r"^>{7}( |$)", re.M)
HUNK_LINES, HUNK_CHARS = 80, 6000  # per conflicted file, in the prompt


def update_marker(head: str, base: str) -> str:
    return f"<!-- cxo:update head={head} base={base} -->"


def handled_pairs(rounds: list[dict]) -> set[tuple[str, str]]:
    """The (head, base) pairs earlier update rounds handled, from the runner's round reports."""
    return {(m.group(1), m.group(2)) for c in rounds for m in UPDATE.finditer(c.get("body") or "")}


def merge_tree(repo: Path, head: str, base: str) -> tuple[str, list[str]]:
    """The merged tree of `head` and `base` and the conflicted paths (empty: a clean merge)."""
    out = git(repo, "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", head, base, retcode=None)
    parts = [p for p in out.split("\0") if p]
    if not parts or not re.fullmatch(r"[0-9a-f]{40,64}", parts[0]):
        raise GitError(f"git merge-tree of {head[:12]} and {base[:12]} failed: {out.strip()[:200]}")
    return parts[0], sorted(set(parts[1:]))


def need(policy, repo: Path, head: str, base: str, rounds: list[dict]) -> dict | None:
    """What an update round would do for a PR at `head` on a base at `base` (both fetched into `repo`), or None
    when none is due: {head_sha, base_sha, conflicts, behind: True}."""
    when = policy["feedback"].get("updateWhen", "conflict")
    if when == "never" or is_ancestor(repo, base, head) or (head, base) in handled_pairs(rounds):
        return None
    _, conflicts = merge_tree(repo, head, base)
    if when == "conflict" and not conflicts:
        return None
    return {"head_sha": head, "base_sha": base, "conflicts": conflicts}


def detect(policy, pull: dict, rounds: list[dict]) -> dict | None:
    """`need` for an open PR as the remote has it now: its head and base branches fetched (git, not the REST
    API: nothing billable), then compared."""
    from ..connect import take_token
    from ..gitutil import check_ref_name, check_remote, remote
    from ..steps.worktree import repo_lock

    target, name = policy.target, check_remote(policy.target, policy.remote)
    branch = check_ref_name(pull["head"]["ref"], "the PR's head branch")
    base = check_ref_name(pull["base"]["ref"], "the PR's base branch")
    with repo_lock(policy):
        remote(target, "fetch", policy.clone_url, [f"+refs/heads/{base}:refs/remotes/{name}/{base}",
                                                   f"+refs/heads/{branch}:refs/remotes/{name}/{branch}"],
               "--quiet", "--no-tags", token=take_token())
        head = rev_parse(target, f"refs/remotes/{name}/{branch}")
        base_sha = rev_parse(target, f"refs/remotes/{name}/{base}")
    return need(policy, target, head, base_sha, rounds)


def _author(policy) -> dict:
    name, email = policy["git"]["commitAuthorName"], policy["git"]["commitAuthorEmail"]
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email}


def _message(env: dict, base_branch: str, base: str) -> str:
    return (f"cxo: merge {base_branch} ({base[:12]}) into #{env['issue']['number']}'s pull request\n\n"
            f"Cxo-Run: {env['run_id']}\n")


def merge(env: dict, policy, worktree: Path, head: str, base: str, say) -> dict:
    """Merge `base` into the worktree's branch at `head` (see the module docstring); returns the round's
    `update` section: head_sha, base_sha, merge_sha, conflicts, hunks (path -> the conflicted regions)."""
    tree, conflicts = merge_tree(policy.target, head, base)
    message = _message(env, env["round"]["base_branch"], base)
    merged = git(policy.target, "commit-tree", tree, "-p", head, "-p", base, "-F", "-", env=_author(policy),
                 input=message).strip()
    git(worktree, "reset", "--quiet", "--hard", merged)
    hunks = {path: conflict_hunks(worktree / path) for path in conflicts}
    say(f"merged {base[:12]} into the PR head {head[:12]}: " + (
        f"{len(conflicts)} file(s) in conflict ({', '.join(conflicts[:5])}{', ...' if len(conflicts) > 5 else ''})"
        if conflicts else "clean"))
    return {"head_sha": head, "base_sha": base, "merge_sha": merged, "conflicts": conflicts, "hunks": hunks}


def conflict_hunks(path: Path) -> str:
    """The marked regions of one conflicted file with three lines around each, bounded (a binary or vanished
    file says so)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "(a binary file: both sides changed it; choose one side or rebuild it)"
    except OSError:
        return "(deleted on one side, changed on the other)"
    lines = text.splitlines()
    keep: set[int] = set()
    inside = False
    for index, line in enumerate(lines):
        if START.match(line):
            inside = True
            keep.update(range(max(0, index - 3), index))
        if inside:
            keep.add(index)
        if END.match(line):
            inside = False
            keep.update(range(index + 1, min(len(lines), index + 4)))
    if not keep:
        return "(no conflict markers: a file-level conflict, e.g. renamed or deleted on one side)"
    out, last = [], -2
    for index in sorted(keep)[:HUNK_LINES]:
        if index != last + 1:
            out.append(f"@@ line {index + 1} @@")
        out.append(lines[index])
        last = index
    return "\n".join(out)[:HUNK_CHARS]


def unresolved(worktree: Path, conflicts: list[str]) -> list[str]:
    """The conflicted files that still carry git's conflict markers."""
    left = []
    for path in conflicts:
        try:
            text = (worktree / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # deleted: a resolution
        if START.search(text) and END.search(text):
            left.append(path)
    return left


def conclude(policy, env: dict, worktree: Path, paths: list[str], say) -> bool:
    """The published merge commit: parents H and B, the tree the gates checked (HEAD plus `paths` from the work
    tree). False when the runner's clean merge is published as it is."""
    import os

    update = env["round"]["update"]
    head = rev_parse(worktree, "HEAD")
    if head == update["merge_sha"] and not update["conflicts"] and not paths:
        return False
    literal = {"GIT_LITERAL_PATHSPECS": "1"}
    with tempfile.TemporaryDirectory(prefix="cxo-merge-") as scratch:
        index = {"GIT_INDEX_FILE": str(Path(scratch) / "index"), **literal}
        git(worktree, "read-tree", "HEAD", env=index)
        indexed = set(git(worktree, "ls-files", "-z", "--", *paths, env=index).split("\0")) if paths else set()
        present = [p for p in paths if p in indexed or os.path.lexists(worktree / p)]
        if present:
            git(worktree, "add", "--all", "--force", "--", *present, env=index)
        tree = git(worktree, "write-tree", env=index).strip()
    message = _message(env, env["round"]["base_branch"], update["base_sha"])
    merged = git(worktree, "commit-tree", tree, "-p", update["head_sha"], "-p", update["base_sha"], "-F", "-",
                 env=_author(policy), input=message).strip()
    git(worktree, "reset", "--quiet", merged)  # the branch on it; index = its tree; the files stay
    update["published_sha"] = merged
    say(f"merge commit {merged[:12]} made by the runner from the resolved files")
    return True
