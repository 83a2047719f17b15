"""The token budget's stop, and how a run continues from it (`cxo-run --issue N --continue`).

When the agent reaches `codex.maxTokens` it is stopped like on a timeout; its work stays in the worktree and the
RUNNER commits all of it locally on the issue branch (runner identity, no hooks, literal pathspecs), never
pushed. The commit's sha is recorded in the runner's state, per branch, so the gates do not count it as an agent
local commit (`git.allowLocalCommits`) when a continued run ends up checking the full change set against the
original base.

`--continue` is allowed when the issue's newest run on this host ended blocked at the token budget (its worktree
kept): the issue may still carry `agent:blocked` (the operator asking to continue is the human decision), or be
eligible again. It needs the trigger label, like any run.
"""

import hashlib
import json
from pathlib import Path

from . import envelope
from .errors import CxoError, InputError
from .gitutil import git, rev_parse
from .untrusted import one_line


def _record(policy, branch: str) -> Path:
    return policy.state_dir / "kept" / f"{hashlib.sha256(branch.encode()).hexdigest()[:16]}.json"


def kept_shas(policy, branch: str) -> list[str]:
    """The runner's own budget-stop commits on `branch`."""
    path = _record(policy, branch)
    try:
        return list(json.loads(path.read_text()).get("shas") or [])
    except (OSError, ValueError):
        return []


def record_kept(policy, branch: str, sha: str) -> None:
    path = _record(policy, branch)
    path.parent.mkdir(parents=True, exist_ok=True)
    shas = kept_shas(policy, branch)
    path.write_text(json.dumps({"branch": branch, "shas": [*shas, sha] if sha not in shas else shas}))


def keep_work(policy, env: dict, worktree: Path, say) -> str | None:
    """Commit everything in the worktree (tracked changes and untracked files, .gitignore respected) as the
    runner, locally. Returns the new commit's sha, or None when there was nothing to keep."""
    issue = env["claim"]["issue"]
    literal = {"GIT_LITERAL_PATHSPECS": "1"}
    git(worktree, "add", "--all", "--", ".", env=literal)
    if not git(worktree, "diff", "--cached", "--name-only").strip():
        return None
    author = {"GIT_AUTHOR_NAME": policy["git"]["commitAuthorName"],
              "GIT_AUTHOR_EMAIL": policy["git"]["commitAuthorEmail"],
              "GIT_COMMITTER_NAME": policy["git"]["commitAuthorName"],
              "GIT_COMMITTER_EMAIL": policy["git"]["commitAuthorEmail"], **literal}
    message = f"cxo: work kept at the token budget (#{issue['number']})\n\nCxo-Run: {env['run_id']}\n"
    # No hooks at all (--no-verify skips pre-commit and commit-msg, hooksPath the rest): the agent wrote this
    # worktree, and a hook would run with the runner's rights.
    git(worktree, "-c", "core.hooksPath=/dev/null", "commit", "--quiet", "--no-verify", "-F", "-", env=author,
        input=message)
    sha = rev_parse(worktree, "HEAD")
    record_kept(policy, env["worktree"]["branch"], sha)
    say(f"kept the agent's work in local commit {sha[:12]} on {env['worktree']['branch']} (not pushed)")
    return sha


def diffstat(worktree: Path, base: str) -> dict:
    """Files changed between `base` and the worktree's HEAD: [{path, added, deleted}] (binary: None) and totals."""
    out = git(worktree, "diff", "--numstat", "-z", "--no-renames", f"{base}..HEAD")
    files = []
    for record in out.split("\0"):
        parts = record.split("\t", 2)
        if len(parts) != 3:
            continue
        added, deleted, path = parts
        files.append({"path": path, "added": int(added) if added.isdigit() else None,
                      "deleted": int(deleted) if deleted.isdigit() else None})
    return {"files": files[:200], "file_count": len(files),
            "insertions": sum(f["added"] or 0 for f in files), "deletions": sum(f["deleted"] or 0 for f in files)}


def spent(env: dict) -> dict:
    """One run's spend, for the reports: run id, outcome, tokens, wall time."""
    agent = env.get("codex") or {}
    outcome = "budget stop" if agent.get("budget_stopped") else (
        "blocked" if envelope.is_blocked(env) else "finished")
    return {"run_id": env["run_id"], "outcome": outcome, "usage": agent.get("usage"),
            "duration_seconds": agent.get("duration_seconds")}


def runs_spent(env: dict) -> list[dict]:
    """Every agent run of this change so far: the runs it continues from, then this one."""
    earlier = list(((env.get("claim") or {}).get("continue_from") or {}).get("runs") or [])
    return earlier + ([spent(env)] if env.get("codex") else [])


def latest_envelope(policy, issue: int) -> dict | None:
    """The last saved envelope of the newest run of `issue` on this host."""
    root = policy.state_dir / "runs" / str(issue)
    runs = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for run in reversed(runs):
        saved = sorted(run.glob("[0-9][0-9]-*.json"))
        if saved:
            try:
                return envelope.parse(saved[-1].read_text(), str(saved[-1]))
            except CxoError:  # an unreadable envelope is no run to continue
                return None
    return None


def continuation(policy, issue: int) -> dict:
    """What `--continue` continues from, or InputError (before any GitHub write) saying why it cannot."""
    last = latest_envelope(policy, issue)
    if last is None:
        raise InputError(f"--continue: issue #{issue} has no earlier run on this host: run it without --continue")
    details = ((last.get("blocked") or {}).get("details") or {})
    if not envelope.is_blocked(last) or not details.get("budget_stop"):
        raise InputError(f"--continue: the newest run of #{issue} ({last['run_id']}) did not stop at the token "
                         "budget: only a budget stop is continued; remove agent:blocked and run it without "
                         "--continue")
    tree = last.get("worktree") or {}
    if not tree.get("path") or not Path(tree["path"]).is_dir():
        raise InputError(f"--continue: the kept worktree {tree.get('path')} of run {last['run_id']} is gone: "
                         "run the issue afresh without --continue")
    return {"run_id": last["run_id"], "kept_sha": details.get("kept_sha"), "branch": tree.get("branch"),
            "base_sha": tree.get("base_sha"), "runs": runs_spent(last)}


def continue_prompt(info: dict) -> str:
    """The section a continued run's prompt ends with (runner-written: shas and counts only)."""
    kept = info.get("kept_sha")
    where = (f"the runner committed it on this branch as `{kept[:12]}` (\"cxo: work kept at the token budget\")"
             if kept else "it is on this branch")
    return ("## Continue from the existing changes\n\n"
            f"An earlier run on this issue (run {one_line(info['run_id'], 40)}) was stopped at its token budget "
            f"before it finished; {where}. Do not start over and do not revert that work: read what is already "
            f"changed (`git diff {str(info.get('base_sha') or 'HEAD~1')[:12]}..HEAD`, `git status`), then continue "
            "from the existing changes until the issue is done, and write the completion report as asked above. "
            "The report covers the whole change, the earlier run's part included.")
