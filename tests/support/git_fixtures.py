"""Real git repositories for tests: a plain repo, and a clone of a hub repository with a policy."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd, *args, check=True, env=None) -> str:
    full_env = {**os.environ, **GIT_ENV, **(env or {})}
    proc = subprocess.run(["git", *args], cwd=cwd, env=full_env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def commit_all(cwd, message="change") -> str:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "-m", message)
    return git(cwd, "rev-parse", "HEAD").strip()


def write(root: Path, rel: str, text: str) -> Path:
    path = Path(root) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_policy(target: Path, policy: dict, publish: bool = True) -> Path:
    """Write the policy; in a clone of a hub repository also commit and push it to main, because cxo reads
    the policy from the fetched base branch (what is merged), never from the working copy."""
    path = Path(target) / ".codex-orchestrator" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    if publish and git(target, "remote", check=False).split():
        from cxo.gitutil import token_env

        git(target, "add", str(path))
        if git(target, "status", "--porcelain", "--", str(path)).strip():
            git(target, "commit", "-q", "-m", "cxo policy")
        url = git(target, "remote", "get-url", "origin").strip()
        from cxo.connect import take_token

        # An in-process run took the token out of os.environ, as every cxo process does: cxo still holds it.
        # Without either, the open test hub's owner token.
        token = os.environ.get("GITHUB_TOKEN") or take_token() or "as:acme"
        git(target, "pull", "-q", "--rebase", url, "main", env=token_env(token))  # main may have moved (merged PRs)
        git(target, "push", "-q", url, "HEAD:refs/heads/main", env=token_env(token))
        git(target, "fetch", "-q", "origin")
    return path


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch, tmp_path):
    """Tests never read the developer's git config or identity, nor share the runner's state directory."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    from cxo.connect import forget_token

    forget_token()


@pytest.fixture
def git_repo(tmp_path) -> Path:
    """A plain repository on `main` with one commit (a tiny Python package and a test)."""
    repo = tmp_path / "plain"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "README.md", "# plain\n")
    write(repo, "app/calc.py", "def add(a, b):\n    return a + b\n")
    write(repo, "tests/test_calc.py", "from app.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    write(repo, "app/__init__.py", "")
    commit_all(repo, "initial")
    return repo


@pytest.fixture
def target_repo(tmp_path, hub_repo, monkeypatch) -> Path:
    """A clone of the hub repository acme/widgets with a committed cxo policy that points at the hub."""
    clone = tmp_path / "target"
    git(tmp_path, "clone", "-q", hub_repo.clone_url, str(clone))
    monkeypatch.setenv("GITHUB_TOKEN", hub_repo.token)
    write_policy(
        clone,
        {"github": {"owner": hub_repo.owner, "repo": hub_repo.name, "apiUrl": hub_repo.url}},
    )
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    return clone


FAKE_AGENT = Path(__file__).with_name("fake_agent.py")
FAKE_REVIEWER = Path(__file__).with_name("fake_reviewer.py")


def reviewer_policy(mode: str = "approve", *extra: str) -> dict:
    """reviewGates.reviewer running tests/support/fake_reviewer.py in `mode`."""
    import sys

    return {"command": sys.executable, "args": [str(FAKE_REVIEWER), "--mode", mode, *extra]}

GOOD_REPORT = {
    "status": "completed",
    "summary": "Implemented the change.",
    "changes": ["app/calc.py"],
    "validation": [{"name": "pytest", "command": "pytest -q", "status": "passed"}],
    "artifacts": [],
    "skippedChecks": [],
    "residualRisks": [],
    "prohibitedActions": [],
}


def agent_policy(script_path: Path, **codex) -> dict:
    """The policy's `codex` section that runs tests/support/fake_agent.py with `script_path`."""
    import sys

    return {"command": sys.executable, "args": [str(FAKE_AGENT), "--script", str(script_path)], **codex}


def scripted_agent(target: Path, tmp_path: Path, actions: list, extra_policy: dict | None = None, **codex) -> Path:
    """Write `actions` as the fake agent's script and point `target`'s policy at it (merging extra_policy)."""
    import json

    script = tmp_path / "agent-script.json"
    script.write_text(json.dumps(actions))
    path = Path(target) / ".codex-orchestrator" / "config.yaml"
    policy = yaml.safe_load(path.read_text()) if path.exists() else {}
    policy = policy or {}
    policy["codex"] = agent_policy(script, **codex)
    # The sandbox has a private /tmp and a read-only filesystem: show the script to the agent, and let it
    # write the files outside its worktree that the test reads back (counters, dumps, markers).
    agent = policy.setdefault("agent", {})
    agent["readPaths"] = sorted(set(agent.get("readPaths", [])) | {str(script)})
    outside = set()

    def gather(steps):
        for action in steps:
            (kind, value), = action.items()
            if kind == "role":
                for nested in value.values():
                    gather(nested)
                continue
            writes = kind in ("env_dump", "read_prompt", "pause_once")
            paths = list(value) if kind in ("append", "write") else [value] if writes else []
            outside.update(str(Path(p).parent) for p in paths if Path(p).is_absolute())

    gather(actions)
    if outside:
        agent["writePaths"] = sorted(set(agent.get("writePaths", [])) | outside)
    # The review gates need a reviewer; an approving scripted one unless the test says otherwise.
    policy.setdefault("reviewGates", {}).setdefault("reviewer", reviewer_policy("approve"))
    for key, value in (extra_policy or {}).items():
        if key == "agent":  # merged: the script must stay readable
            for name, paths in value.items():
                agent[name] = sorted(set(agent.get(name, [])) | set(paths)) if isinstance(paths, list) else paths
        else:
            policy[key] = value
    write_policy(target, policy)
    return script
