"""Run an agent process: prompt on stdin, output to a log, total and idle timeouts, progress on stderr."""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from .base import AgentResult

PROGRESS_EVERY = 15.0


def _kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    except PermissionError:
        proc.kill()


def _watch(proc, started: float, state: dict, timeout_s: float, idle_timeout_s: float, say) -> tuple[bool, bool]:
    """Wait for the agent, killing it on the total or idle timeout; progress on stderr. (timed out, idle)."""
    next_progress = started + PROGRESS_EVERY
    while proc.poll() is None:
        now = time.monotonic()
        timed_out = now - started > timeout_s
        idle = not timed_out and now - state["last_output"] > idle_timeout_s
        if timed_out or idle:
            say(f"agent {'timed out' if timed_out else 'idle too long'} after {now - started:.0f}s: killing it")
            _kill_group(proc)
            return timed_out, idle
        if now >= next_progress:
            say(f"agent running {now - started:.0f}s; last: {state['last_event'] or '(no output yet)'}")
            next_progress = now + PROGRESS_EVERY
        time.sleep(0.1)
    return False, False


def spawn(argv: list[str], env: dict, **popen_kwargs):
    """Start `argv` with EXACTLY `env`: plumbum merges its own environment into an `env=` argument,
    which would hand the runner's GitHub token to the agent, so swap plumbum's environment instead."""
    from plumbum import local

    with local.env():
        local.env.clear()
        local.env.update(**env)
        return local[argv[0]][argv[1:]].popen(**popen_kwargs)


def run(argv: list[str], *, cwd: Path, env: dict, stdin_path: Path, log_path: Path, timeout_s: float,
        idle_timeout_s: float, say, describe=None, events_path: Path | None = None) -> AgentResult:
    """Run `argv`; every output line goes to `log_path` (and JSON lines also to `events_path`).

    `describe(line) -> str | None` turns an output line into a short progress note.
    """
    started = time.monotonic()
    state = {"last_output": started, "last_event": ""}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(stdin_path, "rb") as stdin, open(log_path, "w") as log:
        events = open(events_path, "w") if events_path else None
        # Its own session, so a timeout can kill every child the agent started.
        proc = spawn(argv, env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(cwd),
                     start_new_session=True, text=True, errors="replace", bufsize=1)

        def pump():
            for line in proc.stdout:
                state["last_output"] = time.monotonic()
                log.write(line)
                log.flush()
                if events is not None and line.lstrip().startswith("{"):
                    events.write(line)
                    events.flush()
                note = describe(line) if describe else line.strip()[:120]
                if note:
                    state["last_event"] = note

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            timed_out, idle = _watch(proc, started, state, timeout_s, idle_timeout_s, say)
        except KeyboardInterrupt:
            # The runner is being stopped: the agent (in its own session) must not outlive it.
            _kill_group(proc)
            raise
        proc.wait()
        reader.join(timeout=5)
        if events is not None:
            events.close()
    return AgentResult(command=list(argv), exit_code=proc.returncode, duration_s=time.monotonic() - started,
                       timed_out=timed_out, idle_timed_out=idle, last_event=state["last_event"])
