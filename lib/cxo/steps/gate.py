"""cxo-gate (pipeline step): collect the full change set and run the policy's gates."""

from pathlib import Path

from .. import envelope
from ..budget import kept_shas
from ..gates.base import GateContext, run_gates
from ..gitutil import collect_changes

STEP = "gate"
# Changes here steer the runner itself (its policy, prompts) or the repository's CI: a human must look at them.
RUNNER_OWNED = (".codex-orchestrator/", ".github/")


def needs_attention(files: list[str]) -> list[str]:
    return [f for f in files if f.startswith(RUNNER_OWNED)]


def run(env: dict, *, policy, args=None, say=print, tracker=None) -> dict:
    envelope.require(env, STEP, "claim", "worktree", "codex")
    worktree = Path(env["worktree"]["path"])
    changes = collect_changes(worktree, env["worktree"]["base_sha"])
    # The runner's own commits of work kept at a token budget are not the agent's local commits.
    kept = set(kept_shas(policy, env["worktree"]["branch"]))
    # ... nor is the merge commit an update round's runner made to bring the base in (rounds/update.py).
    kept.update(env["worktree"].get("runner_commits") or [])
    kept_commits = [c for c in changes.commits if c["sha"] in kept]
    changes.commits = [c for c in changes.commits if c["sha"] not in kept]
    report = env["codex"].get("report")
    section = {"changes": changes.to_json(), "passed": False, "verdicts": [],
               "attention": needs_attention(changes.files + changes.deleted), "kept_commits": kept_commits}
    env["gate"] = section
    # A feedback round checks the whole PR against its base, but the agent's own work is what it added to the
    # PR head the round started from.
    start = env["worktree"].get("round_start_sha")
    own = collect_changes(worktree, start) if start else changes
    own.commits = [c for c in own.commits if c["sha"] not in kept]
    if start:
        section["round_commits"] = own.commits
        section["round_files"] = sorted(set(own.files + own.deleted))
    say(f"change set: {len(own.commits)} local commit(s)"
        + (f" and {len(kept_commits)} kept at the token budget" if kept_commits else "")
        + f", {len(changes.files)} file(s)")
    if own.commits and not policy["git"]["allowLocalCommits"]:
        return envelope.block(env, STEP, f"local commits are not allowed by policy (git.allowLocalCommits): the agent "
                              f"made {len(own.commits)}", {"commits": own.commits})
    if own.empty and not env["worktree"].get("runner_commits"):
        if report and report.get("noChangesNeeded"):
            # Nothing to publish but the agent's conclusion: publish reports it for review without a PR.
            say("no changes, and the report says none were needed")
            section["passed"] = True
            return envelope.mark_done(env, STEP)
        return envelope.block(env, STEP, "no changes: the agent left the worktree as it found it", {})
    issue = env["claim"]["issue"]
    ctx = GateContext(worktree=worktree, base=changes.base, head=None, policy=policy, changes=changes,
                      run_dir=envelope.run_dir(policy.state_dir, env), report=report,
                      issue={"number": issue["number"], "title": issue["title"], "body": issue.get("body", ""),
                             "labels": issue["labels"]},
                      say=say, envelope=env)
    verdicts = run_gates(ctx, policy["reviewGates"]["order"])
    section["verdicts"] = verdicts
    failed = [v for v in verdicts if v["verdict"] == "fail"]
    if failed:
        reason = "; ".join(f"{v['gate']}: {v['summary']}" for v in failed)
        return envelope.block(env, STEP, f"gate failed: {reason}", {"failed": [v["gate"] for v in failed]})
    section["passed"] = True
    return envelope.mark_done(env, STEP)
