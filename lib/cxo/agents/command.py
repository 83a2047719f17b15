"""The command adapter (the seed's form): `codex.command` + `codex.args` with placeholders.

Any executable can stand in as the agent: it gets the prompt on stdin, runs in
the worktree, and finds the prompt and report paths in
CODEX_ORCHESTRATOR_PROMPT_FILE / CODEX_ORCHESTRATOR_REPORT_FILE.
"""

from .. import proc, usage
from ..policy import render
from .base import AgentResult, AgentSpec, result

KIND = "command"
MODEL_HOSTS: tuple[str, ...] = ()  # a command agent's hosts are the policy's agent.allowHosts
KEY_ENV: tuple[str, ...] = ()  # and its variables codex.envPassthrough
BASE_URL_ENV = None
HOME_ENV = None


def prepare_home(home, settings: dict) -> None:
    return None


def meter(limit: int | None, config_home=None):
    """Usage from the agent's stdout: JSON lines with a `usage` object (lib/cxo/usage.py)."""
    return usage.Meter(limit)


def describe(line: str) -> str | None:
    return line.strip()[:120] or None


def placeholders(spec: AgentSpec) -> dict:
    return {"worktreePath": spec.worktree, "promptPath": spec.prompt_path, "reportPath": spec.report_path,
            "issueNumber": spec.issue_number, "branchName": spec.branch_name, "stateDir": spec.state_dir}


def seed_env(spec: AgentSpec) -> dict:
    return {"CODEX_ORCHESTRATOR_PROMPT_FILE": str(spec.prompt_path),
            "CODEX_ORCHESTRATOR_REPORT_FILE": str(spec.report_path),
            "CODEX_ORCHESTRATOR_ISSUE_NUMBER": str(spec.issue_number),
            "CODEX_ORCHESTRATOR_WORKTREE_PATH": str(spec.worktree),
            "CODEX_ORCHESTRATOR_ROLE": spec.role}


def argv_for(codex_policy: dict, spec: AgentSpec, read_only: bool = False) -> list[str]:
    values = placeholders(spec)
    return [render(codex_policy["command"], values, "codex.command")] + [
        render(arg, values, "codex.args") for arg in codex_policy["args"]]


def run(codex_policy: dict, spec: AgentSpec, say, read_only: bool = False) -> AgentResult:
    """`read_only` changes nothing here: a command agent gets the role in CODEX_ORCHESTRATOR_ROLE and cxo's
    sandbox carries the rules."""
    argv = argv_for(codex_policy, spec)
    done = proc.run_logged(argv, cwd=spec.worktree, env={**spec.env, **seed_env(spec)}, stdin_path=spec.prompt_path,
                           log_path=spec.log_path, timeout_s=spec.timeout_s, idle_timeout_s=spec.idle_timeout_s,
                           say=say, events_path=spec.events_path, sandbox=spec.sandbox, meter=spec.meter)
    return result(argv, done)
