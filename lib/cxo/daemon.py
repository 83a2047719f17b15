"""cxo-daemon: poll for eligible issues, run them one at a time, clean up merged worktrees.

Polling reuses one tracker, so every cycle after the first is conditional
(If-None-Match): an unchanged queue answers 304, which costs no rate limit.
Each issue runs as its own `cxo-run` process so one crashing run cannot take the
daemon down; on SIGINT/SIGTERM the daemon stops polling and forwards the signal,
and the run ends blocked ("interrupted") through its normal publish path.
"""

import signal
import subprocess
import sys
import time
from pathlib import Path

from .labels import classify


class Daemon:
    def __init__(self, policy, tracker, say=print, run_command=None):
        self.policy = policy
        self.tracker = tracker
        self.say = say
        self.stopping = False
        self.current = None
        self.runs = 0
        self.cycles = 0
        self.run_command = run_command or [str(Path(sys.executable).parent / "cxo-run")]

    def eligible(self) -> list[dict]:
        issues = self.tracker.list_issues(state="open")
        open_numbers = {i["number"] for i in issues if i.get("pull_request") is None}
        picked = []
        for issue in issues:
            verdict = classify(issue, self.policy.labels, open_numbers)
            if verdict.eligible and verdict.mode == "auto":
                picked.append(issue)
            elif verdict.eligible:
                self.say(f"#{issue['number']}: {verdict.mode} issues are not run by the daemon yet; skipped")
        return sorted(picked, key=lambda i: (i.get("created_at") or "", i["number"]))

    def run_one(self, number: int) -> int:
        argv = [*self.run_command, "--target", str(self.policy.target), "--issue", str(number)]
        self.say(f"running issue #{number}")
        self.current = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        code = self.current.wait()
        self.current = None
        self.runs += 1
        outcome = {0: "review", 3: "blocked"}.get(code, f"error (exit {code})")
        self.say(f"issue #{number}: {outcome}")
        return code

    def cycle(self, max_runs: int | None = None) -> dict:
        from . import recovery
        from .cleanup import clean_worktrees

        self.cycles += 1
        # Runs of this host that were killed mid-way come first: they hold claims and half-moved state.
        for number in recovery.unfinished_issues(self.policy):
            if self.stopping or (max_runs is not None and self.runs >= max_runs):
                break
            self.say(f"resuming the interrupted run of issue #{number}")
            self.run_one(number)
        queue = self.eligible()
        self.say(f"cycle {self.cycles}: {len(queue)} eligible")
        ran = []
        for issue in queue:
            if self.stopping or (max_runs is not None and self.runs >= max_runs):
                break
            self.run_one(issue["number"])
            ran.append(issue["number"])
        cleaned = clean_worktrees(self.policy, self.tracker, say=self.say) if not self.stopping else None
        return {"eligible": [i["number"] for i in queue], "ran": ran, "cleanup": cleaned}

    def stop(self, signum=None, frame=None):
        self.stopping = True
        if self.current is not None and self.current.poll() is None:
            self.current.send_signal(signal.SIGTERM)

    def serve(self, once: bool, interval: float, max_runs: int | None) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        while not self.stopping:
            self.cycle(max_runs)
            if once or (max_runs is not None and self.runs >= max_runs):
                return 0
            deadline = time.monotonic() + interval
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.2)
        self.say("stopped")
        return 130
