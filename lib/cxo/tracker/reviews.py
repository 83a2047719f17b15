"""GitHubTracker's pull-request reviews, review comments, replies, reactions, PR commits/files and issue
events: one API category in a module of its own, on the tracker's transport (`_request`, `_paginate`)."""

from typing import Any

from .base import NotFound, TrackerError, WriteOutcomeUnknown
from .http import iso_since


class ReviewsMixin:

    def list_reviews(self, number: int) -> list[dict]:
        return self._paginate(self._repo_path(f"/pulls/{int(number)}/reviews"))

    def get_review(self, number: int, review_id: int) -> dict:
        return self._request("GET", self._repo_path(f"/pulls/{int(number)}/reviews/{int(review_id)}"))

    def create_review(self, number: int, event: str, body: str = "", comments: list[dict] | None = None,
                      commit_id: str | None = None) -> dict:
        if event not in ("APPROVE", "REQUEST_CHANGES", "COMMENT"):
            raise TrackerError(f"create_review: unknown event {event!r}: use APPROVE, REQUEST_CHANGES or COMMENT")
        data: dict[str, Any] = {"event": event}
        if body:
            data["body"] = body
        if comments:
            data["comments"] = [dict(c) for c in comments]
        if commit_id:
            data["commit_id"] = commit_id
        return self._request("POST", self._repo_path(f"/pulls/{int(number)}/reviews"), data=data)

    def list_review_comments(self, number: int, since: Any = None) -> list[dict]:
        return self._paginate(self._repo_path(f"/pulls/{int(number)}/comments"), {"since": iso_since(since)})

    def list_comments_for_review(self, number: int, review_id: int) -> list[dict]:
        return self._paginate(self._repo_path(f"/pulls/{int(number)}/reviews/{int(review_id)}/comments"))

    def create_review_comment(self, number: int, body: str, commit_id: str, path: str, line: int,
                              side: str = "RIGHT") -> dict:
        return self._request("POST", self._repo_path(f"/pulls/{int(number)}/comments"), data={
            "body": body, "commit_id": commit_id, "path": path, "line": int(line), "side": side})

    def reply_to_review_comment(self, number: int, comment_id: int, body: str) -> dict:
        return self._request("POST", self._repo_path(f"/pulls/{int(number)}/comments/{int(comment_id)}/replies"),
                             data={"body": body})

    def _react(self, tail: str, content: str) -> dict:
        # GitHub answers an existing reaction with 200 and the same reaction, so a POST whose response was lost
        # is safe to send again.
        path = self._repo_path(tail)
        try:
            return self._request("POST", path, data={"content": content})
        except WriteOutcomeUnknown:
            return self._request("POST", path, data={"content": content})

    def react_to_issue(self, number: int, content: str) -> dict:
        return self._react(f"/issues/{int(number)}/reactions", content)

    def react_to_comment(self, comment_id: int, content: str) -> dict:
        return self._react(f"/issues/comments/{int(comment_id)}/reactions", content)

    def react_to_review_comment(self, comment_id: int, content: str) -> dict:
        return self._react(f"/pulls/comments/{int(comment_id)}/reactions", content)

    def list_pull_commits(self, number: int) -> list[dict]:
        return self._paginate(self._repo_path(f"/pulls/{int(number)}/commits"))

    def list_pull_files(self, number: int) -> list[dict]:
        return self._paginate(self._repo_path(f"/pulls/{int(number)}/files"))

    def is_merged(self, number: int) -> bool:
        try:
            self._request("GET", self._repo_path(f"/pulls/{int(number)}/merge"))
        except NotFound:
            return False
        return True

    def list_timeline(self, number: int) -> list[dict]:
        """The issue's (or PR's) timeline: events, `commented` conversation comments and `reviewed` reviews."""
        return self._paginate(self._repo_path(f"/issues/{int(number)}/timeline"))

    def list_issue_events(self, number: int) -> list[dict]:
        return self._paginate(self._repo_path(f"/issues/{int(number)}/events"))
