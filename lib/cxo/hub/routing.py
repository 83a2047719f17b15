"""The hub's routing: the `route` registry, requests, GitHub-shaped errors and fault settings."""

import json
import re
from dataclasses import dataclass

DOCS = "https://docs.github.com/rest"

# GitHub's name rules. Path parameters that break them answer 404 before any lookup, so a name such as
# `..%2F..%2Fx` (decoded: `../../x`) can never reach the store or the filesystem.
LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
REPO_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
LOGIN_PARAMS = ("owner", "org", "login")


def valid_login(value) -> bool:
    """A user or organization login: letters, digits and hyphens, not starting with a hyphen, at most 39."""
    return isinstance(value, str) and LOGIN.fullmatch(value) is not None


def valid_repo_name(value) -> bool:
    """A repository name: letters, digits, `.`, `_` and `-`, at most 100, and neither `.` nor `..`."""
    return isinstance(value, str) and REPO_NAME.fullmatch(value) is not None and value not in (".", "..")


class HubError(Exception):
    def __init__(self, status: int, message: str, errors: list | None = None, headers: dict | None = None,
                 docs: str = DOCS):
        super().__init__(message)
        self.status, self.message, self.errors, self.headers, self.docs = status, message, errors, headers, docs

    def body(self) -> dict:
        body = {"message": self.message, "documentation_url": self.docs, "status": str(self.status)}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def not_found() -> HubError:
    return HubError(404, "Not Found")


def invalid(errors: list, message: str = "Validation Failed") -> HubError:
    return HubError(422, message, errors)


@dataclass
class FaultConfig:
    """Injected faults for reliability tests: errors, latency and lost responses."""

    error_rate: float = 0.0
    latency_ms: int = 0
    drop_rate: float = 0.0
    seed: int | None = None

    def to_json(self) -> dict:
        return {"error_rate": self.error_rate, "latency_ms": self.latency_ms, "drop_rate": self.drop_rate,
                "seed": self.seed}


class Request:
    def __init__(self, method, path, query, headers, body, login):
        self.method, self.path, self.query, self.headers, self.body, self.login = (
            method, path, query, headers, body, login)

    def arg(self, name, default=None):
        values = self.query.get(name)
        return values[0] if values else default

    def json(self):
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise HubError(400, "Problems parsing JSON") from None
        return data

    def object(self) -> dict:
        data = self.json()
        if not isinstance(data, dict):
            raise HubError(400, "Body should be a JSON object")
        return data


ROUTES = []


def route(method: str, pattern: str, op_id: str, auth: bool = False):
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern.replace("{ref+}", "(?P<ref>.+)")) + "$")

    def register(fn):
        ROUTES.append((method, regex, op_id, fn, auth))
        return fn

    return register


def check_params(params: dict) -> None:
    """404 unless every owner/org/login path parameter is a valid login and every repo one a valid name."""
    for key, value in params.items():
        if (key in LOGIN_PARAMS and not valid_login(value)) or (key == "repo" and not valid_repo_name(value)):
            raise not_found()


def require_text(data: dict, field: str, resource: str) -> str:
    """A required non-empty string field, or GitHub's 422 missing_field."""
    value = data.get(field)
    if not isinstance(value, str) or not value:
        raise invalid([{"resource": resource, "code": "missing_field", "field": field}])
    return value


def labels_from_body(data):
    """Add/set labels accept {"labels": [...]}, a bare array, or a single string."""
    if isinstance(data, list):
        return [str(x["name"]) if isinstance(x, dict) else str(x) for x in data]
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        labels = data.get("labels", [])
        if isinstance(labels, str):
            return [labels]
        if not isinstance(labels, list):
            raise invalid([{"resource": "Label", "field": "labels", "code": "invalid"}])
        return [str(x["name"]) if isinstance(x, dict) else str(x) for x in labels]
    raise HubError(400, "Body should be a JSON object")
