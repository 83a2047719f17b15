"""The tracker protocol (issues, comments, labels, pulls, refs) and its errors.

Results are plain dicts and lists in GitHub's JSON shape. Every error is a `TrackerError` with a
one-line message naming the operation and what to do; messages never carry the token.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..errors import EXIT_AUTH, EXIT_NOT_FOUND, EXIT_TRACKER, CxoError


class TrackerError(CxoError):
    """The tracker answered an unexpected error (exit 4)."""

    exit_code = EXIT_TRACKER

    def __init__(self, message: str, *, method: str = "", path: str = "", status: int | None = None,
                 exit_code: int | None = None):
        super().__init__(message, exit_code)
        self.method = method
        self.path = path
        self.status = status


class TrackerUnreachable(TrackerError):
    """The API could not be reached, kept failing (5xx) or stayed rate limited (exit 4)."""

    exit_code = EXIT_TRACKER


class RateLimited(TrackerUnreachable):
    """The API still refused with a rate limit after every allowed wait (exit 4)."""


class WriteOutcomeUnknown(TrackerUnreachable):
    """A non-idempotent write (POST) was sent but its response was lost.

    The write may or may not have happened, so it is not repeated automatically. The caller
    should check (e.g. list comments for its marker, `find_pull` for its branch) and decide.
    `payload` is the JSON body that was sent.
    """

    def __init__(self, message: str, *, method: str = "", path: str = "", payload: Any = None):
        super().__init__(message, method=method, path=path)
        self.payload = payload


class AuthError(TrackerError):
    """No token, or the token was rejected (401, or 403 that is not a rate limit) (exit 5)."""

    exit_code = EXIT_AUTH


class NotFound(TrackerError):
    """The repository, issue or other resource does not exist (exit 6)."""

    exit_code = EXIT_NOT_FOUND


class ValidationFailed(TrackerError):
    """GitHub answered 422; `errors` is GitHub's `errors` list (exit 4)."""

    exit_code = EXIT_TRACKER

    def __init__(self, message: str, *, method: str = "", path: str = "", errors: list | None = None,
                 github_message: str = ""):
        super().__init__(message, method=method, path=path, status=422)
        self.errors = list(errors or [])
        self.github_message = github_message

    def has_code(self, code: str) -> bool:
        return any(isinstance(e, dict) and e.get("code") == code for e in self.errors)


@runtime_checkable
class Tracker(Protocol):
    """What cxo needs from an issue tracker. Numbers are issue/PR numbers (one number space)."""

    owner: str
    repo: str

    @property
    def request_count(self) -> int: ...

    def stats(self) -> dict[str, int]:
        """{"requests", "writes", "not_modified", "retries"}: HTTP requests actually sent."""
        ...

    def get_repo(self) -> dict: ...

    def get_authenticated_user(self) -> dict: ...

    def get_issue(self, number: int) -> dict: ...

    def list_issues(self, state: str = "open", labels: list[str] | None = None,
                    since: Any = None) -> list[dict]:
        """Every page; includes pull requests (they carry a `pull_request` key)."""
        ...

    def list_comments(self, number: int) -> list[dict]: ...

    def list_repo_comments(self, since: Any = None) -> list[dict]: ...

    def create_comment(self, number: int, body: str) -> dict: ...

    def update_comment(self, comment_id: int, body: str) -> dict: ...

    def delete_comment(self, comment_id: int) -> None: ...

    def add_labels(self, number: int, names: list[str]) -> list[dict]: ...

    def remove_label(self, number: int, name: str) -> list[dict]:
        """The remaining labels; a label that is already gone is not an error."""
        ...

    def set_labels(self, number: int, names: list[str]) -> list[dict]: ...

    def list_repo_labels(self) -> list[dict]: ...

    def create_label(self, name: str, color: str, description: str = "") -> dict:
        """The label; an existing label (422 already_exists) is returned, not an error."""
        ...

    def create_issue(self, title: str, body: str = "", labels: list[str] | None = None) -> dict: ...

    def update_issue(self, number: int, **fields: Any) -> dict: ...

    def find_pull(self, head_branch: str, state: str = "all") -> dict | None:
        """The newest pull request whose head is `owner:head_branch`, or None."""
        ...

    def create_pull(self, title: str, head: str, base: str, body: str = "", draft: bool = True) -> dict: ...

    def update_pull(self, number: int, **fields: Any) -> dict: ...

    def get_pull(self, number: int) -> dict: ...

    def list_pulls(self, state: str = "open") -> list[dict]: ...

    def list_check_runs(self, ref: str) -> list[dict]: ...

    def combined_status(self, ref: str) -> dict: ...

    def job_log(self, job_id: int) -> str | None: ...

    def get_ref(self, ref: str) -> dict | None:
        """`heads/<branch>` (or `refs/heads/<branch>`); None when it does not exist."""
        ...

    def list_sub_issues(self, number: int) -> list[dict]: ...

    def add_sub_issue(self, number: int, sub_issue_id: int) -> dict: ...

    def list_blocked_by(self, number: int) -> list[dict]: ...

    def add_blocked_by(self, number: int, issue_id: int) -> dict: ...

    # ---- pull request reviews, review comments, reactions --------------------------------------

    def list_reviews(self, number: int) -> list[dict]:
        """Submitted reviews of a PR, oldest first (`state`: APPROVED, CHANGES_REQUESTED, COMMENTED, ...)."""
        ...

    def get_review(self, number: int, review_id: int) -> dict: ...

    def create_review(self, number: int, event: str, body: str = "", comments: list[dict] | None = None,
                      commit_id: str | None = None) -> dict:
        """`event`: APPROVE, REQUEST_CHANGES or COMMENT; `comments`: [{path, line, body, side?}]."""
        ...

    def list_review_comments(self, number: int, since: Any = None) -> list[dict]:
        """Every review comment of a PR (replies carry `in_reply_to_id`; outdated ones have no `position`)."""
        ...

    def list_comments_for_review(self, number: int, review_id: int) -> list[dict]: ...

    def create_review_comment(self, number: int, body: str, commit_id: str, path: str, line: int,
                              side: str = "RIGHT") -> dict: ...

    def reply_to_review_comment(self, number: int, comment_id: int, body: str) -> dict: ...

    def react_to_issue(self, number: int, content: str) -> dict:
        """Idempotent: reacting again with the same content returns the existing reaction."""
        ...

    def react_to_comment(self, comment_id: int, content: str) -> dict: ...

    def react_to_review_comment(self, comment_id: int, content: str) -> dict: ...

    def list_pull_commits(self, number: int) -> list[dict]: ...

    def list_pull_files(self, number: int) -> list[dict]: ...

    def is_merged(self, number: int) -> bool:
        """True when the PR was merged; False when it was not (or does not exist: GitHub answers 404 both ways)."""
        ...

    def list_issue_events(self, number: int) -> list[dict]: ...


def write_once(do, check, attempts: int = 4):
    """Run the write `do()`; when its response is lost, `check()` whether it happened before writing again.
    `check()` returns the written object, or None when the write did not happen."""
    for attempt in range(attempts):
        try:
            return do()
        except WriteOutcomeUnknown:
            found = check()
            if found is not None:
                return found
            if attempt == attempts - 1:
                raise
