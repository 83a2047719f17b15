"""Hub hardening: path names follow GitHub's rules, org repos need membership, `/_hub/*` needs the admin token."""

import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.hub_fixtures import Api, start_hub


def _git_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def _outside(tmp_path: Path) -> set[str]:
    return {p.name for p in tmp_path.iterdir()} - {"hub-data"}


def test_traversal_in_names_answers_404_and_writes_nothing_outside_the_data_dir(tmp_path):
    server = start_hub(tmp_path)
    try:
        api = Api(server.url, "as:alice")
        for org in ("..%2F..%2Fescaped", "..%2f..%2fescaped", "..", "%2E%2E", "a%2Fb", "-dash", "x" * 40):
            status, _, body = api.call("POST", f"/orgs/{org}/repos", {"name": "evil"})
            assert status == 404 and body["message"] == "Not Found", (org, status, body)
        for owner, repo in (("..%2F..%2Fescaped", "evil"), ("alice", ".."), ("alice", "%2E%2E"),
                            ("alice", "a%2F..%2F..%2Fb")):
            status, _, body = api.call("GET", f"/repos/{owner}/{repo}")
            assert status == 404 and body["message"] == "Not Found", (owner, repo, status)
        status, _, body = api.call("POST", "/user/repos", {"name": ".."})
        assert status == 422 and body["errors"][0]["field"] == "name"
        status, _, body = Api(server.url, "as:../../escaped").call("POST", "/user/repos", {"name": "evil"})
        assert status == 401 and body["message"] == "Bad credentials"
        for path in ("/..%2F..%2Fescaped/evil.git/info/refs?service=git-upload-pack",
                     "/alice/..%2F..%2Fescaped.git/info/refs?service=git-upload-pack",
                     "/%2E%2E/x.git/info/refs?service=git-receive-pack"):
            assert _git_status(server.url + path) == 404, path
        assert _outside(tmp_path) == set()
        assert sorted(p.name for p in (tmp_path / "hub-data" / "git").iterdir()) == []
    finally:
        server.stop()
    assert not server.schema_failures, server.schema_failures


def test_org_repos_need_membership(tmp_path):
    server = start_hub(tmp_path, tokens=["alice:ta", "bob:tb"])
    try:
        alice, bob = Api(server.url, "ta"), Api(server.url, "tb")
        made = alice.ok("POST", "/orgs/acme-org/repos", {"name": "one"})  # a new org: alice becomes its member
        assert made["full_name"] == "acme-org/one" and made["owner"]["type"] == "Organization"
        status, _, body = bob.call("POST", "/orgs/acme-org/repos", {"name": "two"})
        assert status == 403 and "admin access to the organization" in body["message"]
        status, _, _ = bob.call("PUT", "/_hub/orgs/acme-org/members/bob")  # only the admin token adds members
        assert status == 404
        status, _, _ = Api(server.url, server.admin_token).call("PUT", "/_hub/orgs/acme-org/members/bob")
        assert status == 204
        assert bob.ok("POST", "/orgs/acme-org/repos", {"name": "two"})["full_name"] == "acme-org/two"
        alice.ok("POST", "/user/repos", {"name": "mine"})
        status, _, body = bob.call("POST", "/orgs/alice/repos", {"name": "x"})  # a user is not an org
        assert status == 404 and body["message"] == "Not Found"
    finally:
        server.stop()
    assert not server.schema_failures, server.schema_failures


def test_admin_routes_need_the_admin_token_in_open_mode(tmp_path):
    server = start_hub(tmp_path)
    try:
        anon = Api(server.url, None)
        for method, path, body in (("GET", "/_hub/stats", None), ("POST", "/_hub/stats/reset", None),
                                   ("GET", "/_hub/faults", None), ("POST", "/_hub/faults", {"error_rate": 1.0})):
            assert anon.call(method, path, body)[0] == 401, path
            assert anon.call(method, path, body, token="as:acme")[0] == 404, path
            assert anon.call(method, path, body, token="hubber")[0] == 404, path
        assert server.hub.faults.error_rate == 0.0  # the refused POST changed nothing
        assert anon.call("GET", "/_hub/stats", token=server.admin_token)[0] == 200
        assert anon.call("GET", "/_hub/stats", token="admin")[0] == 200  # open mode's well-known admin token
        token_file = tmp_path / "hub-data" / "admin-token"
        assert token_file.read_text().strip() == server.admin_token
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    finally:
        server.stop()


def test_admin_routes_with_a_token_list_accept_only_the_admin_token(tmp_path):
    server = start_hub(tmp_path, tokens=["alice:ta"], admin_token="s3cret-admin")
    try:
        api = Api(server.url, None)
        assert server.admin_token == "s3cret-admin"
        assert api.call("GET", "/_hub/stats")[0] == 401
        assert api.call("GET", "/_hub/stats", token="ta")[0] == 404
        assert api.call("GET", "/_hub/stats", token="admin")[0] == 404  # "admin" is only for open mode
        assert api.call("GET", "/_hub/stats", token="s3cret-admin")[0] == 200
        assert api.call("GET", "/user", token="s3cret-admin")[0] == 401  # not a user token
    finally:
        server.stop()


def test_serve_takes_an_admin_token(tmp_path):
    exe = Path(sys.executable).parent / "cxo-hub"
    proc = subprocess.Popen([str(exe), "serve", "--port", "0", "--data", str(tmp_path / "d"), "--admin-token",
                             "cli-admin"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ})
    try:
        url = proc.stdout.readline().strip()
        api = Api(url, None)
        assert api.call("GET", "/_hub/stats")[0] == 401
        assert api.call("GET", "/_hub/stats", token="cli-admin")[0] == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err
    bad = subprocess.run([str(exe), "serve", "--port", "0", "--data", str(tmp_path / "e"), "--token", "../x:t"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "../x" in bad.stderr
