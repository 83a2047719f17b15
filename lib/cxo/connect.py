"""Build the tracker a policy points at. The one place that reads the token from the environment."""

import os

from .errors import EXIT_AUTH, CxoError


def token_from_env() -> str | None:
    return os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or None


def tracker_for(policy, require_token: bool = True):
    """A GitHubTracker for the policy's repository (API base from the policy or GITHUB_API_URL)."""
    from .tracker.github import GitHubTracker

    owner, repo = policy.require_repo()
    token = token_from_env()
    if require_token and not token:
        raise CxoError(
            "no GitHub token: set GITHUB_TOKEN (or GH_TOKEN) to a token with write access to "
            f"{owner}/{repo}",
            EXIT_AUTH,
        )
    # CXO_RETRY_BASE_SECONDS shortens the retry backoff (fault-injection tests); GitHub wants the default.
    base = float(os.environ.get("CXO_RETRY_BASE_SECONDS") or 1.0)
    return GitHubTracker(owner, repo, token=token, api_url=policy.api_url, backoff_base=base)
