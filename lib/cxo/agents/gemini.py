"""The Gemini CLI adapter: `gemini` headless in the worktree (prompt on stdin), stream-json events logged.

docs/gemini-cli.md has the command line, the settings cxo writes and the event stream, verified against the
pinned version.
"""

import json
import os
import shutil
from pathlib import Path

from .. import proc, usage
from .base import AgentResult, AgentSpec, result
from .command import seed_env

KIND = "gemini"
MODEL_HOSTS = ("generativelanguage.googleapis.com",)
KEY_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL")
BASE_URL_ENV = "GOOGLE_GEMINI_BASE_URL"
HOME_ENV = "GEMINI_CLI_HOME"
# The settings cxo writes into the per-run home: API-key auth (unless the user is logged in and has no key),
# no usage statistics, no update checks, no folder-trust prompt (the worktree is cxo's own), no secrets in the
# shell's environment.
SETTINGS = {"privacy": {"usageStatisticsEnabled": False},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
            "telemetry": {"enabled": False},
            "security": {"folderTrust": {"enabled": False}, "auth": {"selectedType": "gemini-api-key"},
                         # Second guard after cxo's allow-list: the agent's shell gets no variable named like
                         # a key, secret or token (GEMINI_API_KEY included; docs/gemini-cli.md).
                         "environmentVariableRedaction": {"enabled": True}}}
LOGIN_FILES = ("oauth_creds.json", "google_accounts.json")


def prepare_home(home: Path, settings: dict, source: dict | None = None) -> Path:
    """A per-run GEMINI_CLI_HOME (the CLI keeps its settings, sessions and chats in <home>/.gemini). Without
    GEMINI_API_KEY a logged-in user's auth type and login files are carried over."""
    source = os.environ if source is None else source
    target = home / ".gemini"
    target.mkdir(parents=True, exist_ok=True)
    written = json.loads(json.dumps(SETTINGS))
    user = Path(source.get("GEMINI_CLI_HOME") or source.get("HOME", "~")).expanduser() / ".gemini"
    if not source.get("GEMINI_API_KEY") and not source.get("GOOGLE_API_KEY"):
        try:
            theirs = json.loads((user / "settings.json").read_text())
            chosen = ((theirs.get("security") or {}).get("auth") or {}).get("selectedType")
        except (OSError, ValueError, AttributeError):
            chosen = None
        if isinstance(chosen, str) and chosen:
            written["security"]["auth"]["selectedType"] = chosen
            for name in LOGIN_FILES:
                if (user / name).is_file():
                    shutil.copy2(user / name, target / name)
    (target / "settings.json").write_text(json.dumps(written, indent=2) + "\n")
    return home


def _pattern(path: str) -> str:
    """A regular expression matching `path` literally (each special character in a class of its own)."""
    return "".join(c if c.isalnum() or c in "/_-" else f"[{c}]" if c not in "\\]^" else "\\" + c for c in path)


def read_only_policy(report_dir: Path) -> str:
    """A policy-engine rule file for the reviewer: in approval mode `default` every tool that would ask is
    denied headless (shell, edits); this allows `write_file` into the report directory only."""
    # The CLI matches the pattern against the arguments as compact JSON: "file_path":"/dir/...
    prefix = json.dumps({"file_path": f"{report_dir}/"}, separators=(",", ":"))[1:-1].rstrip('"')
    return (f"# cxo: the reviewer writes its verdict and nothing else\n[[rule]]\ntoolName = \"write_file\"\n"
            f"argsPattern = {json.dumps(_pattern(prefix))}\ndecision = \"allow\"\npriority = 100\n")


def policy_path(spec: AgentSpec) -> Path:
    return Path(spec.env.get("HOME") or spec.run_dir) / ".gemini" / "cxo-read-only.toml"


def argv_for(settings: dict, spec: AgentSpec, read_only: bool = False) -> list[str]:
    report_dir = spec.report_path.parent
    argv = [settings["command"], "--output-format", "stream-json", "--skip-trust",
            "--include-directories", str(report_dir)]
    if read_only:
        argv += ["--approval-mode", "default", "--policy", str(policy_path(spec))]
    else:
        # yolo: every tool call is approved (there is no one to ask headless). That is the Codex CLI's
        # workspace-write only because cxo's sandbox carries the rules around it (bubblewrap: the worktree and
        # the report directory are all it may write, egress through the allowlist proxy).
        argv += ["--approval-mode", "yolo"]
    if settings.get("model"):
        argv += ["--model", settings["model"]]
    return argv + list(settings.get("extraArgs") or [])  # the prompt comes on stdin (headless without a TTY)


def describe(line: str) -> str | None:
    """A short progress note from one stream-json event line."""
    try:
        event = json.loads(line)
    except ValueError:
        return line.strip()[:120] or None
    if not isinstance(event, dict):
        return None
    kind = str(event.get("type", ""))
    if kind == "tool_use":
        given = event.get("parameters") or {}
        what = given.get("command") or given.get("file_path") or given.get("dir_path") or ""
        return f"tool_use {event.get('tool_name')}" + (f" `{str(what)[:80]}`" if what else "")
    if kind in ("tool_result", "result"):
        return f"{kind} {event.get('status', '')}".strip()
    if kind == "message":
        return f"message {event.get('role', '')}".strip()
    return kind or None


class Usage(usage.Tally):
    """The Gemini CLI's usage: the `result` event at the end carries the session's total (`stats`); while it
    runs, its chat records (<home>/.gemini/tmp/<project>/chats/session-*.jsonl) carry each model response's
    `tokens` (a record may be written again with the same id: the last figures count)."""

    def __init__(self, home: Path | None):
        super().__init__()
        self.tail = usage.Tail(Path(home) / ".gemini" / "tmp") if home else None

    def feed(self, line: str) -> None:
        event = usage.json_event(line, '"stats"')
        stats = event.get("stats") if event is not None and event.get("type") == "result" else None
        if isinstance(stats, dict):
            self.total = usage.biggest(self.total, usage.figures_of(
                stats.get("input_tokens"), stats.get("cached"), stats.get("output_tokens"), stats.get("total_tokens")))

    def poll(self) -> None:
        if self.tail is None:
            return
        for path, raw in self.tail.lines():
            if b'"tokens"' not in raw:
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            tokens = record.get("tokens") if isinstance(record, dict) else None
            if isinstance(tokens, dict) and record.get("id"):
                self.messages[f"{path}:{record['id']}"] = usage.figures_of(
                    tokens.get("input"), tokens.get("cached"), tokens.get("output"), tokens.get("total"))


def meter(limit: int | None, config_home: Path | None) -> usage.Meter:
    return usage.Meter(limit, reader=Usage(config_home))


def last_text(events_path: Path | None) -> str | None:
    """The assistant's last message: its `message` chunks after the last tool call, joined."""
    if events_path is None or not events_path.is_file():
        return None
    chunks: list[str] | None = None
    for line in events_path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        if event.get("type") in ("tool_use", "tool_result"):
            chunks = None
        elif event.get("type") == "message" and event.get("role") == "assistant":
            chunks = (chunks or []) + [str(event.get("content") or "")]
    return "".join(chunks) if chunks is not None else None


def run(settings: dict, spec: AgentSpec, say, read_only: bool = False) -> AgentResult:
    if read_only:
        path = policy_path(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(read_only_policy(spec.report_path.parent))
    argv = argv_for(settings, spec, read_only)
    done = proc.run_logged(argv, cwd=spec.worktree, env={**spec.env, **seed_env(spec)},
                           stdin_path=spec.prompt_path, log_path=spec.log_path, timeout_s=spec.timeout_s,
                           idle_timeout_s=spec.idle_timeout_s, say=say, describe=describe,
                           events_path=spec.events_path, sandbox=spec.sandbox, meter=spec.meter)
    text = last_text(spec.events_path)
    if spec.last_message_path and text is not None:
        spec.last_message_path.write_text(text)
    return result(argv, done)
