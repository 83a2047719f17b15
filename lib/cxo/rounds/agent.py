"""A round's agent step: the pipeline's own (steps/codex.py), except for update rounds (rounds/update.py):
a clean merge of the base needs no agent at all, and after the agent resolved conflicts any file still carrying
git's conflict markers blocks the round, named."""

from pathlib import Path

from .. import envelope
from ..gitutil import rev_parse
from ..steps import codex as plain
from .update import unresolved

STEP = "codex"


def run(env: dict, *, policy, args=None, say=print, tracker=None) -> dict:
    update = (env.get("round") or {}).get("update")
    if not update:
        return plain.run(env, policy=policy, args=args, say=say, tracker=tracker)
    envelope.require(env, STEP, "claim", "worktree")
    worktree = Path(env["worktree"]["path"])
    if not update["conflicts"]:
        say("the base merged cleanly: no agent needed; the gates check the whole pull request on it")
        env["codex"] = {"agent": "none", "command": [], "exit_code": 0, "duration_seconds": 0.0,
                        "prompt_path": "(none: a clean merge by the runner)", "report_path": "(none)",
                        "report": None, "head_sha": rev_parse(worktree, "HEAD")}
        return envelope.mark_done(env, STEP)
    env = plain.run(env, policy=policy, args=args, say=say, tracker=tracker)
    if envelope.is_blocked(env):
        env["blocked"]["reason"] += f" (merge conflicts in {', '.join(update['conflicts'])}; nothing was pushed)"
        return env
    left = unresolved(worktree, update["conflicts"])
    if left:
        return envelope.block(env, STEP, (
            f"merge conflicts left unresolved in {', '.join(left)}: nothing was pushed; merge "
            f"{env['round']['base_branch']} into {env['round']['branch']} by hand"), {"files": left})
    return env
