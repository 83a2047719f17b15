"""The agent adapters and lib/cxo/proc.py against fake processes (pytest-subprocess's fake_process).

Where the point is how cxo reacts to a process misbehaving (missing, killed by a signal,
printing garbage, never finishing), a fake process plays it exactly and quickly. No real
process is started or signalled here: `os.killpg` is replaced so that a fake process id can
never reach a real process group. End-to-end tests keep real processes.
"""

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from cxo import proc
from cxo.agents import codex as codex_adapter
from cxo.agents import command as command_adapter
from cxo.agents.base import AgentSpec
from cxo.steps.codex import exit_reason


class Group:
    """Fake processes by pid, and the stand-in for os.killpg that delivers signals only to them."""

    def __init__(self):
        self.by_pid = {}
        self.recorders = []
        self.sent = []

    def killpg(self, pgid, sig):
        fakes = {**self.by_pid, **{p.pid: p for r in self.recorders for p in r.calls}}
        if pgid not in fakes:
            raise AssertionError(f"cxo tried to signal process group {pgid}, which is no fake process")
        self.sent.append(sig)
        fakes[pgid].send_signal(sig)


@pytest.fixture
def group(monkeypatch):
    g = Group()
    monkeypatch.setattr(proc.os, "killpg", g.killpg)
    return g


def hangs_until_signalled(group, output=(), dies_on=(signal.SIGTERM,)):
    """A callback and a signal callback: the fake prints `output` (already in its stdout) and runs until it
    receives one of `dies_on`, then ends as a real process would (returncode -signal)."""
    stop = threading.Event()

    def run(process):
        group.by_pid[process.pid] = process
        stop.wait(30)

    def on_signal(process, sig):
        if sig in dies_on:
            process.returncode = -sig
            stop.set()

    return {"callback": run, "signal_callback": on_signal, "stdout": list(output)}


@pytest.fixture
def agent_bin(tmp_path) -> Path:
    """A directory with an executable `my-agent` and `codex`, so argv resolution finds them; never run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("my-agent", "codex"):
        (bin_dir / name).write_text("#!/bin/sh\nexit 99\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir


def spec_for(tmp_path: Path, agent_bin: Path, **kw) -> AgentSpec:
    worktree = tmp_path / "wt"
    worktree.mkdir(exist_ok=True)
    prompt = tmp_path / "prompt.md"
    prompt.write_text("do the thing\n")
    values = dict(worktree=worktree, prompt_path=prompt, report_path=tmp_path / "out" / "report.json",
                  issue_number=7, branch_name="agent/7", state_dir=tmp_path / "state", run_dir=tmp_path / "run",
                  log_path=tmp_path / "run" / "agent.log", timeout_s=30, idle_timeout_s=30,
                  env={"PATH": f"{agent_bin}{os.pathsep}/usr/bin:/bin"})
    values.update(kw)
    return AgentSpec(**values)


COMMAND_POLICY = {"command": "my-agent", "args": ["--workdir", "${worktreePath}"]}
CODEX_POLICY = {"command": "codex", "sandbox": "workspace-write", "model": None, "profile": None, "extraArgs": []}


def command_argv(agent_bin, spec):
    return [str(agent_bin / "my-agent"), "--workdir", str(spec.worktree)]


def test_a_missing_agent_binary_starts_nothing_and_is_named(tmp_path, agent_bin, fake_process):
    spec = spec_for(tmp_path, agent_bin)
    with pytest.raises(FileNotFoundError) as missing:
        command_adapter.run({"command": "no-such-agent", "args": []}, spec, say=lambda m: None)
    assert missing.value.filename == "no-such-agent"
    (agent_bin / "not-executable").write_text("")
    with pytest.raises(FileNotFoundError) as not_exec:
        command_adapter.run({"command": str(agent_bin / "not-executable"), "args": []}, spec, say=lambda m: None)
    assert not_exec.value.filename == str(agent_bin / "not-executable")
    assert len(fake_process.calls) == 0


def test_an_agent_killed_by_a_signal_is_reported_as_such(tmp_path, agent_bin, fake_process):
    spec = spec_for(tmp_path, agent_bin)
    fake_process.register(command_argv(agent_bin, spec), stdout=["working on it"], returncode=-signal.SIGKILL)
    result = command_adapter.run(COMMAND_POLICY, spec, say=lambda m: None)
    assert result.exit_code == -9 and not result.timed_out and not result.idle_timed_out
    assert exit_reason(result.exit_code) == "agent was killed by signal 9 (SIGKILL)"
    assert exit_reason(3) == "agent exited with status 3"
    assert "working on it" in spec.log_path.read_text()
    # The agent got the prompt on stdin and the seed's environment, nothing of the runner's.
    (call,) = fake_process.calls
    assert call == command_argv(agent_bin, spec)


def test_the_agent_gets_exactly_the_given_environment(tmp_path, agent_bin, fake_process, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "runner-secret")
    spec = spec_for(tmp_path, agent_bin)
    seen = {}
    fake_process.register(command_argv(agent_bin, spec), callback=lambda p: seen.update(p.kwargs))
    command_adapter.run(COMMAND_POLICY, spec, say=lambda m: None)
    env = seen["env"]
    assert "GITHUB_TOKEN" not in env
    assert env["CODEX_ORCHESTRATOR_REPORT_FILE"] == str(spec.report_path)
    assert env["CODEX_ORCHESTRATOR_ROLE"] == "implement"
    assert seen["start_new_session"] is True and seen["cwd"] == str(spec.worktree)


def test_codex_printing_garbage_is_logged_and_only_json_lines_are_events(tmp_path, agent_bin, fake_process):
    spec = spec_for(tmp_path, agent_bin, events_path=tmp_path / "run" / "events.jsonl")
    lines = ["\x1b[31mnot json at all\x1b[0m \x07",
             '{"type": "turn.started"}',
             "{ this is not json either",
             "",
             '{"type": "item.completed", "item": {"type": "command_execution", "command": "ls -la"}}']
    fake_process.register([fake_process.program("codex"), fake_process.any()], stdout=lines)
    result = codex_adapter.run(CODEX_POLICY, spec, say=lambda m: None)
    assert result.exit_code == 0
    assert result.last_event == "item.completed command_execution `ls -la`"
    events = spec.events_path.read_text().splitlines()
    assert events == [lines[1], lines[2], lines[4]]
    assert spec.log_path.read_text().splitlines() == lines
    with pytest.raises(json.JSONDecodeError):
        json.loads(events[1])  # kept as written: the event log is evidence, not a parsed copy


def test_an_agent_past_its_total_timeout_has_its_group_killed(tmp_path, agent_bin, fake_process, group):
    spec = spec_for(tmp_path, agent_bin, timeout_s=0.3, idle_timeout_s=30)
    fake_process.register(command_argv(agent_bin, spec), **hangs_until_signalled(group, ["started"]))
    said = []
    started = time.monotonic()
    result = command_adapter.run(COMMAND_POLICY, spec, say=said.append)
    assert time.monotonic() - started < 10
    assert result.timed_out and not result.idle_timed_out
    assert group.sent == [signal.SIGTERM] and result.exit_code == -signal.SIGTERM
    assert any("timed out" in m for m in said), said


def test_a_silent_agent_is_killed_for_idling(tmp_path, agent_bin, fake_process, group):
    spec = spec_for(tmp_path, agent_bin, timeout_s=60, idle_timeout_s=0.3)
    fake_process.register(command_argv(agent_bin, spec), **hangs_until_signalled(group, ["one line, then nothing"]))
    result = command_adapter.run(COMMAND_POLICY, spec, say=lambda m: None)
    assert result.idle_timed_out and not result.timed_out
    assert group.sent == [signal.SIGTERM]


def test_run_command_times_out_and_kills_the_check(tmp_path, fake_process, group):
    bash = shutil.which("bash", path="/usr/bin:/bin")

    def on_signal(process, sig):
        process.returncode = -sig

    # `wait`: a process that would run 1 s, so the 0.2 s timeout of wait() expires first.
    recorder = fake_process.register([bash, "-c", "pytest -q"], wait=1.0, signal_callback=on_signal)
    group.recorders.append(recorder)
    code, timed_out = proc.run_command("pytest -q", tmp_path, tmp_path / "check.log", 0.2, {"PATH": "/usr/bin:/bin"})
    assert (code, timed_out) == (None, True)
    assert group.sent == [signal.SIGTERM]


def test_run_command_reports_a_check_killed_by_a_signal(tmp_path, fake_process):
    bash = shutil.which("bash", path="/usr/bin:/bin")
    fake_process.register([bash, "-c", "make test"], stdout=["Segmentation fault"], returncode=-signal.SIGSEGV)
    log = tmp_path / "check.log"
    code, timed_out = proc.run_command("make test", tmp_path, log, 5, {"PATH": "/usr/bin:/bin"})
    assert (code, timed_out) == (-signal.SIGSEGV, False)
    assert "Segmentation fault" in log.read_text()
