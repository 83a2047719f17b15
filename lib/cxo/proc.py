"""Every process cxo starts for agent-written code goes through here: exact environment, own session, sandbox.

The agent, the reviewer, checks, tdd test runs and proof commands all execute
code the agent wrote. They are started by `spawn` with EXACTLY the environment
given (never the runner's, which holds the token) and, when a sandbox is given,
inside it. Timeouts and interrupts kill the whole process group.
"""

import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

PROGRESS_EVERY = 15.0


class Wrapper(Protocol):
    """What a sandbox offers this module: turn an argv into one that runs inside it."""

    kind: str

    def wrap(self, argv: list[str], cwd: Path) -> list[str]: ...


def resolve(argv: list[str], env: dict) -> list[str]:
    """argv with its program resolved on `env`'s PATH; FileNotFoundError names it when it is missing."""
    program = argv[0]
    if os.sep in program:
        if not os.access(program, os.X_OK):
            raise FileNotFoundError(2, "not executable", program)
        return argv
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    if not found:
        raise FileNotFoundError(2, "not found on PATH", program)
    return [found, *argv[1:]]


def spawn(argv: list[str], env: dict, sandbox: Wrapper | None = None, **popen_kwargs) -> subprocess.Popen:
    """Start `argv` with exactly `env` (nothing of the runner's environment is merged in), in its own session."""
    argv = resolve(argv, env)
    cwd = Path(popen_kwargs.get("cwd") or os.getcwd())
    if sandbox is not None:
        argv = sandbox.wrap(argv, cwd)
    popen_kwargs.setdefault("start_new_session", True)
    popen_kwargs.setdefault("close_fds", True)
    return subprocess.Popen(argv, env=env, **popen_kwargs)


def close(sandbox: Wrapper | None) -> None:
    """Tear down what a sandbox started for its process (the egress proxy and its socket)."""
    if sandbox is not None and hasattr(sandbox, "close"):
        sandbox.close()


def kill_group(proc: subprocess.Popen) -> None:
    """TERM the process group, KILL it if it lingers."""
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


def run_command(command: str, cwd: Path, log_path: Path, timeout_s: float, env: dict,
                sandbox: Wrapper | None = None) -> tuple[int | None, bool]:
    """Run `command` with bash in `cwd`, output to `log_path`; (exit code, timed out)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        proc = spawn(["bash", "-c", command], env, sandbox, stdin=subprocess.DEVNULL, stdout=log,
                     stderr=subprocess.STDOUT, cwd=str(cwd))
        try:
            return proc.wait(timeout=timeout_s), False
        except subprocess.TimeoutExpired:
            kill_group(proc)
            return None, True
        except KeyboardInterrupt:  # the runner is stopping: what it started must not outlive it
            kill_group(proc)
            raise
        finally:
            close(sandbox)


@dataclass
class Finished:
    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    idle_timed_out: bool = False
    last_event: str = ""
    stopped: bool = False  # killed because `stop()` said so (the token budget)


def _watch(proc, started: float, state: dict, timeout_s: float, idle_timeout_s: float, say,
           stop=None) -> tuple[bool, bool, bool]:
    """Wait for `proc`, killing it on the total or idle timeout, or when `stop()` says so (checked about once a
    second). (timed out, idle, stopped)."""
    next_progress = started + PROGRESS_EVERY
    next_stop_check = started
    while proc.poll() is None:
        now = time.monotonic()
        timed_out = now - started > timeout_s
        idle = not timed_out and now - state["last_output"] > idle_timeout_s
        if timed_out or idle:
            say(f"agent {'timed out' if timed_out else 'idle too long'} after {now - started:.0f}s: killing it")
            kill_group(proc)
            return timed_out, idle, False
        if stop is not None and now >= next_stop_check:
            next_stop_check = now + 1.0
            why = stop()
            if why:
                say(f"{why} after {now - started:.0f}s: stopping the agent")
                kill_group(proc)
                return False, False, True
        if state["last_event"]:
            from . import killpoints

            killpoints.reached("agent")  # test-only: the runner dies while its agent works
        if now >= next_progress:
            say(f"agent running {now - started:.0f}s; last: {state['last_event'] or '(no output yet)'}")
            next_progress = now + PROGRESS_EVERY
        time.sleep(0.1)
    return False, False, False


def run_logged(argv: list[str], *, cwd: Path, env: dict, stdin_path: Path, log_path: Path, timeout_s: float,
               idle_timeout_s: float, say, describe=None, events_path: Path | None = None,
               sandbox: Wrapper | None = None, meter=None) -> Finished:
    """Run `argv`; every output line goes to `log_path` (and JSON lines also to `events_path`).

    `describe(line) -> str | None` turns an output line into a short progress note. `meter` (a usage.Meter)
    is fed every line and polled while the agent runs; once it is exhausted the agent's process group is
    killed like on a timeout (`Finished.stopped`).
    """
    started = time.monotonic()
    state = {"last_output": started, "last_event": ""}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(stdin_path, "rb") as stdin, open(log_path, "w") as log:
        events = open(events_path, "w") if events_path else None
        proc = spawn(argv, env, sandbox, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                     cwd=str(cwd), text=True, errors="replace", bufsize=1)

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
                if meter is not None:
                    meter.feed(line)

        def over_budget() -> str | None:
            meter.poll()
            if meter.exhausted():
                return f"token budget reached ({meter.usage()['total_tokens']:,} of {meter.limit:,} tokens)"
            return None

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            timed_out, idle, stopped = _watch(proc, started, state, timeout_s, idle_timeout_s, say,
                                              over_budget if meter is not None and meter.limit else None)
        except KeyboardInterrupt:
            kill_group(proc)
            close(sandbox)
            raise
        proc.wait()
        close(sandbox)
        reader.join(timeout=5)
        if events is not None:
            events.close()
    if meter is not None:
        meter.poll()
    return Finished(proc.returncode, time.monotonic() - started, timed_out, idle, state["last_event"], stopped)
