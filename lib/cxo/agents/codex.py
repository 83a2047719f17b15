"""The Codex CLI adapter: `codex exec` in the worktree, JSON events logged, last message saved."""

import json
import subprocess
from pathlib import Path

from .. import proc, usage
from .base import AgentResult, AgentSpec, result
from .command import seed_env
from .environment import MODEL_KEYS, codex_home

KIND = "codex"
MODEL_HOSTS = ("api.openai.com", "chatgpt.com", "auth.openai.com")
KEY_ENV = MODEL_KEYS
BASE_URL_ENV = "OPENAI_BASE_URL"
HOME_ENV = "CODEX_HOME"


def prepare_home(home: Path, settings: dict) -> Path:
    """The per-run CODEX_HOME (a logged-in Codex keeps working: auth.json and config.toml are copied)."""
    return codex_home(home)


def meter(limit: int | None, config_home: Path | None) -> usage.Meter:
    """Usage from `turn.completed` lines and, mid-turn, the session files under CODEX_HOME."""
    return usage.Meter(limit, config_home)


def argv_for(codex_policy: dict, spec: AgentSpec, sandbox: str | None = None, read_only: bool = False) -> list[str]:
    sandbox = "read-only" if read_only else sandbox or codex_policy["sandbox"]
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


_NESTS: dict[str, bool] = {}


def _nests(program: str, box, cwd: str, env: dict) -> bool:
    """Whether the Codex CLI's own sandbox starts inside ours (a bwrap inside a bwrap can fail). Tried once per
    Codex binary and process."""
    if program not in _NESTS:
        try:
            child = proc.spawn([program, "sandbox", "--", "true"], env, box, cwd=cwd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _NESTS[program] = child.wait(timeout=60) == 0
        except (OSError, subprocess.TimeoutExpired):
            _NESTS[program] = False
    return _NESTS[program]


def own_sandbox(codex_policy: dict, spec: AgentSpec, wanted: str) -> str:
    """The `--sandbox` mode to give codex: its own when it nests in cxo's sandbox, else off (cxo's sandbox
    carries the workspace-write rules then: the worktree and the report directory are all it may write)."""
    box = spec.sandbox
    if box is None or getattr(box, "kind", "none") == "none" or wanted != "workspace-write":
        return wanted
    env = {**spec.env, **seed_env(spec)}
    program = proc.resolve([codex_policy["command"]], env)[0]
    if _nests(program, box, str(spec.worktree), env):
        return wanted
    return "danger-full-access"


def run(codex_policy: dict, spec: AgentSpec, say, sandbox: str | None = None, read_only: bool = False) -> AgentResult:
    sandbox = "read-only" if read_only else sandbox
    mode = own_sandbox(codex_policy, spec, sandbox or codex_policy["sandbox"])
    if mode != (sandbox or codex_policy["sandbox"]):
        say("the Codex CLI's own sandbox does not start inside cxo's: codex runs with its sandbox off, "
            "cxo's bubblewrap sandbox carries the rules")
    argv = argv_for(codex_policy, spec, mode)
    done = proc.run_logged(argv, cwd=spec.worktree, env={**spec.env, **seed_env(spec)}, stdin_path=spec.prompt_path,
                           log_path=spec.log_path, timeout_s=spec.timeout_s, idle_timeout_s=spec.idle_timeout_s,
                           say=say, describe=describe, events_path=spec.events_path, sandbox=spec.sandbox,
                           meter=spec.meter)
    return result(argv, done, codex_sandbox=mode)
