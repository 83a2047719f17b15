"""Token usage of an agent run, read while it runs: the budget (`codex.maxTokens`) is checked against it.

Two sources, both documented in docs/codex-cli.md and the README's agent section:

- the agent's stdout: a line that is a JSON object with a `usage` object (`input_tokens`,
  `cached_input_tokens`, `output_tokens`, optionally `total_tokens`) or a top-level `total_tokens`. Each such
  line ADDS to the run's figures, like Codex's `turn.completed` (one turn's usage, printed at the turn's end);
- the Codex CLI's rollout file, `$CODEX_HOME/sessions/**/rollout-*.jsonl` (cxo gives codex a per-run
  CODEX_HOME): an `event_msg` of type `token_count` after each model response carries the session's running
  total (`info.total_token_usage`). This is what makes a budget observable in the middle of a Codex turn.

Claude Code and the Gemini CLI have readers of their own (lib/cxo/agents/claude.py, gemini.py): their stdout
events report usage differently (per message, or a running total), so their reader replaces the first source,
and Gemini's per-message session records stand in for the second.

The figures the runner keeps are the larger of the sources per key, so none of them can lower them. They are
the agent's own numbers (its stdout and its files are the agent's): a budget is a cost guard, not a security
boundary.
"""

import json
from pathlib import Path
from typing import Protocol

KEYS = ("input_tokens", "cached_input_tokens", "output_tokens")


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def reported(line: str) -> dict | None:
    """The usage one stdout line reports ({key: int} with `total_tokens`), or None when it reports none."""
    text = line.strip()
    if not text.startswith("{") or '"usage"' not in text and '"total_tokens"' not in text:
        return None
    try:
        event = json.loads(text)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    usage = event.get("usage") if isinstance(event.get("usage"), dict) else None
    if usage is None and "total_tokens" not in event:
        return None
    source = usage if usage is not None else {}
    figures = {key: _count(source.get(key)) for key in KEYS}
    total = _count(source.get("total_tokens", event.get("total_tokens")))
    figures["total_tokens"] = max(total, figures["input_tokens"] + figures["output_tokens"])
    return figures if any(figures.values()) else None


def zero() -> dict:
    return {"input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0, "total_tokens": 0}


def add(a: dict, b: dict) -> dict:
    return {key: _count(a.get(key)) + _count(b.get(key)) for key in zero()}


def figures_of(input_tokens=0, cached=0, output=0, total=0) -> dict:
    """cxo's figures from counts (input includes the cached part, as OpenAI counts it)."""
    figures = {"input_tokens": _count(input_tokens), "cached_input_tokens": _count(cached),
               "output_tokens": _count(output)}
    figures["total_tokens"] = max(_count(total), figures["input_tokens"] + figures["output_tokens"])
    return figures


def biggest(a: dict, b: dict) -> dict:
    return {key: max(_count(a.get(key)), _count(b.get(key))) for key in zero()}


def json_event(line: str, needle: str) -> dict | None:
    """The JSON object one stdout line holds when it mentions `needle` (a cheap test first), else None."""
    text = line.strip()
    if not text.startswith("{") or needle not in text:
        return None
    try:
        event = json.loads(text)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


class Tally:
    """Per-message figures (a message counted once by its key, its last figures kept) beside a session total the
    agent reports at its end: the larger of their sums wins, so neither source can lower the figures."""

    def __init__(self):
        self.messages: dict[str, dict] = {}
        self.total = zero()

    def figures(self) -> dict:
        summed = zero()
        for each in self.messages.values():
            summed = add(summed, each)
        return biggest(summed, self.total)


class Tail:
    """The complete lines appended to the `*.jsonl` files under a directory since the last read."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}

    def lines(self):
        """(path, raw line) for every new complete line."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*.jsonl")):
            try:
                with open(path, "rb") as handle:
                    handle.seek(self._offsets.get(path, 0))
                    chunk = handle.read(4 << 20)
            except OSError:
                continue
            self._offsets[path] = self._offsets.get(path, 0) + len(chunk)
            data = self._partial.pop(path, b"") + chunk
            *lines, rest = data.split(b"\n")
            if rest:
                self._partial[path] = rest[-(1 << 20):]
            for raw in lines:
                yield path, raw


class Reader(Protocol):
    """An agent kind's own way of reading its usage (lib/cxo/agents/claude.py, gemini.py)."""

    def feed(self, line: str) -> None: ...

    def poll(self) -> None: ...

    def figures(self) -> dict: ...


class Meter:
    """Adds up what the agent reports while it runs; `exhausted()` once the total reaches `limit`. `reader`: the
    agent kind's own usage reader, which then reads stdout instead of the generic `usage` lines."""

    def __init__(self, limit: int | None = None, codex_home: Path | None = None, reader: Reader | None = None):
        self.limit = limit
        self.codex_home = Path(codex_home) if codex_home else None
        self.reader = reader
        self.from_stdout = zero()
        self.from_rollout: dict[Path, dict] = {}  # per session file: its latest running total
        self._tail = Tail(self.codex_home / "sessions") if self.codex_home else None

    def feed(self, line: str) -> None:
        if self.reader is not None:
            self.reader.feed(line)
            return
        figures = reported(line)
        if figures:
            self.from_stdout = add(self.from_stdout, figures)

    def poll(self) -> None:
        """Read what the Codex CLI appended to its session files since the last poll (complete lines only)."""
        if self.reader is not None:
            self.reader.poll()
        if self._tail is None:
            return
        for path, raw in self._tail.lines():
            if b"token_count" in raw:
                self._rollout_line(path, raw)

    def _rollout_line(self, path: Path, raw: bytes) -> None:
        try:
            event = json.loads(raw)
            payload = event.get("payload") or {}
            total = (payload.get("info") or {}).get("total_token_usage") if payload.get("type") == "token_count" \
                else None
        except (ValueError, AttributeError):
            return
        if isinstance(total, dict):
            figures = {key: _count(total.get(key)) for key in KEYS}
            figures["total_tokens"] = max(_count(total.get("total_tokens")),
                                          figures["input_tokens"] + figures["output_tokens"])
            self.from_rollout[path] = figures

    def usage(self) -> dict:
        rollout = zero()
        for figures in self.from_rollout.values():
            rollout = add(rollout, figures)
        got = {key: max(self.from_stdout[key], rollout[key]) for key in zero()}
        return biggest(got, self.reader.figures()) if self.reader is not None else got

    def reported_any(self) -> bool:
        return any(self.usage().values())

    def exhausted(self) -> bool:
        return self.limit is not None and self.usage()["total_tokens"] >= self.limit


def describe(usage: dict | None) -> str:
    """`12,345 tokens (10,000 in, 2,000 cached, 2,345 out)`, or `not reported`."""
    if not usage or not usage.get("total_tokens"):
        return "not reported"
    return (f"{usage['total_tokens']:,} tokens ({usage.get('input_tokens', 0):,} in, "
            f"{usage.get('cached_input_tokens', 0):,} cached, {usage.get('output_tokens', 0):,} out)")
