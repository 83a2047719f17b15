"""The Claude Code adapter: `claude -p` in the worktree, stream-json events logged, the final text saved.

docs/claude-code.md has the command line and the event stream, verified against the pinned version.
"""

import json
import shutil
from pathlib import Path

from .. import proc, usage
from .base import AgentResult, AgentSpec, result
from .command import seed_env

KIND = "claude"
MODEL_HOSTS = ("api.anthropic.com",)
KEY_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL")
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
HOME_ENV = "CLAUDE_CONFIG_DIR"
# No update checks, error reports or telemetry: the model host is the only one the agent needs.
QUIET = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}
# The implementing agent's tools. Claude Code's permission prompts cannot be answered in -p mode, so the tools
# are allowed up front: edits (acceptEdits: in the worktree and the --add-dir report directory only) and Bash
# without asking. That is the Codex CLI's workspace-write only because cxo's sandbox carries the rules around
# it (bubblewrap: the worktree and the report directory are all it may write, egress through the allowlist
# proxy). Not --dangerously-skip-permissions: Claude Code refuses it as root, and acceptEdits keeps its own
# guard on paths outside the workspace.
WRITE_TOOLS = "Bash,Edit,Write,Read,Glob,Grep,NotebookEdit"


def read_tools(report_dir: Path) -> str:
    """The reviewer's tools: reading, and writing only in the report directory (`Edit(//abs/**)` is a rule on
    every file-editing tool; `//` marks an absolute path). Everything else is denied, Bash included."""
    return f"Read,Glob,Grep,Edit(/{report_dir}/**)"


def prepare_home(home: Path, settings: dict, source: dict | None = None) -> Path:
    """A per-run CLAUDE_CONFIG_DIR; a logged-in Claude Code keeps working (only .credentials.json is copied)."""
    import os

    source = os.environ if source is None else source
    target = home / ".claude"
    target.mkdir(parents=True, exist_ok=True)
    user = Path(source.get("CLAUDE_CONFIG_DIR") or Path(source.get("HOME", "~")).expanduser() / ".claude")
    if (user / ".credentials.json").is_file():
        shutil.copy2(user / ".credentials.json", target / ".credentials.json")
    return target


def argv_for(settings: dict, spec: AgentSpec, read_only: bool = False) -> list[str]:
    report_dir = spec.report_path.parent
    argv = [settings["command"], "-p", "--output-format", "stream-json", "--verbose", "--add-dir", str(report_dir)]
    if read_only:
        argv += ["--permission-mode", "default", "--allowedTools", read_tools(report_dir)]
    else:
        argv += ["--permission-mode", "acceptEdits", "--allowedTools", WRITE_TOOLS]
    if settings.get("model"):
        argv += ["--model", settings["model"]]
    return argv + list(settings.get("extraArgs") or [])  # the prompt comes on stdin


def describe(line: str) -> str | None:
    """A short progress note from one stream-json event line."""
    try:
        event = json.loads(line)
    except ValueError:
        return line.strip()[:120] or None
    if not isinstance(event, dict):
        return None
    kind = str(event.get("type", ""))
    if kind == "assistant":
        parts = []
        for block in (event.get("message") or {}).get("content") or []:
            if block.get("type") == "tool_use":
                given = block.get("input") or {}
                what = given.get("command") or given.get("file_path") or given.get("pattern") or ""
                parts.append(f"{block.get('name')} `{str(what)[:80]}`" if what else str(block.get("name")))
            elif block.get("type") == "text":
                parts.append("message")
        return f"assistant {', '.join(parts)}".strip()
    if kind == "result":
        return f"result {event.get('subtype', '')}{' (error)' if event.get('is_error') else ''}"
    return f"{kind} {event.get('subtype') or ''}".strip() or None


def figures(raw: dict) -> dict:
    """cxo's figures from Anthropic's usage: input counts the cache writes and reads, `cached` the reads."""
    def count(key):
        value = raw.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0

    cached = count("cache_read_input_tokens")
    return usage.figures_of(count("input_tokens") + count("cache_creation_input_tokens") + cached, cached,
                            count("output_tokens"))


class Usage(usage.Tally):
    """Claude Code's usage: each `assistant` event carries its API message's usage (the same message may come
    in several events: counted once, by message id, the last figures kept); the `result` event at the end
    carries the session's total."""

    def feed(self, line: str) -> None:
        event = usage.json_event(line, '"usage"')
        if event is None:
            return
        if event.get("type") == "assistant":
            message = event.get("message") or {}
            if isinstance(message.get("usage"), dict):
                key = str(message.get("id") or len(self.messages))
                self.messages[key] = usage.biggest(self.messages.get(key, {}), figures(message["usage"]))
        elif event.get("type") == "result" and isinstance(event.get("usage"), dict):
            self.total = usage.biggest(self.total, figures(event["usage"]))

    def poll(self) -> None:
        pass


def meter(limit: int | None, config_home: Path | None) -> usage.Meter:
    return usage.Meter(limit, reader=Usage())


def last_text(events_path: Path | None) -> str | None:
    """The `result` event's final text, if the run got that far."""
    if events_path is None or not events_path.is_file():
        return None
    found = None
    for line in events_path.read_text(errors="replace").splitlines():
        if '"result"' in line:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("type") == "result" and isinstance(event.get("result"), str):
                found = event["result"]
    return found


def key_by_helper(env: dict) -> dict:
    """The environment without ANTHROPIC_API_KEY, which Claude Code reads through `apiKeyHelper` in the per-run
    CLAUDE_CONFIG_DIR instead: Claude Code hands its whole environment to the agent's shell, and its own
    scrubbing (CLAUDE_CODE_SUBPROCESS_ENV_SCRUB) needs a bubblewrap and socat of its own inside cxo's sandbox.
    A second guard, like Codex's shell_environment_policy: the file stays readable by the agent's uid."""
    import shlex

    key, home = env.get("ANTHROPIC_API_KEY"), env.get(HOME_ENV)
    if not key or not home:
        return env
    path = Path(home) / "cxo-model-key"
    path.touch(mode=0o600)
    path.write_text(key)
    config = Path(home) / "settings.json"
    try:
        current = json.loads(config.read_text()) if config.is_file() else {}
    except ValueError:
        current = {}
    config.write_text(json.dumps({**current, "apiKeyHelper": f"cat {shlex.quote(str(path))}"}, indent=2))
    return {name: value for name, value in env.items() if name != "ANTHROPIC_API_KEY"}


def run(settings: dict, spec: AgentSpec, say, read_only: bool = False) -> AgentResult:
    argv = argv_for(settings, spec, read_only)
    done = proc.run_logged(argv, cwd=spec.worktree, env={**key_by_helper(spec.env), **seed_env(spec), **QUIET},
                           stdin_path=spec.prompt_path, log_path=spec.log_path, timeout_s=spec.timeout_s,
                           idle_timeout_s=spec.idle_timeout_s, say=say, describe=describe,
                           events_path=spec.events_path, sandbox=spec.sandbox, meter=spec.meter)
    text = last_text(spec.events_path)
    if spec.last_message_path and text is not None:
        spec.last_message_path.write_text(text)
    return result(argv, done)
