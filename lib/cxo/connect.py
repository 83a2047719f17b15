"""Build the tracker a policy points at. The one place that reads the token, and then takes it out of the
environment, so that nothing cxo starts later inherits it."""

import os

from .errors import EXIT_AUTH, CxoError

TOKEN_NAMES = ("GITHUB_TOKEN", "GH_TOKEN")
TOKEN_FD = "CXO_TOKEN_FD"  # a parent cxo (the daemon) hands its token to a child through an inherited pipe
_taken: dict[str, str | None] = {"token": None}


def take_token() -> str | None:
    """The token, taken out of os.environ (GITHUB_TOKEN first, then GH_TOKEN, then an inherited pipe)."""
    found = None
    for name in TOKEN_NAMES:
        value = os.environ.pop(name, None)
        found = found or value
    fd = os.environ.pop(TOKEN_FD, None)
    if not found and fd and fd.isdigit():
        try:
            with os.fdopen(int(fd), "r") as pipe:
                found = pipe.read().strip() or None
        except OSError:
            found = None
    if found:
        _taken["token"] = found
    return _taken["token"]


def forget_token() -> None:
    """Drop the remembered token (tests that run several runners in one process)."""
    _taken["token"] = None


def token_pipe(token: str) -> int:
    """A readable fd holding `token`, for a child started with pass_fds and CXO_TOKEN_FD=<fd>."""
    read_end, write_end = os.pipe()
    os.write(write_end, token.encode())
    os.close(write_end)
    return read_end


def tracker_for(policy, require_token: bool = True):
    """A GitHubTracker for the policy's repository (API base from the policy or GITHUB_API_URL)."""
    from .tracker.github import GitHubTracker

    owner, repo = policy.require_repo()
    token = take_token()
    if require_token and not token:
        raise CxoError(
            "no GitHub token: set GITHUB_TOKEN (or GH_TOKEN) to a token with write access to "
            f"{owner}/{repo}",
            EXIT_AUTH,
        )
    # CXO_RETRY_BASE_SECONDS shortens the retry backoff (fault-injection tests); GitHub wants the default.
    base = float(os.environ.get("CXO_RETRY_BASE_SECONDS") or 1.0)
    return GitHubTracker(owner, repo, token=token, api_url=policy.api_url, backoff_base=base)


def runner_logins(policy, tracker, seen: str | None = None) -> set[str]:
    """The logins whose claim and done markers count: this token's own login (kept in the state directory per
    token; learnt from `seen`, the author of a comment this token just wrote, or else asked once with GET /user)
    and the policy's runner.logins."""
    import json

    path = identity_path(policy)
    login = cached_login(policy)
    if not login:
        login = seen or tracker.get_authenticated_user()["login"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"login": login, "api": policy.api_url}))
    return {login.lower()} | {name.lower() for name in policy["runner"]["logins"]}


def identity_path(policy):
    """Where this host keeps the login of the token it runs with (per token, never the token itself)."""
    import hashlib

    token = take_token() or ""
    return policy.state_dir / "identity" / f"{hashlib.sha256(token.encode()).hexdigest()[:16]}.json"


def cached_login(policy) -> str | None:
    """The token's login as this host learnt it, without asking GitHub (None when not known yet)."""
    import json

    path = identity_path(policy)
    try:
        return json.loads(path.read_text()).get("login") if path.is_file() else None
    except (OSError, ValueError):
        return None
