"""What every agent adapter takes and gives back."""

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..proc import Finished


@dataclass
class AgentSpec:
    worktree: Path
    prompt_path: Path
    report_path: Path
    issue_number: int
    branch_name: str
    state_dir: Path
    run_dir: Path
    log_path: Path
    events_path: Path | None = None
    last_message_path: Path | None = None
    timeout_s: float = 3600
    idle_timeout_s: float = 900
    env: dict = field(default_factory=dict)
    sandbox: object = None  # an agents.sandbox.Sandbox; None only where the caller runs no agent-written code
    role: str = "implement"  # CODEX_ORCHESTRATOR_ROLE: implement, review, cleanup, plan
    meter: object = None  # a usage.Meter: the tokens the agent reports while it runs, and its budget


@dataclass
class AgentResult:
    command: list[str]
    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    idle_timed_out: bool = False
    last_event: str = ""
    codex_sandbox: str | None = None  # the Codex CLI's own sandbox mode, when the agent is the Codex CLI
    budget_stopped: bool = False  # killed at the token budget (codex.maxTokens)

    def to_json(self) -> dict:
        return asdict(self)


def result(argv: list[str], done: Finished, codex_sandbox: str | None = None) -> AgentResult:
    return AgentResult(command=list(argv), exit_code=done.exit_code, duration_s=done.duration_s,
                       timed_out=done.timed_out, idle_timed_out=done.idle_timed_out, last_event=done.last_event,
                       codex_sandbox=codex_sandbox, budget_stopped=done.stopped)
