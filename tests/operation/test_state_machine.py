"""Operation over time, model-based: a Hypothesis state machine of maintainers, runners, kills and merges on one
repository of the hub, with invariants checked after every step.

Rules: open an `agent:auto` issue, label a parent `agent:plan-auto`, remove `agent:blocked`, a trusted `@cxo run`
comment, a review that requests changes, a human push to a cxo branch, merging a cxo PR, moving the base branch,
`cxo-run --issue`, `cxo-daemon --once`, `cxo-run --pr`, a runner SIGKILLed at a named point. Each issue's scripted
agent succeeds, fails, crashes or misbehaves (git-state writes in its repository), as the rule that opened it drew.

Invariants: no issue carries two of running/review/blocked; no agent runs more often than maintainers authorized
(nothing finished is run again; a blocked issue runs again only after its label is removed); a retried issue's PR
holds only its latest attempt; one open cxo PR per issue; every cxo PR's head forks from a commit that was the base
branch; no runner comment is duplicated; a daemon cycle stays within its request budget.

`make test` runs a few examples; `make soak` many (CXO_SOAK_EXAMPLES, CXO_SOAK_STEPS) and prints the cycles,
requests per cycle and the violations found.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.support.git_fixtures import GIT_ENV, GOOD_REPORT, git, scripted_agent, write_policy
from tests.support.hub_fixtures import Api, push_dir, start_hub

R = "/repos/acme/widgets"
RUNNER, OWNER = "as:cxo-runner", "as:acme"
BIN = Path(sys.executable).parent
STATE_LABELS = ("agent:running", "agent:review", "agent:blocked")
KILL_POINTS = ("runner:after-claim", "runner:after-worktree", "runner:after-codex", "runner:after-gate",
               "publish:after-commit", "publish:after-push", "publish:after-pr")
BEHAVIOURS = ("ok", "ok", "fail", "crash", "attack")
REQUESTS_PER_RUN, REQUESTS_PER_CYCLE = 30, 12
STATS = {"cycles": 0, "requests": [], "steps": 0, "update": set(), "ci": set()}  # make soak prints these
VIOLATIONS: list[str] = []


def agent_script(behaviours: Path, counts: Path) -> str:
    """One shell step for every issue: how it behaves is in `behaviours/<issue>` (default ok); every agent run is
    counted in `counts/<issue>`. A round (the PR head already has an attempt file) writes a round file instead."""
    report = json.dumps(GOOD_REPORT)
    blocked = json.dumps({**GOOD_REPORT, "status": "blocked", "summary": "needs a human"})
    plan = json.dumps({"parent": {"title": "Two parts", "body": "Goal: two parts."}, "graph": {"edges": [], "nodes": [
        {"stableId": s, "title": f"Part {s}", "body": f"Build {s}.", "afkHitl": "afk", "ownershipScope": [f"{s}/**"],
         "dependsOn": d, "verification": ["exists"]} for s, d in (("p", []), ("q", ["p"]))]}})
    return f"""
n=$CODEX_ORCHESTRATOR_ISSUE_NUMBER
if [ "$CODEX_ORCHESTRATOR_ROLE" = plan ]; then printf '%s' '{plan}' > "$CODEX_ORCHESTRATOR_REPORT_FILE"; exit 0; fi
if [ "$CODEX_ORCHESTRATOR_ROLE" != implement ]; then exit 0; fi
k=$(( $(cat {counts}/$n 2>/dev/null || echo 0) + 1 )); echo $k > {counts}/$n
b=$(cat {behaviours}/$n 2>/dev/null || echo ok)
for f in $(grep -l '^<<<<<<<' *.md 2>/dev/null); do echo resolved > "$f"; done  # an update round's conflicts
if ls attempt-$n-*.md >/dev/null 2>&1; then echo "round $k" > round-$n-$k.md
else echo "attempt $k" > attempt-$n-$k.md; fi
case $b in
  fail) printf '%s' '{blocked}' > "$CODEX_ORCHESTRATOR_REPORT_FILE"; exit 0;;
  crash) exit 1;;
  attack) base=$(git rev-parse HEAD); git replace -f $base $base^{{tree}} 2>/dev/null
          git update-ref refs/remotes/origin/main $base; echo junk > .git/refs/heads/junk
          git notes add -f -m evil $base 2>/dev/null; echo /nowhere >> .git/objects/info/alternates;;
esac
printf '%s' '{report}' > "$CODEX_ORCHESTRATOR_REPORT_FILE"
"""


class Operation(RuleBasedStateMachine):
    """One repository, operated over time."""

    @initialize()
    def setup(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="cxo-ops-", dir="/var/tmp"))
        self.saved_env = dict(os.environ)
        os.environ.update({**GIT_ENV, "XDG_STATE_HOME": str(self.tmp / "xdg-state"), "GITHUB_TOKEN": RUNNER})
        for name in ("GH_TOKEN", "GITHUB_API_URL"):
            os.environ.pop(name, None)
        from cxo.connect import forget_token

        forget_token()
        self.hub = start_hub(self.tmp)
        self.api = Api(self.hub.url, token=OWNER, admin_token=self.hub.admin_token)
        repo = self.api.ok("POST", "/user/repos", {"name": "widgets"})
        self.clone_url = repo["clone_url"]
        for login in ("cxo-runner", "carol"):
            self.api.ok("PUT", f"{R}/collaborators/{login}", {})
        seed = self.tmp / "seed"
        (seed / "app").mkdir(parents=True)
        (seed / "app" / "calc.py").write_text("def add(a, b):\n    return a + b\n")
        git(seed, "init", "-q", "-b", "main")
        git(seed, "add", "-A")
        git(seed, "commit", "-q", "-m", "initial")
        push_dir(seed, self.clone_url, token=OWNER)
        self.target = self.tmp / "target"
        git(self.tmp, "clone", "-q", self.clone_url, str(self.target))
        self.behaviours, self.counts = self.tmp / "behaviours", self.tmp / "counts"
        self.behaviours.mkdir()
        self.counts.mkdir()
        os.environ["GITHUB_TOKEN"] = OWNER  # the maintainer pushes the policy
        write_policy(self.target, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": self.hub.url}})
        (self.tmp / "script").mkdir()
        scripted_agent(self.target, self.tmp / "script", [{"sh": agent_script(self.behaviours, self.counts)}],
                       extra_policy={"reviewGates": {"quality": {"enabled": False}},
                                     "planning": {"requireApproval": True},
                                     "agent": {"readPaths": [str(self.behaviours)],
                                               "writePaths": [str(self.counts)]}})
        os.environ["GITHUB_TOKEN"] = RUNNER
        forget_token()
        self.authorized: Counter = Counter()  # agent runs maintainers allowed, per issue
        self.mains = {self.main_sha()}          # every commit the base branch has been
        self.issues: list[int] = []
        self.parents: list[int] = []
        self.approved: set[int] = set()  # parents a maintainer approved (planning.requireApproval)

    def teardown(self):
        if getattr(self, "hub", None):
            self.hub.stop()
        if hasattr(self, "saved_env"):
            os.environ.clear()
            os.environ.update(self.saved_env)
        if getattr(self, "tmp", None):
            shutil.rmtree(self.tmp, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------------------
    def main_sha(self) -> str:
        return self.api.ok("GET", f"{R}/git/ref/heads/main")["object"]["sha"]

    def labels(self, number: int) -> set[str]:
        return {lab["name"] for lab in self.api.ok("GET", f"{R}/issues/{number}")["labels"]}

    def cxo_pulls(self, state="open") -> list[dict]:
        return [p for p in self.api.ok("GET", f"{R}/pulls?state={state}&per_page=100")
                if "<!-- cxo:report issue=" in (p.get("body") or "")]

    def policy(self):
        from cxo import policy as policy_mod

        return policy_mod.load(self.target)

    def runs(self, number: int) -> int:
        path = self.counts / str(number)
        return int(path.read_text()) if path.is_file() else 0

    def in_process(self, call):
        """cxo in this process, as the runner; its token is the runner's again afterwards."""
        from cxo.connect import forget_token

        forget_token()
        os.environ["GITHUB_TOKEN"] = RUNNER
        try:
            return call()
        finally:
            os.environ["GITHUB_TOKEN"] = RUNNER
            forget_token()

    # --- maintainers ---------------------------------------------------------------------------------
    @rule(behaviour=st.sampled_from(BEHAVIOURS))
    def open_auto_issue(self, behaviour):
        number = self.api.ok("POST", f"{R}/issues", {"title": f"Task {len(self.issues) + 1}",
                                                     "labels": ["agent:auto"]})["number"]
        (self.behaviours / str(number)).write_text(behaviour)
        self.issues.append(number)
        self.authorized[number] += 1

    @precondition(lambda self: len(self.parents) < 1)
    @rule()
    def open_plan_parent(self):
        number = self.api.ok("POST", f"{R}/issues", {"title": "Two parts", "body": "Build two parts.",
                                                     "labels": ["agent:plan-auto"]})["number"]
        self.parents.append(number)

    @precondition(lambda self: self.parents)
    @rule(data=st.data(), how=st.sampled_from(("comment", "label", "untrusted")))
    def approve_plan(self, data, how):
        """A maintainer approves a parent's plan (a trusted comment or the label); a stranger's approve counts
        for nothing."""
        parent = data.draw(st.sampled_from(self.parents))
        if how == "label":
            self.api.ok("POST", f"{R}/issues/{parent}/labels", {"labels": ["agent:plan-approved"]})
        else:
            token = "as:carol" if how == "comment" else "as:mallory"
            self.api.ok("POST", f"{R}/issues/{parent}/comments", {"body": "@cxo approve"}, token=token)
        if how != "untrusted":
            self.approved.add(parent)

    @precondition(lambda self: self.issues)
    @rule(data=st.data())
    def comment_run(self, data):
        """A trusted `@cxo run` on an issue whose trigger label was taken off (or never there)."""
        number = data.draw(st.sampled_from(self.issues))
        labels = self.labels(number)
        self.api.ok("POST", f"{R}/issues/{number}/comments", {"body": "@cxo run"})
        if not labels & {"agent:auto", "agent:running", "agent:review", "agent:blocked", "agent:manual"}:
            self.authorized[number] += 1

    @precondition(lambda self: self.issues)
    @rule(data=st.data())
    def unblock(self, data):
        number = data.draw(st.sampled_from(self.issues + self.parents))
        if "agent:blocked" in self.labels(number):
            self.api.ok("DELETE", f"{R}/issues/{number}/labels/agent:blocked")
            self.authorized[number] += 1
            (self.behaviours / str(number)).write_text("ok")  # the maintainer fixed the cause

    @precondition(lambda self: self.issues)
    @rule(data=st.data())
    def request_changes(self, data):
        pulls = self.cxo_pulls()
        if not pulls:
            return
        pull = data.draw(st.sampled_from(pulls))
        issue = int(re.search(r"cxo:report issue=(\d+)", pull["body"]).group(1))
        self.api.ok("POST", f"{R}/pulls/{pull['number']}/reviews",
                    {"event": "REQUEST_CHANGES", "body": "Please add a note.", "commit_id": pull["head"]["sha"]},
                    token="as:carol")
        self.authorized[issue] += 1  # at most one round per review (feedback.maxRounds bounds them further)

    @precondition(lambda self: self.issues)
    @rule(data=st.data())
    def human_push(self, data):
        pulls = self.cxo_pulls()
        if not pulls:
            return
        pull = data.draw(st.sampled_from(pulls))
        work = self.tmp / f"human-{pull['number']}-{len(os.listdir(self.tmp))}"
        git(self.tmp, "clone", "-q", "-b", pull["head"]["ref"], self.clone_url, str(work))
        (work / f"{work.name}.md").write_text("a human's note\n")
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "human note")
        push_dir(work, self.clone_url, token=OWNER, branch=pull["head"]["ref"])

    @precondition(lambda self: self.issues)
    @rule(data=st.data())
    def merge(self, data):
        pulls = self.cxo_pulls()
        if not pulls:
            return
        pull = data.draw(st.sampled_from(pulls))
        status, _, _ = self.api.call("PUT", f"{R}/pulls/{pull['number']}/merge", {"merge_method": "merge"})
        if status < 300:
            self.mains.add(self.main_sha())

    @rule()
    def move_base(self):
        work = self.tmp / f"base-{len(self.mains)}-{len(os.listdir(self.tmp))}"
        git(self.tmp, "clone", "-q", self.clone_url, str(work))
        (work / "BASE.md").write_text(f"base move {len(self.mains)}\n")
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "base moved")
        push_dir(work, self.clone_url, token=OWNER)
        self.mains.add(self.main_sha())

    @precondition(lambda self: self.issues)
    @rule(data=st.data())
    def move_base_into_conflict(self, data):
        """A maintainer changes, on the base, the very file a cxo PR added: the PR no longer merges."""
        pulls = self.cxo_pulls()
        if not pulls:
            return
        pull = data.draw(st.sampled_from(pulls))
        issue = int(re.search(r"cxo:report issue=(\d+)", pull["body"]).group(1))
        check = self.tmp / f"conflict-{pull['number']}-{len(os.listdir(self.tmp))}"
        git(self.tmp, "clone", "-q", self.clone_url, str(check))
        git(check, "fetch", "-q", "origin", f"+refs/heads/{pull['head']['ref']}:refs/remotes/origin/pr")
        files = [f for f in git(check, "ls-tree", "--name-only", "origin/pr").split()
                 if f.startswith(f"attempt-{issue}-")]
        if not files or (check / files[0]).exists():
            return
        (check / files[0]).write_text("the base's own version\n")
        git(check, "add", "-A")
        git(check, "commit", "-q", "-m", "base takes the file")
        push_dir(check, self.clone_url, token=OWNER)
        self.mains.add(self.main_sha())
        self.authorized[issue] += 1  # one update round may resolve it

    @precondition(lambda self: self.issues)
    @rule(data=st.data(), conclusion=st.sampled_from(("success", "failure")),
          app=st.sampled_from(("github-actions", "github-actions", "some-other-app")))
    def check_result(self, data, conclusion, app):
        """CI reports on a cxo PR's head: only a failing check from a trusted app may start a fix round."""
        pulls = self.cxo_pulls()
        if not pulls:
            return
        pull = data.draw(st.sampled_from(pulls))
        issue = int(re.search(r"cxo:report issue=(\d+)", pull["body"]).group(1))
        self.api.ok("POST", f"{R}/check-runs", {"name": "tests", "head_sha": pull["head"]["sha"],
                                                "status": "completed", "conclusion": conclusion},
                    token=f"as:app/{app}")
        if conclusion == "failure" and app == "github-actions":
            self.authorized[issue] += 1  # one fix round per failing head

    # --- runners ---------------------------------------------------------------------------------
    @precondition(lambda self: self.issues or self.parents)
    @rule(data=st.data())
    def cxo_run(self, data):
        from cxo.runner import run_issue

        number = data.draw(st.sampled_from(self.issues + self.parents))
        self.in_process(lambda: run_issue(self.target, number))

    @rule()
    def daemon_once(self):
        from cxo.connect import tracker_for
        from cxo.daemon import Daemon

        before = self.api.admin("GET", "/_hub/stats")["billable"]
        runs_before = sum(self.runs(n) for n in self.counts_known())
        pol = self.policy()
        result = self.in_process(lambda: Daemon(pol, tracker_for(pol), say=lambda m: None).cycle())
        spent = self.api.admin("GET", "/_hub/stats")["billable"] - before
        started = len(result["ran"]) + len(result["rounds"]) + len(result["resumed"]) + \
            sum(self.runs(n) for n in self.counts_known()) - runs_before
        STATS["cycles"] += 1
        STATS["requests"].append(spent)
        # Each open cxo PR that changed costs its timeline, its review comments and its head's check runs once
        # (conditional reads: free again once nothing changes).
        budget = REQUESTS_PER_CYCLE + 3 * len(self.cxo_pulls()) + REQUESTS_PER_RUN * started
        assert spent <= budget, f"a daemon cycle made {spent} billable requests for {started} run(s) (budget {budget})"

    @precondition(lambda self: self.issues)
    @rule(data=st.data())
    def cxo_run_pr(self, data):
        from cxo.rounds.run import run_pull

        pulls = self.cxo_pulls()
        if not pulls:
            return
        pull = data.draw(st.sampled_from(pulls))
        self.in_process(lambda: run_pull(self.target, pull["number"]))

    @precondition(lambda self: self.issues)
    @rule(data=st.data(), point=st.sampled_from(KILL_POINTS))
    def runner_killed(self, data, point):
        number = data.draw(st.sampled_from(self.issues))
        subprocess.run([str(BIN / "cxo-run"), "--target", str(self.target), "--issue", str(number)],
                       env={**os.environ, "GITHUB_TOKEN": RUNNER, "CXO_TEST_KILL_AT": point},
                       capture_output=True, text=True, timeout=300)

    # --- invariants ------------------------------------------------------------------------------
    def counts_known(self) -> list[int]:
        return [int(p.name) for p in self.counts.iterdir()] if hasattr(self, "counts") else []

    def check(self, ok: bool, message: str):
        if not ok:
            VIOLATIONS.append(message)
        assert ok, message

    @invariant()
    def one_state_label_at_most(self):
        if not hasattr(self, "api"):
            return
        for issue in self.api.ok("GET", f"{R}/issues?state=all&per_page=100"):
            if issue.get("pull_request"):
                continue
            held = {lab["name"] for lab in issue["labels"]} & set(STATE_LABELS)
            # A round on an issue's draft PR keeps the issue in review while it runs (README, Labels).
            in_round = held == {"agent:review", "agent:running"} and issue["number"] in self.with_open_pull()
            self.check(len(held) <= 1 or in_round, f"#{issue['number']} carries {sorted(held)}")

    @invariant()
    def no_agent_runs_beyond_what_was_authorized(self):
        if not hasattr(self, "api"):
            return
        children = self.children()
        for number in self.counts_known():
            allowed = self.authorized[number] + (1 if number in children else 0)
            self.check(self.runs(number) <= allowed,
                       f"#{number}'s agent ran {self.runs(number)} time(s), {allowed} authorized")

    @invariant()
    def children_only_after_approval(self):
        if not hasattr(self, "api"):
            return
        marks = re.compile(r"^<!-- codex-orchestrator:autonomous-child parent=#(\d+) -->")
        for issue in self.api.ok("GET", f"{R}/issues?state=all&per_page=100"):
            found = marks.match(issue.get("body") or "")
            if found:
                parent = int(found.group(1))
                self.check(parent in self.approved, f"#{issue['number']}, a child of #{parent}, exists, but "
                           f"nobody approved #{parent}'s plan")

    def with_open_pull(self) -> set[int]:
        return {int(re.search(r"cxo:report issue=(\d+)", p["body"]).group(1)) for p in self.cxo_pulls()}

    def children(self) -> set[int]:
        marks = "<!-- codex-orchestrator:autonomous-child parent=#"
        return {i["number"] for i in self.api.ok("GET", f"{R}/issues?state=all&per_page=100")
                if (i.get("body") or "").startswith(marks)}

    @invariant()
    def pulls_are_one_per_issue_on_a_true_base_with_the_latest_attempt_only(self):
        if not hasattr(self, "api"):
            return
        open_pulls = self.cxo_pulls()
        issues = [int(re.search(r"cxo:report issue=(\d+)", p["body"]).group(1)) for p in open_pulls]
        self.check(len(issues) == len(set(issues)), f"more than one open cxo PR for an issue: {sorted(issues)}")
        if not open_pulls:
            return
        check = self.tmp / "check"
        if not check.exists():
            git(self.tmp, "clone", "-q", self.clone_url, str(check))
        git(check, "fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*")
        for pull, issue in zip(open_pulls, issues, strict=True):
            head = f"origin/{pull['head']['ref']}"
            fork = git(check, "merge-base", head, "origin/main").strip()
            self.check(any(subprocess.run(["git", "merge-base", "--is-ancestor", fork, m], cwd=check).returncode == 0
                           for m in self.mains),
                       f"PR #{pull['number']} forks from {fork[:12]}, never the base branch")
            files = git(check, "ls-tree", "-r", "--name-only", head).split()
            attempts = [f for f in files if f.startswith(f"attempt-{issue}-")]
            self.check(len(attempts) <= 1, f"PR #{pull['number']} mixes attempts: {attempts}")

    @invariant()
    def no_runner_comment_is_duplicated(self):
        if not hasattr(self, "api"):
            return
        for issue in self.api.ok("GET", f"{R}/issues?state=all&per_page=100"):
            bodies = [c["body"] for c in self.api.ok("GET", f"{R}/issues/{issue['number']}/comments?per_page=100")]
            for kind, marker in (("update", r"cxo:update head=(\w+) base=(\w+)"), ("ci", r"cxo:ci head=(\w+)")):
                STATS[kind].update((str(self.tmp), found) for b in bodies for found in re.findall(marker, b))
            markers = Counter(m for b in bodies for m in re.findall(
                r"<!-- (?:cxo:report-comment issue=\d+|cxo:tree-status[^>]*|cxo:tree-prd[^>]*|"
                r"cxo:feedback-round[^>]*) -->", b))
            # One claim comment per run.
            claims = (re.findall(r'<!-- cxo:claim \{[^}]*"run_id":"([^"]+)"', b) for b in bodies)
            markers.update(f"claim {run}" for found in claims for run in found)
            for marker, count in markers.items():
                self.check(count == 1, f"#{issue['number']}: {count} comments carry {marker}")


Operation.TestCase.settings = settings(
    max_examples=int(os.environ.get("CXO_SOAK_EXAMPLES", "4")),
    stateful_step_count=int(os.environ.get("CXO_SOAK_STEPS", "12")),
    deadline=None, derandomize=not os.environ.get("CXO_SOAK_EXAMPLES"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestOperation = Operation.TestCase


@pytest.fixture(scope="module", autouse=True)
def _report():
    """What a soak shows: cycles, requests per cycle, violations (a violation also fails the test, shrunk)."""
    yield
    requests = STATS["requests"] or [0]
    sys.stderr.write(f"\noperation: {STATS['cycles']} daemon cycle(s), billable requests per cycle: "
                     f"mean {sum(requests) / len(requests):.1f}, max {max(requests)}; violations: "
                     f"{len(VIOLATIONS)}; update rounds {len(STATS['update'])}, CI fix rounds {len(STATS['ci'])}\n")
