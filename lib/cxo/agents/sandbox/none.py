"""agent.isolation: none: agent-written code runs as the runner's user, unconfined (reports say so)."""

from pathlib import Path


class NoSandbox:
    kind = "none"

    def wrap(self, argv: list[str], cwd: Path) -> list[str]:
        return argv

    def network_record(self) -> dict | None:
        return None

    def close(self) -> None:
        pass
