"""The Codex CLI adapter: `codex exec` in the worktree, JSON events logged, last message saved."""

import json

from . import process
from .base import AgentResult, AgentSpec
from .command import seed_env


def argv_for(codex_policy: dict, spec: AgentSpec, sandbox: str | None = None) -> list[str]:
    sandbox = sandbox or codex_policy["sandbox"]
    argv = [codex_policy["command"], "exec", "--json", "--skip-git-repo-check", "--cd", str(spec.worktree),
            "--sandbox", sandbox]
    if sandbox == "workspace-write":
        # The report is written outside the worktree; the seed also lets the agent reach local dev servers.
        argv += ["--add-dir", str(spec.report_path.parent), "-c", "sandbox_workspace_write.network_access=true"]
    # Second guard after our allow-list: codex hands its environment to the commands it runs; this makes it
    # drop every variable named like a key, secret or token (docs/codex-cli.md).
    argv += ["-c", "shell_environment_policy.ignore_default_excludes=false"]
    if spec.last_message_path:
        argv += ["--output-last-message", str(spec.last_message_path)]
    if codex_policy.get("model"):
        argv += ["--model", codex_policy["model"]]
    if codex_policy.get("profile"):
        argv += ["--profile", codex_policy["profile"]]
    argv += list(codex_policy.get("extraArgs") or [])
    return argv + ["-"]  # the prompt comes on stdin


def describe(line: str) -> str | None:
    """A short progress note from one `--json` event line."""
    try:
        event = json.loads(line)
    except ValueError:
        return line.strip()[:120] or None
    kind = event.get("type", "")
    item = event.get("item") or {}
    detail = item.get("type", "")
    if item.get("command"):
        detail += f" `{str(item['command'])[:80]}`"
    return f"{kind} {detail}".strip()


def run(codex_policy: dict, spec: AgentSpec, say, sandbox: str | None = None) -> AgentResult:
    argv = argv_for(codex_policy, spec, sandbox)
    return process.run(argv, cwd=spec.worktree, env={**spec.env, **seed_env(spec)}, stdin_path=spec.prompt_path,
                       log_path=spec.log_path, timeout_s=spec.timeout_s, idle_timeout_s=spec.idle_timeout_s,
                       say=say, describe=describe, events_path=spec.events_path)
