#!/usr/bin/env python3
"""A scripted stand-in for an agent CLI, run as a real process by the command adapter.

Usage: fake_agent.py --script SCRIPT.json
The script is a JSON list of actions, done in order in the current directory:
  {"write": {"path": "text", ...}}        write files (parents created)
  {"append": {"path": "text", ...}}       append to files ($VARS expanded; e.g. a counter shared by runners)
  {"delete": ["path", ...]}               delete files
  {"rmtree": "path"}                      delete a directory tree (e.g. the hub's bare repository)
  {"symlink": {"link": "target"}}         create symlinks
  {"git": ["add", "-A"]}                  run git with these arguments
  {"report": {...}}                       write JSON to $CODEX_ORCHESTRATOR_REPORT_FILE
  {"report_text": "..."}                  write raw text there (for malformed reports)
  {"env_dump": "path"}                    write the environment as JSON to path (absolute or relative)
  {"read_prompt": "path"}                 copy stdin (the prompt) to path
  {"stdout": "text"} / {"stderr": "text"} print
  {"sleep": seconds}                      sleep
  {"exit": code}                          exit now with code
  {"kill_parent_once": "marker"}          SIGKILL the runner that started this agent, the first time only
                                          (only without a sandbox: inside one the runner is out of reach)
  {"pause_once": "marker"}                the first time only: print a line and sleep 60 s (the runner's
                                          CXO_TEST_KILL_AT=agent kills it meanwhile)
  {"sh": "command"}                       run a shell command (what a malicious agent would try)
  {"check": "command"}                    run a shell command; exit with its status when it fails
  {"role": {"plan": [...], "implement": [...]}}  the actions for $CODEX_ORCHESTRATOR_ROLE (an issue tree's
                                          planning run and its children share one agent command)
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    script_path = sys.argv[sys.argv.index("--script") + 1]
    return run(json.loads(Path(script_path).read_text()))


def run(actions: list) -> int:
    for action in actions:
        (kind, value), = action.items()
        if kind == "write":
            for rel, text in value.items():
                path = Path(rel)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        elif kind == "append":
            for rel, text in value.items():
                with open(rel, "a") as handle:
                    handle.write(os.path.expandvars(text))
        elif kind == "rmtree":
            import shutil

            shutil.rmtree(value)
        elif kind == "delete":
            for rel in value:
                Path(rel).unlink()
        elif kind == "symlink":
            for link, target in value.items():
                os.symlink(target, link)
        elif kind == "git":
            subprocess.run(["git", *value], check=True, capture_output=True)
        elif kind == "report":
            Path(os.environ["CODEX_ORCHESTRATOR_REPORT_FILE"]).write_text(json.dumps(value))
        elif kind == "report_text":
            Path(os.environ["CODEX_ORCHESTRATOR_REPORT_FILE"]).write_text(value)
        elif kind == "env_dump":
            Path(os.path.expandvars(value)).write_text(json.dumps(dict(os.environ), indent=1))
        elif kind == "read_prompt":
            Path(value).write_text(sys.stdin.read())
        elif kind == "stdout":
            print(value, flush=True)
        elif kind == "stderr":
            print(value, file=sys.stderr, flush=True)
        elif kind == "sleep":
            time.sleep(value)
        elif kind == "kill_parent_once":
            import signal

            if not Path(value).exists():
                Path(value).write_text("killed")
                os.kill(os.getppid(), signal.SIGKILL)
        elif kind == "pause_once":
            if not Path(value).exists():
                Path(value).write_text("paused")
                print("working", flush=True)
                time.sleep(60)
        elif kind == "sh":
            subprocess.run(["bash", "-c", value], check=False)
        elif kind == "check":
            code = subprocess.run(["bash", "-c", value], check=False).returncode
            if code:
                return code
        elif kind == "role":
            code = run(value.get(os.environ.get("CODEX_ORCHESTRATOR_ROLE", "implement"), []))
            if code:
                return code
        elif kind == "exit":
            return int(value)
        else:
            print(f"fake_agent: unknown action {kind}", file=sys.stderr)
            return 99
    return 0


if __name__ == "__main__":
    sys.exit(main())
