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
    from .agents import command_of

    where, agent = command_of(policy)
    found = shutil.which(agent)
    version = agent_version(policy, found) if found else None
    package = {"agent.claude.command": "@anthropic-ai/claude-code",
               "agent.gemini.command": "@google/gemini-cli"}.get(where, "@openai/codex")
    checks.append(Check("agent", "ok" if found else "FAIL",
                        f"{agent}: {version or 'found'}" if found else
                        f"{agent} not found on PATH: install it (npm i -g {package}) or set {where}"))
    from .agents import sandbox as sandboxes

    usable, line = sandboxes.status(policy)
    # agent.isolation: none is allowed, but never quiet: it is reported as a warning on every health check.
    checks.append(Check("sandbox", ("warn" if sandboxes.isolation(policy) == "none" else "ok") if usable else "FAIL",
                        line))
    if usable and sandboxes.isolation(policy) != "none":
        checks.append(egress_check(policy))
        for hint in sandboxes.outside_view(policy):
            checks.append(Check("view", "warn", hint))
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
        wanted = [name for key, name in policy.labels.items()  # the approval label only when approval is asked
                  if key != "planApproved" or policy["planning"]["requireApproval"]]
        missing = [name for name in wanted if name.lower() not in have]
        checks.append(Check("labels", "ok" if not missing else "FAIL",
                            f"all {len(wanted)} labels exist" if not missing else
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


def agent_version(policy, found: str) -> str | None:
    """The agent CLI's version without running it in the checkout: from its package metadata (an npm package's
    package.json), else `--version` inside the sandbox, in a scratch directory."""
    import json
    import tempfile
    from pathlib import Path

    real = Path(os.path.realpath(found))
    for place in real.parents:
        meta = place / "package.json"
        if meta.is_file():
            try:
                data = json.loads(meta.read_text())
            except (OSError, ValueError):
                break
            if data.get("version"):
                return f"{data.get('name', real.name)} {data['version']} (package metadata)"
            break
    from .agents import sandbox as sandboxes

    if sandboxes.isolation(policy) == "none" or not sandboxes.status(policy)[0]:
        return None  # never run unconfined: an agent that ignores --version could edit what it finds
    from dataclasses import replace

    from . import proc
    from .agents.sandbox import bubblewrap

    with tempfile.TemporaryDirectory(prefix="cxo-health-") as scratch:
        work = Path(scratch)
        (work / "tmp").mkdir()
        scope = replace(sandboxes.Scope(), readable=sandboxes.tool_paths(policy), writable=[work], tmp=work / "tmp",
                        network="none", scratch=work, home=work)
        box = bubblewrap.Bubblewrap(scope)
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(work), "LANG": "C.UTF-8"}
        child = proc.spawn([found, "--version"], env, box, cwd=str(work), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            out, _ = child.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill_group(child)
            return None
    first = (out or "").strip().splitlines()
    return first[0][:120] if child.returncode == 0 and first else None


def egress_check(policy) -> Check:
    """agent.network: the allowlist, and whether the runner's egress proxy starts (it is stopped at once)."""
    import tempfile
    import time
    from pathlib import Path

    from .agents import sandbox as sandboxes

    mode = sandboxes.network(policy)
    if mode != "allowlist":
        return Check("network", "warn" if mode == "open" else "ok",
                     "agent.network: open: the agent reaches every host and the runner's loopback services"
                     if mode == "open" else "agent.network: none: the agent has no network")
    from .agents.sandbox import egress

    hosts = sandboxes.allow_hosts(policy)
    with tempfile.TemporaryDirectory(prefix="cxo-egress-") as scratch:
        started = time.monotonic()
        try:
            proxy = egress.start(egress.Rules(hosts), Path(scratch) / "proxy.sock", Path(scratch) / "log.jsonl")
        except Exception as exc:  # any cause: the run would fail before its agent starts
            return Check("network", "FAIL", f"the egress proxy does not start ({exc}): agents cannot run under "
                         "agent.network: allowlist")
        proxy.stop()
    return Check("network", "ok", f"allowlist: {', '.join(hosts) or '(no hosts)'}; the egress proxy starts "
                 f"({(time.monotonic() - started) * 1000:.0f} ms)")
