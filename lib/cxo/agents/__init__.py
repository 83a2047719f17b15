"""Agent adapters: how cxo runs a coding agent. One registry of agent kinds (`agent.kind` in the policy):

- codex: the Codex CLI, `codex exec` (lib/cxo/agents/codex.py, docs/codex-cli.md), the default;
- claude: Claude Code, `claude -p` (claude.py, docs/claude-code.md);
- gemini: the Gemini CLI, `gemini -p` (gemini.py, docs/gemini-cli.md);
- command: any executable, `codex.command` + `codex.args` (command.py). A non-null `codex.args` always means
  this kind, whatever agent.kind says: a seed repository's policy works unchanged.

Every kind's adapter module has the functions and constants of `Adapter` below.
"""

import importlib
from pathlib import Path
from typing import Protocol

from .base import AgentResult, AgentSpec

KINDS = ("codex", "claude", "gemini", "command")


class Adapter(Protocol):
    KIND: str
    MODEL_HOSTS: tuple[str, ...]  # the model hosts the egress allowlist lets through for this kind
    KEY_ENV: tuple[str, ...]  # the model credentials and endpoints passed through to the agent
    BASE_URL_ENV: str | None  # the variable naming a custom model endpoint: its host is allowlisted too
    HOME_ENV: str | None  # the variable that points the CLI at its per-run configuration home

    def argv_for(self, settings: dict, spec: AgentSpec, read_only: bool = False) -> list[str]: ...

    def run(self, settings: dict, spec: AgentSpec, say, read_only: bool = False) -> AgentResult: ...

    def describe(self, line: str) -> str | None: ...

    def prepare_home(self, home: Path, settings: dict) -> Path | None: ...

    def meter(self, limit: int | None, config_home: Path | None): ...  # a usage.Meter


def kind_of(policy, codex: dict | None = None) -> str:
    """The agent kind that runs: `command` whenever `codex.args` (or the reviewer's args, in `codex`) is given."""
    codex = policy["codex"] if codex is None else codex
    if codex.get("args") is not None:
        return "command"
    kind = (policy["agent"] or {}).get("kind")
    return kind if kind in ("codex", "claude", "gemini") else "codex"


def adapter(kind: str) -> Adapter:
    if kind not in KINDS:
        raise ValueError(f"unknown agent kind {kind!r}")
    return importlib.import_module(f"{__name__}.{kind}")  # type: ignore[return-value]


def settings(policy, kind: str, codex: dict | None = None) -> dict:
    """What the adapter of `kind` reads: the `codex` section (timeouts, budget, envPassthrough and, for codex
    and command, the command line), with agent.claude / agent.gemini (command, model, extraArgs) laid over it."""
    codex = dict(policy["codex"] if codex is None else codex)
    if kind in ("claude", "gemini"):
        own = dict(policy["agent"].get(kind) or {})
        codex.update(command=own.get("command") or kind, model=own.get("model"),
                     extraArgs=list(own.get("extraArgs") or []))
    return codex


def command_of(policy) -> tuple[str, str]:
    """(policy key, program) of the agent command that runs."""
    kind = kind_of(policy)
    where = f"agent.{kind}.command" if kind in ("claude", "gemini") else "codex.command"
    return where, str(settings(policy, kind)["command"])
