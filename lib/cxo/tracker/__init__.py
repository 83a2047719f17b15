"""Issue trackers: the `Tracker` protocol and its GitHub implementation (httpx2 imported lazily)."""

from .base import (
    AuthError,
    NotFound,
    RateLimited,
    Tracker,
    TrackerError,
    TrackerUnreachable,
    ValidationFailed,
    WriteOutcomeUnknown,
)
from .github import GitHubTracker

__all__ = [
    "AuthError",
    "GitHubTracker",
    "NotFound",
    "RateLimited",
    "Tracker",
    "TrackerError",
    "TrackerUnreachable",
    "ValidationFailed",
    "WriteOutcomeUnknown",
]
