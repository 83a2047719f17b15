"""cxo-worktree: fetch the base, create the issue branch and an isolated worktree from the fetched SHA."""

import fcntl
import hashlib
import json
import re
from contextlib import contextmanager
from pathlib import Path

from .. import envelope
from ..agents import repository
from ..errors import CxoError
from ..gitutil import check_ref_name, check_remote, current_branch, git, is_clean, remote, rev_parse, status_porcelain
from ..policy import render, slugify
from ..untrusted import one_line

STEP = "worktree"


def branch_name(policy, issue: dict) -> str:
    """The issue branch (the integration branch for a plan-auto parent): the template rendered, then reduced to
    characters git and shells take literally."""
    values = {"issueNumber": issue["number"], "slug": slugify(issue.get("title") or ""),
              "issueTitle": one_line(issue.get("title"))}
    key = "integrationBranchTemplate" if issue.get("mode") == "plan-auto" else "branchTemplate"
    return safe_ref(render(policy["git"][key], values, f"git.{key}"))


def safe_ref(name: str, limit: int = 200) -> str:
    """Only ASCII letters, digits, `.`, `_`, `-` in `/`-separated parts, none empty, dotted or `.lock`-ended."""
    parts = []
    for part in name.split("/"):
        part = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]+", "-", part)).strip(".-")
        while part.endswith(".lock"):
            part = part[:-5].rstrip(".-")
        if part:
            parts.append(part)
    return "/".join(parts)[:limit].rstrip("/.-")


def valid_branch(cwd, name: str) -> bool:
    return bool(name) and git(cwd, "check-ref-format", "--branch", name, retcode=None).strip() == name


def _base_record(policy, branch: str) -> Path:
    """Which base commit a branch was made from: runner state, not the repository's (shared) git config."""
    return policy.state_dir / "branches" / f"{hashlib.sha256(branch.encode()).hexdigest()[:16]}.json"


def _record(policy, branch: str) -> dict:
    path = _base_record(policy, branch)
    return json.loads(path.read_text()) if path.is_file() else {}


def recorded_base(policy, branch: str) -> str | None:
    return _record(policy, branch).get("base")


def record_base(policy, branch: str, sha: str, run_id: str | None = None) -> None:
    path = _base_record(policy, branch)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"branch": branch, "base": sha, "run_id": run_id}))


def run(env: dict, *, policy, args=None, say=print, tracker=None) -> dict:
    envelope.require(env, STEP, "claim")
    issue = env["claim"]["issue"]
    branch = branch_name(policy, issue)
    if not valid_branch(policy.target, branch):
        return envelope.block(env, STEP, f"git.branchTemplate gives no valid branch name for this issue "
                              f"({branch!r}): put ${{issueNumber}} in it", {"branch": branch})
    kind = "tree" if issue.get("mode") == "plan-auto" else "issue"
    path = policy.workspace_root / f"{kind}-{issue['number']}"
    details = {"path": str(path), "branch": branch}
    # Runs side by side (daemon --concurrency) share the target repository: fetches and worktree
    # creation take turns, or git's own ref locks make one of them fail.
    with repo_lock(policy):
        return _prepare(env, policy, say, issue, branch, path, details)


@contextmanager
def repo_lock(policy):
    lock_path = policy.state_dir / "locks" / "repository.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _prepare(env, policy, say, issue, branch, path, details) -> dict:

    target, remote_name, base = policy.target, check_remote(policy.target, policy.remote), policy.base_branch
    check_ref_name(base, "git.baseBranch")
    tree = env.get("tree") or {}
    if tree.get("base_sha"):
        # A child of an issue tree starts from the integration branch's current head, not the fetched base.
        base_sha = tree["base_sha"]
        base = tree["integration_branch"]
        _fresh_child(target, path, branch, say)
    else:
        fetched = _fetch_base(env, policy, say, target, remote_name, base, details)
        if isinstance(fetched, dict):
            return fetched
        base_sha = fetched
    return _create(env, policy, say, target, remote_name, base, base_sha, branch, path, details)


def _fetch_base(env, policy, say, target, remote_name, base, details):
    from ..connect import take_token

    try:
        say(f"fetching {base} from {policy.clone_url}")
        remote(target, "fetch", policy.clone_url, f"+refs/heads/{base}:refs/remotes/{remote_name}/{base}",
               "--quiet", "--no-tags", token=take_token())
        return rev_parse(target, f"refs/remotes/{remote_name}/{base}")
    except CxoError as exc:
        return envelope.block(env, STEP, f"cannot fetch base branch {remote_name}/{base}: {exc.message}", details)


def _fresh_child(target: Path, path: Path, branch: str, say) -> None:
    """A child re-run after its block was lifted starts over: its old worktree and branch go."""
    if path.exists():
        repository.remove(target, path)
        say(f"removed the earlier attempt's worktree {path}")
    if git(target, "branch", "--list", "--", branch).strip():
        git(target, "branch", "-D", "--", branch)


def _worked_on(policy, path: Path, branch: str) -> bool:
    """Whether a kept tree holds an earlier attempt's work: changes, commits past its base, another branch."""
    if current_branch(path) != branch or not is_clean(path):
        return True
    base = recorded_base(policy, branch)
    return bool(base) and rev_parse(path, "HEAD") != base


def set_aside(policy, path: Path, branch: str, say) -> str:
    """A retry is a fresh attempt: the earlier attempt's work (commits, and its uncommitted and untracked files,
    committed by the runner) is kept on a local branch `<branch>-attempt-K`, never pushed and never mixed into
    the new attempt; its tree and branch go."""
    target = policy.target
    taken = {line.strip().lstrip("*+ ").strip() for line in git(target, "branch", "--list", f"{branch}-attempt-*")
             .splitlines()}
    number = 1
    while f"{branch}-attempt-{number}" in taken:
        number += 1
    kept = f"{branch}-attempt-{number}"
    author = {f"GIT_{who}_{what}": policy["git"][f"commitAuthor{what.title()}"]
              for who in ("AUTHOR", "COMMITTER") for what in ("NAME", "EMAIL")}
    git(path, "add", "--all", "--", ".")
    if git(path, "diff", "--cached", "--name-only").strip():
        git(path, "commit", "--quiet", "--no-verify", "-m", f"cxo: the attempt's uncommitted work, kept ({kept})",
            env=author)
    git(target, "branch", "--force", "--", kept, rev_parse(path, "HEAD"))
    on = current_branch(path)
    repository.remove(target, path)
    for name in {n for n in (branch, on) if n}:
        git(target, "branch", "-D", "--", name, retcode=None)
    say(f"kept the earlier attempt's work on local branch {kept} (not pushed); this attempt starts afresh")
    return kept


def _create(env, policy, say, target, remote_name, base, base_sha, branch, path, details) -> dict:
    reused = False
    fresh_attempt = not env["claim"].get("continue_from") and (env.get("claim", {}).get("issue") or {}).get(
        "mode") != "plan-auto" and not (env.get("tree") or {}).get("base_sha")
    # Another run's tree (a retry after a block, --restart): a fresh attempt. The same run's (a step replayed by
    # hand) is its own and is reused when clean.
    other_run = _record(policy, branch).get("run_id") not in (None, env.get("run_id"))
    if path.exists() and fresh_attempt and other_run and (path / ".git").exists() and _worked_on(policy, path,
                                                                                                     branch):
        kept = set_aside(policy, path, branch, say)
        details["earlier_attempt"] = kept
        env.setdefault("claim", {})["earlier_attempt"] = kept
    if path.exists():
        if not (path / ".git").exists():
            return envelope.block(env, STEP, f"{path} exists and is not a git worktree: move it away to retry",
                                  details)
        on = current_branch(path)
        if on != branch:
            return envelope.block(env, STEP, f"worktree {path} is on branch {on}, not {branch}: it was kept as is",
                                  details)
        if not is_clean(path):
            return envelope.block(env, STEP, f"worktree {path} has uncommitted changes: it was kept as is", details)
        if not repository.is_agent_tree(path):
            repository.adopt(path)  # made by an earlier cxo, which shared the runner's repository with the agent
        base_sha = recorded_base(policy, branch) or base_sha
        reused = True
        say(f"reusing clean worktree {path} on {branch}")
    else:
        existing = git(target, "branch", "--list", "--", branch).strip()
        if existing:
            return envelope.block(env, STEP, f"branch {branch} already exists without its worktree: "
                                  "delete or rename it to retry", details)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            repository.create(target, path, branch, base_sha)
            record_base(policy, branch, base_sha, env.get("run_id"))
        except CxoError as exc:
            return envelope.block(env, STEP, f"cannot create worktree: {exc.message}", details)
        say(f"created worktree {path} on {branch} from {base_sha[:12]}")
    env["worktree"] = {"path": str(Path(path)), "branch": branch, "base_branch": base, "remote": remote_name,
                       "base_sha": base_sha, "head_sha": rev_parse(path, "HEAD"), "reused": reused}
    if not reused:
        problem = prepare_tree(env, policy, Path(path), say)
        if problem:
            return envelope.block(env, STEP, problem, details)
    return envelope.mark_done(env, STEP)


def prepare_tree(env: dict, policy, path: Path, say) -> str | None:
    """The policy's `setup` in a fresh tree (recorded in worktree.setup); why the run must block, or None. What
    setup leaves must be git-ignored: it would otherwise enter the change set as the agent's."""
    from ..prepare import failure, run_setup

    section = run_setup(policy, path, envelope.run_dir(policy.state_dir, env), "worktree", say)
    if not section["steps"]:
        return None
    env["worktree"]["setup"] = section
    problem = failure(section)
    if problem:
        return problem
    left = [line[3:] for line in status_porcelain(path)]
    if left:
        return (f"setup left {len(left)} untracked or changed file(s) in the worktree ({', '.join(left[:5])}): "
                "add what setup makes to .gitignore (a change set must hold only the agent's work)")
    return None
