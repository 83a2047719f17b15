"""A round's worktree: the PR's branch at its head as fetched from the remote, never a local guess.

When the remote head is not what cxo last pushed, a human pushed: the round builds on it only when it descends
from cxo's last push (the human added commits), and blocks otherwise (a rewritten branch is the human's work,
which a runner must not build over or force-push away).
"""

from pathlib import Path

from .. import envelope
from ..agents import repository
from ..errors import CxoError
from ..gitutil import check_ref_name, check_remote, current_branch, git, is_ancestor, is_clean, remote, rev_parse

STEP = "worktree"


def _has_commit(cwd, sha: str) -> bool:
    return git(cwd, "cat-file", "-t", sha, retcode=None).strip() == "commit"


def run(env: dict, *, policy, args=None, say=print, tracker=None) -> dict:
    from ..connect import take_token
    from ..steps.worktree import repo_lock

    envelope.require(env, STEP, "claim")
    info = env["round"]
    issue = env["claim"]["issue"]
    target, remote_name = policy.target, check_remote(policy.target, policy.remote)
    branch = check_ref_name(info["branch"], "the PR's head branch")
    base = check_ref_name(info["base_branch"], "the PR's base branch")
    kind = "tree" if issue.get("mode") == "plan-auto" else "issue"
    path = policy.workspace_root / f"{kind}-{issue['number']}"
    details = {"path": str(path), "branch": branch}
    with repo_lock(policy):
        try:
            say(f"fetching {branch} and {base} from {policy.clone_url}")
            remote(target, "fetch", policy.clone_url,
                   [f"+refs/heads/{base}:refs/remotes/{remote_name}/{base}",
                    f"+refs/heads/{branch}:refs/remotes/{remote_name}/{branch}"],
                   "--quiet", "--no-tags", token=take_token())
        except CxoError as exc:
            return envelope.block(env, STEP, f"cannot fetch the PR branch {branch}: {exc.message}", details)
        head = rev_parse(target, f"refs/remotes/{remote_name}/{branch}")
        base_head = rev_parse(target, f"refs/remotes/{remote_name}/{base}")
        # cxo's last push only from what a runner login wrote (the PR body's and round reports' markers): a
        # commit's trailer is anyone's words.
        last = info.get("last_pushed")
        if last is None:
            return envelope.block(env, STEP, (
                f"no record by a runner of cxo's last push to {branch} (a PR opened by an older cxo, or its report "
                "was edited away): cxo does not guess which commits are its own; take the PR over by hand"),
                {**details, "head": head, "last_pushed": None})
        if head != last:
            if not _has_commit(target, last) or not is_ancestor(target, last, head):
                return envelope.block(env, STEP, (
                    f"the PR branch {branch} was rewritten: its head {head[:12]} does not build on cxo's last push "
                    f"{last[:12]} (a force-push or rebase by a human); cxo does not build over or replace a human's "
                    "history: push commits on top of cxo's, or take the PR over by hand"),
                    {**details, "head": head, "last_pushed": last})
            human = git(target, "rev-list", "--count", f"{last}..{head}").strip()
            say(f"a human pushed {human} commit(s) on top of cxo's last push: building on them")
            info["human_commits"] = int(human)
        info["head_sha"] = head
        base_sha = git(target, "merge-base", head, base_head).strip()
        made = _place(target, path, branch, head, details, say)
        if isinstance(made, str):
            return envelope.block(env, STEP, made, details)
        if info.get("kind") == "update":
            # The base comes in by the runner's merge commit (rounds/update.py); the PR is checked against it.
            from .update import merge

            info["update"] = merge(env, policy, Path(path), head, base_head, say)
            base_sha = base_head
    env["worktree"] = {"path": str(Path(path)), "branch": branch, "base_branch": base, "remote": remote_name,
                       "base_sha": base_sha, "head_sha": head, "round_start_sha": head, "reused": made}
    if info.get("kind") == "update":
        # The agent's own work is what it does on top of the runner's merge (the conflicts it resolves).
        env["worktree"]["round_start_sha"] = info["update"]["merge_sha"]
        env["worktree"]["runner_commits"] = [info["update"]["merge_sha"]]
    if not made:
        from ..steps.worktree import prepare_tree

        problem = prepare_tree(env, policy, Path(path), say)
        if problem:
            return envelope.block(env, STEP, problem, details)
    return envelope.mark_done(env, STEP)


def _place(target: Path, path: Path, branch: str, head: str, details: dict, say) -> bool | str:
    """Put the worktree at `path` on `branch` at `head`. True when an existing worktree was reused; a string is
    why it could not be done (the worktree is then kept as it is)."""
    if path.exists():
        if not (path / ".git").exists():
            return f"{path} exists and is not a git worktree: move it away to retry"
        on = current_branch(path)
        if on != branch:
            return f"worktree {path} is on branch {on}, not the PR's {branch}: it was kept as is"
        if not is_clean(path):
            return f"worktree {path} has uncommitted changes: it was kept as is"
        local = rev_parse(path, "HEAD")
        if local != head and not is_ancestor(path, local, head):
            return (f"worktree {path} has commits that are not on the PR ({local[:12]} is not in {head[:12]}): "
                    "it was kept as is")
        git(path, "reset", "--quiet", "--hard", head)
        repository.fresh(path)
        say(f"reusing worktree {path}, now at the PR head {head[:12]}")
        return True
    if git(target, "branch", "--list", "--", branch).strip():
        local = rev_parse(target, f"refs/heads/{branch}")
        if local != head and not is_ancestor(target, local, head):
            return f"local branch {branch} has commits that are not on the PR: rename or delete it to retry"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        repository.create(target, path, branch, head, reset_branch=True)
    except CxoError as exc:
        return f"cannot create worktree: {exc.message}"
    say(f"created worktree {path} on {branch} at the PR head {head[:12]}")
    return False
