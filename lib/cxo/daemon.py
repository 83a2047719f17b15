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

from .github.commands import apply_issue_commands
from .status import Classifier


class Daemon:
    def __init__(self, policy, tracker, say=print, run_command=None, concurrency: int = 1):
        self.policy = policy
        self.tracker = tracker
        self.say = say
        self.concurrency = max(1, concurrency)
        self.stopping = False
        self.current: list[tuple[int, subprocess.Popen]] = []
        self.runs = 0
        self.cycles = 0
        self.run_command = run_command or [str(Path(sys.executable).parent / "cxo-run")]

    def eligible(self, issues: list[dict] | None = None) -> list[dict]:
        issues = self.tracker.list_issues(state="open") if issues is None else issues
        open_numbers = {i["number"] for i in issues if i.get("pull_request") is None}
        picked = []
        classify_open = Classifier(self.policy, self.tracker, open_numbers)
        for issue in issues:
            verdict = classify_open(issue)
            if verdict.eligible and verdict.mode in ("auto", "plan-auto"):
                picked.append(issue)
        return sorted(picked, key=lambda i: (i.get("created_at") or "", i["number"]))

    def start(self, number: int, kind: str = "issue") -> subprocess.Popen:
        """`cxo-run --issue N`, or `cxo-run --pr N` for a feedback round (kind "pr")."""
        argv = [*self.run_command, "--target", str(self.policy.target), f"--{kind}", str(number)]
        self.say(f"running {'feedback round on PR' if kind == 'pr' else 'issue'} #{number}")
        # The token goes to the run through an inherited pipe, never through its environment.
        import os

        from .connect import TOKEN_FD, take_token, token_pipe

        token = take_token()
        fd = token_pipe(token) if token else None
        env = {**os.environ, **({TOKEN_FD: str(fd)} if fd is not None else {})}
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, env=env, pass_fds=(fd,) if fd is not None else ())
        finally:
            if fd is not None:
                os.close(fd)
        self.current.append((f"{'PR' if kind == 'pr' else 'issue'} #{number}", proc))
        self.runs += 1
        return proc

    def reap(self, block: bool = False) -> None:
        """Collect finished runs (all of them when `block`)."""
        for what, proc in list(self.current):
            if block:
                proc.wait()
            code = proc.poll()
            if code is None:
                continue
            self.current.remove((what, proc))
            outcome = {0: "review", 3: "blocked"}.get(code, f"error (exit {code})")
            self.say(f"{what}: {outcome}")

    def run_many(self, numbers, max_runs: int | None, kind: str = "issue") -> list[int]:
        """Run issues (or PRs' feedback rounds) with at most `concurrency` at once (the race-safe claim keeps
        them apart)."""
        ran = []
        for number in numbers:
            if self.stopping or (max_runs is not None and self.runs >= max_runs):
                break
            while len(self.current) >= self.concurrency and not self.stopping:
                self.reap()
                time.sleep(0.1)
            if self.stopping:
                break
            self.start(number, kind)
            ran.append(number)
        self.reap(block=True)
        return ran

    def cycle(self, max_runs: int | None = None) -> dict:
        from . import recovery
        from .cleanup import clean_worktrees

        self.cycles += 1
        # Runs of this host that were killed mid-way come first: they hold claims and half-moved state.
        unfinished = recovery.unfinished_issues(self.policy, self.tracker)
        resumed = []
        if unfinished:
            self.say(f"resuming interrupted runs: {', '.join(f'#{n}' for n in unfinished)}")
            resumed = self.run_many(unfinished, max_runs)
        issues = self.tracker.list_issues(state="open")
        # `@cxo run` / `@cxo plan` comments of trusted authors add the trigger label first, so such an issue
        # runs in this very cycle.
        commands = apply_issue_commands(self.policy, self.tracker, issues, say=self.say)
        if any(item["done"] for item in commands):
            issues = self.tracker.list_issues(state="open")
        queue = self.eligible(issues)
        self.say(f"cycle {self.cycles}: {len(queue)} eligible")
        # Pacing to the reviewers (lib/cxo/pace.py): new issues wait while too many cxo PRs wait for review;
        # rounds and resumed runs work on what was started. Asked only when an issue could start.
        paced: dict[int, str] = {}
        start = [issue["number"] for issue in queue]
        if start:
            from .pace import hold, state

            start, paced = hold(state(self.policy, self.tracker, issues), start)
            if start:  # spend caps (lib/cxo/measure/caps.py): past a cap, new issues wait for the reset
                from .measure import caps

                start, capped = caps.hold(caps.state(self.policy, self.tracker), start)
                paced.update(capped)
            if paced:
                self.say(f"{next(iter(paced.values()))}: holding back {', '.join(f'#{n}' for n in paced)}")
        ran = self.run_many(start, max_runs)
        # Review feedback on cxo's draft PRs: a round each, or the one notice that a PR had its rounds.
        rounds = self.feedback(issues) if not self.stopping else []
        if rounds:
            self.say(f"feedback waiting on {', '.join(f'PR #{n}' for n in rounds)}")
        ran_rounds = self.run_many(rounds, max_runs, kind="pr") if rounds else []
        cleaned = clean_worktrees(self.policy, self.tracker, say=self.say) if not self.stopping else None
        return {"eligible": [i["number"] for i in queue], "ran": ran, "cleanup": cleaned, "commands": commands,
                "rounds": ran_rounds, "resumed": resumed, "paced": sorted(paced)}

    def feedback(self, issues: list[dict]) -> list[int]:
        """cxo PRs with trusted feedback to act on: eligible for a round, or past feedback.maxRounds and not yet
        told so. Conditional listings: an idle PR costs no rate limit."""
        from .github.feedback import feedback_state, wants_round
        from .rounds.upkeep import annotate

        items = annotate(self.policy, self.tracker, feedback_state(self.policy, self.tracker, issues), self.say)
        return [item["pull"] for item in items if wants_round(item)]

    def stop(self, signum=None, frame=None):
        self.stopping = True
        for _, proc in self.current:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    def serve(self, once: bool, interval: float, max_runs: int | None) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        while not self.stopping:
            self.cycle(max_runs)
            if self.stopping:
                break
            if once or (max_runs is not None and self.runs >= max_runs):
                return 0
            deadline = time.monotonic() + interval
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.2)
        self.say("stopped")
        return 130
