"""Helpers shared by the benchmarks that need the embedded hub and a target repository."""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

TOKEN = "bench-token"


class Hub:
    def __init__(self, work: Path):
        from cxo.hub.server import HubServer

        self.server = HubServer(work / "hub-data", port=0)
        self.server.start()
        self.url = self.server.url

    def call(self, method: str, path: str, body=None, token: str = TOKEN):
        request = urllib.request.Request(
            self.url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {token}", "Content-Type": "application/json", "User-Agent": "bench"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else {}

    def stats(self) -> dict:
        return self.call("GET", "/_hub/stats", token=self.server.admin_token)

    def stop(self) -> None:
        self.server.stop()


def git(cwd, *args, env=None):
    ident = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **ident, **(env or {})})


def make_target(hub: Hub, work: Path, name: str, policy: dict) -> tuple[str, Path]:
    """Create repo `name` on the hub with one commit on main, clone it, write `policy`; returns (owner, clone)."""
    import yaml

    from cxo.gitutil import token_env

    repo = hub.call("POST", "/user/repos", {"name": name})
    seed = work / f"{name}-seed"
    seed.mkdir()
    (seed / "README.md").write_text("# bench\n")
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "init")
    git(seed, "push", "-q", repo["clone_url"], "main", env=token_env(TOKEN))
    clone = work / f"{name}-clone"
    git(work, "clone", "-q", repo["clone_url"], str(clone))
    # The bench's agent scripts live in the work directory, which the sandbox's private /tmp would hide.
    policy = {"github": {"owner": repo["owner"]["login"], "repo": name, "apiUrl": hub.url},
              "agent": {"readPaths": [str(work)]}, **policy}
    (clone / ".codex-orchestrator").mkdir()
    (clone / ".codex-orchestrator" / "config.yaml").write_text(yaml.safe_dump(policy))
    # cxo reads the policy from the fetched base branch: commit and push it.
    git(clone, "add", ".codex-orchestrator")
    git(clone, "commit", "-q", "-m", "cxo policy")
    git(clone, "push", "-q", repo["clone_url"], "main", env=token_env(TOKEN))
    git(clone, "fetch", "-q", "origin")
    return repo["owner"]["login"], clone


def noop_agent(work: Path) -> dict:
    """A `codex` policy section whose agent changes one file and reports, and nothing else."""
    script = work / "noop_agent.py"
    script.write_text(
        "import json, os, pathlib, sys\n"
        "sys.stdin.read()\n"
        "pathlib.Path('CHANGE.md').write_text('changed\\n')\n"
        "pathlib.Path(os.environ['CODEX_ORCHESTRATOR_REPORT_FILE']).write_text(json.dumps({"
        "'status': 'completed', 'summary': 'noop', 'changes': ['CHANGE.md'], 'validation': []}))\n"
    )
    return {"command": sys.executable, "args": [str(script)]}
