"""cxo-health: one line per check, each naming what to do when it fails."""

import os
import shutil
import subprocess
from dataclasses import asdict, dataclass


@dataclass
class Check:
    name: str
    status: str  # ok | FAIL | warn | skip
    detail: str

    def to_json(self):
        return asdict(self)


def _version(argv) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout or out.stderr).strip().splitlines()[0] if out.returncode == 0 else None


def run_checks(target) -> list[Check]:
    from . import policy as policy_mod
    from .connect import take_token
    from .errors import CxoError

    checks = []
    git = _version(["git", "--version"])
    checks.append(Check("git", "ok" if git else "FAIL", git or "git not found on PATH: install git"))
    try:
        policy = policy_mod.load(target)
        checks.append(Check("policy", "ok", policy.shown_path() if policy.path else "no policy file: defaults"))
    except CxoError as exc:
        checks.append(Check("policy", "FAIL", exc.message))
        return checks + [Check(n, "skip", "needs a valid policy") for n in ("agent", "repository", "token", "api")]
    agent = policy["codex"]["command"]
    found = shutil.which(agent)
    version = _version([found, "--version"]) if found else None
    checks.append(Check("agent", "ok" if found else "FAIL",
                        f"{agent}: {version or 'found'}" if found else
                        f"{agent} not found on PATH: install it (npm i -g @openai/codex) or set codex.command"))
    from .agents import sandbox as sandboxes

    usable, line = sandboxes.status(policy)
    # agent.isolation: none is allowed, but never quiet: it is reported as a warning on every health check.
    checks.append(Check("sandbox", ("warn" if sandboxes.isolation(policy) == "none" else "ok") if usable else "FAIL",
                        line))
    if not (policy.owner and policy.repo):
        checks.append(Check("repository", "FAIL", "no github.owner/github.repo and no GitHub origin remote: "
                            "run cxo-setup or set them in the policy"))
        return checks + [Check(n, "skip", "needs a repository") for n in ("token", "api", "repo access", "labels")]
    checks.append(Check("repository", "ok", f"{policy.owner}/{policy.repo} at {policy.api_url}"))
    if not take_token():
        checks.append(Check("token", "FAIL", "no token: set GITHUB_TOKEN (or GH_TOKEN)"))
        return checks + [Check(n, "skip", "needs a token") for n in ("api", "repo access", "labels")]
    checks.append(Check("token", "ok", "GITHUB_TOKEN/GH_TOKEN is set (value not shown)"))
    from .connect import tracker_for

    tracker = tracker_for(policy)
    tracker.max_retries = 1
    try:
        user = tracker.get_authenticated_user()
        checks.append(Check("api", "ok", f"{policy.api_url} accepts the token (user {user.get('login')})"))
    except CxoError as exc:
        status = "token" if getattr(exc, "exit_code", 0) == 5 else "api"
        checks.append(Check(status, "FAIL", exc.message))
        return checks + [Check(n, "skip", "needs a working API") for n in ("repo access", "labels")]
    try:
        repo = tracker.get_repo()
        push = (repo.get("permissions") or {}).get("push")
        checks.append(Check("repo access", "ok" if push is not False else "FAIL",
                            f"{repo.get('full_name')}: " + ("push access" if push else
                                                            "permissions unknown" if push is None else
                                                            "no push access: the runner cannot publish")))
        have = {lab["name"].lower() for lab in tracker.list_repo_labels()}
        missing = [name for name in policy.labels.values() if name.lower() not in have]
        checks.append(Check("labels", "ok" if not missing else "FAIL",
                            "all seven labels exist" if not missing else
                            f"missing {', '.join(missing)}: run cxo-setup --prepare-labels"))
    except CxoError as exc:
        checks.append(Check("repo access", "FAIL", exc.message))
    try:
        policy.state_dir.mkdir(parents=True, exist_ok=True)
        writable = os.access(policy.state_dir, os.W_OK)
    except OSError:
        writable = False
    checks.append(Check("state dir", "ok" if writable else "FAIL",
                        str(policy.state_dir) + ("" if writable else ": not writable: fix permissions")))
    return checks
