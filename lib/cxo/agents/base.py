"""What every agent adapter takes and gives back."""

from dataclasses import asdict, dataclass, field
from pathlib import Path


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


@dataclass
class AgentResult:
    command: list[str]
    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    idle_timed_out: bool = False
    last_event: str = ""

    def to_json(self) -> dict:
        return asdict(self)
