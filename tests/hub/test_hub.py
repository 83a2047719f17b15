"""The hub against GitHub's documented behaviour; every response is schema-checked by the `hub` fixture."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.github_schema import check_response
from tests.support.hub_fixtures import GIT_ENV, Api, push_dir, start_hub, token_git_env

R = "/repos/acme/widgets"


def new_issue(api, title="t", labels=()):
    return api.ok("POST", f"{R}/issues", {"title": title, "labels": list(labels)})


def test_schema_check_rejects_a_body_github_could_not_send():
    with pytest.raises(AssertionError, match="issues/get 200"):
        check_response("issues/get", 200, {"number": 1})
    with pytest.raises(AssertionError, match="not one GitHub documents"):
        check_response("issues/create", 200, {})


def test_label_semantics(hub_repo):
    api = hub_repo.api
    issue = new_issue(api, labels=["agent:auto"])
    n = issue["number"]
    labels = api.ok("POST", f"{R}/issues/{n}/labels", {"labels": ["AGENT:AUTO", "bug"]})
    assert sorted(lab["name"] for lab in labels) == ["agent:auto", "bug"]  # existing: no-op, stored case kept
    status, _, body = api.call("DELETE", f"{R}/issues/{n}/labels/wontfix")
    assert (status, body["message"]) == (404, "Label does not exist")
    remaining = api.ok("DELETE", f"{R}/issues/{n}/labels/bug")
    assert [lab["name"] for lab in remaining] == ["agent:auto"]
    status, _, body = api.call("POST", f"{R}/labels", {"name": "Agent:Auto", "color": "ffffff"})
    assert status == 422 and body["errors"][0]["code"] == "already_exists"
    assert api.ok("PUT", f"{R}/issues/{n}/labels", {"labels": []}) == []
    auto_created = api.ok("GET", f"{R}/labels/bug")
    assert auto_created["color"] == "ededed"


def test_pagination_links_across_250_issues(hub_repo):
    api = hub_repo.api
    for i in range(250):
        new_issue(api, f"issue {i}")
    status, headers, page1 = api.call("GET", f"{R}/issues?per_page=100")
    assert status == 200 and len(page1) == 100
    link = headers["Link"]
    assert 'rel="next"' in link and 'rel="last"' in link and "page=3" in link and "per_page=100" in link
    next_url = link.split(";")[0].strip("<>")
    _, headers2, page2 = api.call("GET", next_url.replace(hub_repo.url, ""))
    assert 'rel="prev"' in headers2["Link"] and 'rel="first"' in headers2["Link"]
    _, headers3, page3 = api.call("GET", f"{R}/issues?per_page=100&page=3")
    assert len(page3) == 50 and 'rel="next"' not in headers3["Link"]
    numbers = [i["number"] for i in page1 + page2 + page3]
    assert len(set(numbers)) == 250
    _, single, _ = api.call("GET", f"{R}/labels")
    assert "Link" not in single


def test_etag_304_costs_no_rate_limit(hub_repo):
    api = hub_repo.api
    new_issue(api)
    status, headers, _ = api.call("GET", f"{R}/issues")
    remaining = int(headers["x-ratelimit-remaining"])
    status, headers2, body = api.call("GET", f"{R}/issues", headers={"If-None-Match": headers["ETag"]})
    assert status == 304 and body is None
    assert int(headers2["x-ratelimit-remaining"]) == remaining
    status, _, _ = api.call("GET", f"{R}/issues", headers={"If-None-Match": "W/" + headers["ETag"]})
    assert status == 304
    new_issue(api)
    status, _, _ = api.call("GET", f"{R}/issues", headers={"If-None-Match": headers["ETag"]})
    assert status == 200
    stats = api.admin("GET", "/_hub/stats")
    assert stats["not_modified"] == 2


def make_branch(hub_repo, tmp_path, branch, files):
    work = tmp_path / f"work-{branch.replace('/', '-')}"
    subprocess.run(["git", "clone", "-q", hub_repo.clone_url, str(work)], check=True)
    subprocess.run(["git", "checkout", "-q", "-b", branch], cwd=work, check=True)
    for rel, text in files.items():
        (work / rel).write_text(text)
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "add", "-A"], cwd=work, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", branch], cwd=work, check=True, env=env)
    push_dir(work, hub_repo.clone_url, hub_repo.token, branch)
    return work


def test_pull_request_rules_and_a_real_merge(hub_repo, tmp_path):
    api = hub_repo.api
    issue = new_issue(api)
    make_branch(hub_repo, tmp_path, "feature", {"feature.txt": "new\n"})
    pr = api.ok("POST", f"{R}/pulls", {"title": "F", "head": "feature", "base": "main", "draft": True})
    assert pr["number"] == issue["number"] + 1 and pr["draft"] is True  # one number space
    as_issue = api.ok("GET", f"{R}/issues/{pr['number']}")
    assert "pull_request" in as_issue
    assert api.call("GET", f"{R}/pulls/{issue['number']}")[0] == 404
    status, _, body = api.call("POST", f"{R}/pulls", {"title": "F", "head": "feature", "base": "main"})
    assert status == 422 and body["errors"][0]["message"] == "A pull request already exists for acme:feature."
    status, _, body = api.call("POST", f"{R}/pulls", {"title": "X", "head": "main", "base": "main"})
    assert status == 422 and body["errors"][0]["message"] == "No commits between main and main"
    status, _, body = api.call("POST", f"{R}/pulls", {"title": "X", "head": "nope", "base": "main"})
    assert status == 422 and body["errors"][0] == {"resource": "PullRequest", "field": "head", "code": "invalid"}
    assert [p["number"] for p in api.ok("GET", f"{R}/pulls?head=acme:feature")] == [pr["number"]]
    assert api.ok("GET", f"{R}/pulls?head=acme:other") == []
    assert len(api.ok("GET", f"{R}/pulls?head=other")) == 1  # a bare branch name is ignored, like GitHub
    merged = api.ok("PUT", f"{R}/pulls/{pr['number']}/merge", {})
    assert merged["merged"] is True
    assert api.ok("GET", f"{R}/pulls/{pr['number']}")["merged"] is True
    assert api.call("PUT", f"{R}/pulls/{pr['number']}/merge", {})[0] == 405
    check = tmp_path / "after-merge"
    subprocess.run(["git", "clone", "-q", hub_repo.clone_url, str(check)], check=True)
    assert (check / "feature.txt").read_text() == "new\n"


def test_git_push_needs_a_token(hub_repo, tmp_path):
    work = tmp_path / "anon"
    subprocess.run(["git", "clone", "-q", hub_repo.clone_url, str(work)], check=True)  # anonymous fetch works
    (work / "x.txt").write_text("x\n")
    env = {**os.environ, **GIT_ENV, "GIT_TERMINAL_PROMPT": "0"}
    subprocess.run(["git", "add", "-A"], cwd=work, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "x"], cwd=work, check=True, env=env)
    anon = subprocess.run(["git", "push", "-q", "origin", "HEAD:refs/heads/anon"], cwd=work, capture_output=True,
                          env=env)
    assert anon.returncode != 0
    ok = subprocess.run(["git", "push", "-q", "origin", "HEAD:refs/heads/anon"], cwd=work, capture_output=True,
                        env=token_git_env(hub_repo.token))
    assert ok.returncode == 0, ok.stderr
    assert hub_repo.api.ok("GET", f"{R}/git/ref/heads/anon")["object"]["sha"]


def test_only_listed_tokens_are_accepted(tmp_path):
    server = start_hub(tmp_path, tokens=["alice:good-token"])
    try:
        status, _, body = Api(server.url, token="bad").call("GET", "/user")
        assert status == 401 and body["message"] == "Bad credentials"
        assert Api(server.url, token="good-token").ok("GET", "/user")["login"] == "alice"
    finally:
        server.stop()
    assert not server.schema_failures


def test_comments_author_association_and_sub_issues(hub_repo):
    api = hub_repo.api
    parent, child = new_issue(api, "parent"), new_issue(api, "child")
    api.ok("POST", f"{R}/issues/{parent['number']}/comments", {"body": "owner says"})
    api.call("PUT", f"{R}/collaborators/carol")
    Api(hub_repo.url, token="as:carol").ok("POST", f"{R}/issues/{parent['number']}/comments", {"body": "collab"})
    Api(hub_repo.url, token="as:mallory").ok("POST", f"{R}/issues/{parent['number']}/comments", {"body": "stranger"})
    associations = [c["author_association"] for c in api.ok("GET", f"{R}/issues/{parent['number']}/comments")]
    assert associations == ["OWNER", "COLLABORATOR", "NONE"]
    api.ok("POST", f"{R}/issues/{parent['number']}/sub_issues", {"sub_issue_id": child["id"]})
    assert [i["number"] for i in api.ok("GET", f"{R}/issues/{parent['number']}/sub_issues")] == [child["number"]]
    assert api.ok("GET", f"{R}/issues/{child['number']}/parent")["number"] == parent["number"]


def test_errors_look_like_github(hub_repo):
    api = hub_repo.api
    assert api.call("GET", "/repos/acme/nothing")[0] == 404
    assert api.call("GET", f"{R}/issues/999")[0] == 404
    status, _, body = api.call("POST", f"{R}/issues", {"body": "no title"})
    assert status == 422 and body["errors"][0]["field"] == "title"
    status, _, _ = Api(hub_repo.url, token=None).call("POST", f"{R}/issues", {"title": "anon"})
    assert status == 401


def test_serve_prints_its_url_first_and_the_cli_seeds_it(tmp_path):
    exe = Path(sys.executable).parent / "cxo-hub"
    proc = subprocess.Popen([str(exe), "serve", "--port", "0", "--data", str(tmp_path / "d")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        seed = tmp_path / "seed"
        seed.mkdir()
        (seed / "a.txt").write_text("a\n")
        env = {**os.environ, **GIT_ENV}
        for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "a"]):
            subprocess.run(["git", *args], cwd=seed, check=True, env=env)
        common = ["--api", url, "--token", "as:dana"]
        made = subprocess.run([str(exe), "create-repo", *common, "tools", "--from", str(seed)], capture_output=True,
                              text=True, check=True)
        assert '"full_name": "dana/tools"' in made.stdout
        subprocess.run([str(exe), "create-issue", *common, "--repo", "dana/tools", "--title", "Do it", "--label",
                        "agent:auto"], check=True, capture_output=True)
        listed = subprocess.run([str(exe), "list", "issues", *common, "--repo", "dana/tools"], capture_output=True,
                                text=True, check=True)
        assert '"agent:auto"' in listed.stdout
        assert Api(url, "as:dana").ok("GET", "/repos/dana/tools/branches/main")["name"] == "main"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    down = subprocess.run([str(exe), "list", "issues", "--api", url, "--repo", "dana/tools"], capture_output=True,
                          text=True)
    assert down.returncode == 4 and "cannot reach" in down.stderr


def test_ghapi_talks_to_the_hub(hub_repo):
    from ghapi.all import GhApi

    new_issue(hub_repo.api, "via ghapi")
    gh = GhApi(owner="acme", repo="widgets", token=hub_repo.token, gh_host=hub_repo.url, sync=True)
    issues = gh.issues.list_for_repo()
    assert [i.title for i in issues] == ["via ghapi"]
    labels = gh.issues.add_labels(issues[0].number, labels=["agent:auto"])
    assert [lab.name for lab in labels] == ["agent:auto"]


def test_fault_injection_answers_errors_and_drops_writes(hub_repo):
    api = hub_repo.api
    api.admin("POST", "/_hub/faults", {"error_rate": 1.0})
    assert api.call("GET", f"{R}/issues")[0] in (502, 503)
    api.admin("POST", "/_hub/faults", {"drop_rate": 1.0})
    with pytest.raises(Exception):  # noqa: B017 - the connection closes without a response
        api.call("POST", f"{R}/issues", {"title": "lost"})
    api.admin("POST", "/_hub/faults", {})
    assert [i["title"] for i in api.ok("GET", f"{R}/issues")] == ["lost"]  # the write happened
    faults = api.admin("GET", "/_hub/stats")["faults"]
    assert faults == {"errors": 1, "dropped": 1}
