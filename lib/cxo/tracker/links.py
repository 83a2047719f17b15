"""GitHubTracker's labels and issue links (sub-issues, blocked-by dependencies): API categories in a module of
their own, on the tracker's transport (`_request`, `_paginate`)."""

from urllib.parse import quote

from .base import NotFound, ValidationFailed


class LabelsMixin:

    def list_labels(self, number: int) -> list[dict]:
        return self._paginate(self._repo_path(f"/issues/{int(number)}/labels"))

    def add_labels(self, number: int, names: list[str]) -> list[dict]:
        return self._request("POST", self._repo_path(f"/issues/{int(number)}/labels"),
                             data={"labels": list(names)}) or []

    def remove_label(self, number: int, name: str) -> list[dict]:
        try:
            return self._request(
                "DELETE", self._repo_path(f"/issues/{int(number)}/labels/{quote(name, safe='')}")) or []
        except NotFound:
            # GitHub answers 404 when the label is not on the issue: already removed. If the
            # issue itself is missing, listing its labels raises NotFound.
            return self.list_labels(number)

    def set_labels(self, number: int, names: list[str]) -> list[dict]:
        return self._request("PUT", self._repo_path(f"/issues/{int(number)}/labels"),
                             data={"labels": list(names)}) or []

    def list_repo_labels(self) -> list[dict]:
        return self._paginate(self._repo_path("/labels"))

    def get_label(self, name: str) -> dict:
        return self._request("GET", self._repo_path(f"/labels/{quote(name, safe='')}"))

    def create_label(self, name: str, color: str, description: str = "") -> dict:
        data = {"name": name, "color": str(color).lstrip("#"), "description": description or ""}
        try:
            return self._request("POST", self._repo_path("/labels"), data=data)
        except ValidationFailed as e:
            if e.has_code("already_exists"):
                return self.get_label(name)
            raise



class IssueLinksMixin:

    def list_sub_issues(self, number: int) -> list[dict]:
        return self._paginate(self._repo_path(f"/issues/{int(number)}/sub_issues"))

    def add_sub_issue(self, number: int, sub_issue_id: int) -> dict:
        return self._request("POST", self._repo_path(f"/issues/{int(number)}/sub_issues"),
                             data={"sub_issue_id": int(sub_issue_id)})

    def list_blocked_by(self, number: int) -> list[dict]:
        return self._paginate(self._repo_path(f"/issues/{int(number)}/dependencies/blocked_by"))

    def add_blocked_by(self, number: int, issue_id: int) -> dict:
        return self._request("POST", self._repo_path(f"/issues/{int(number)}/dependencies/blocked_by"),
                             data={"issue_id": int(issue_id)})
