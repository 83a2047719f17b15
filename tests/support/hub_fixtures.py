"""The embedded hub for tests: every response it sends is checked against GitHub's schemas."""

import json
import os
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.github_schema import check_response

TOKEN = "test-token"


class Api:
    """A tiny JSON client for the hub: call(method, path, body=None, headers=None) -> (status, headers, json).

    `admin(method, path, body=None)` calls a `/_hub/*` route with the hub's admin token.
    """

    def __init__(self, url: str, token: str | None = TOKEN, admin_token: str | None = None):
        self.url = url
        self.token = token
        self.admin_token = admin_token

    def call(self, method: str, path: str, body=None, headers=None, token: str | None = None):
        all_headers = {"Accept": "application/vnd.github+json", "User-Agent": "cxo-tests",
                       "Content-Type": "application/json", **(headers or {})}
        use = token if token is not None else self.token
        if use:
            all_headers["Authorization"] = f"token {use}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, method=method, data=data, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, out_headers, text = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            status, out_headers, text = err.code, dict(err.headers), err.read()
        return status, out_headers, (json.loads(text) if text else None)

    def ok(self, method: str, path: str, body=None, **kw):
        status, _, data = self.call(method, path, body, **kw)
        assert status < 300, f"{method} {path} -> {status}: {data}"
        return data

    def admin(self, method: str, path: str, body=None):
        assert self.admin_token, "this Api was made without the hub's admin token"
        return self.ok(method, path, body, token=self.admin_token)


def start_hub(tmp_path: Path, **kwargs):
    from cxo.hub.server import HubServer

    server = HubServer(tmp_path / "hub-data", **kwargs)
    failures: list[str] = []

    def validate(op_id, method, path, status, headers, payload):
        if str(dict(headers or {}).get("Content-Type", "")).startswith("text/plain"):
            return  # a job log's text: GitHub serves it from blob storage, outside the REST schemas
        try:
            body = json.loads(payload) if payload else None
            check_response(op_id, status, body)
        except AssertionError as err:
            failures.append(f"{method} {path}: {err}")
        except ValueError as err:
            failures.append(f"{method} {path}: not JSON: {err}")

    server.on_response = validate
    server.start()
    server.schema_failures = failures
    return server


@pytest.fixture
def hub(tmp_path):
    server = start_hub(tmp_path)
    yield server
    server.stop()
    assert not server.schema_failures, "hub responses that GitHub could not send:\n" + "\n".join(
        server.schema_failures)


@dataclass
class HubRepo:
    url: str
    owner: str
    name: str
    clone_url: str
    token: str
    api: Api


GIT_ENV = {"GIT_AUTHOR_NAME": "Maintainer", "GIT_AUTHOR_EMAIL": "m@example.com",
           "GIT_COMMITTER_NAME": "Maintainer", "GIT_COMMITTER_EMAIL": "m@example.com"}


def token_git_env(token: str) -> dict:
    from cxo.gitutil import token_env

    return {**os.environ, **GIT_ENV, **token_env(token)}


def push_dir(directory: Path, clone_url: str, token: str = TOKEN, branch: str = "main") -> None:
    subprocess.run(["git", "push", "-q", clone_url, f"HEAD:refs/heads/{branch}"], cwd=directory, check=True,
                   capture_output=True, env=token_git_env(token))


@pytest.fixture
def hub_repo(hub, tmp_path) -> HubRepo:
    """acme/widgets on the hub with one commit on main (a tiny Python package and its test), pushed with git."""
    api = Api(hub.url, token="as:acme", admin_token=hub.admin_token)
    repo = api.ok("POST", "/user/repos", {"name": "widgets"})
    seed = tmp_path / "seed"
    seed.mkdir()
    files = {
        "README.md": "# widgets\n",
        "app/__init__.py": "",
        "app/calc.py": "def add(a, b):\n    return a + b\n",
        "tests/__init__.py": "",
        "tests/test_calc.py": "from app.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    }
    for rel, text in files.items():
        (seed / rel).parent.mkdir(parents=True, exist_ok=True)
        (seed / rel).write_text(text)
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "initial"]):
        subprocess.run(["git", *args], cwd=seed, check=True, capture_output=True, env=env)
    push_dir(seed, repo["clone_url"], token="as:acme")
    return HubRepo(hub.url, "acme", "widgets", repo["clone_url"], "as:acme", api)
