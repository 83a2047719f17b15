"""Write access on the hub, as GitHub grants it: pushes and REST writes need push (or admin) rights.

Push rights: the repository's owner, its collaborators, and for an organization's repository the org's members.
Everyone else may fetch, open issues, comment, react and review. Every test reads the branch or the resource
back, so a hub that answered 403 but still wrote would fail it; every refused REST write is then made by the
owner, which must change what was read, so the read-back is shown to see the change.
"""

import base64
import os
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from tests.support.hub_fixtures import GIT_ENV, Api, HubRepo, start_hub

R = "/repos/acme/widgets"
OWNER, COLLAB, STRANGER = "as:acme", "as:carol", "as:mallory"
REFUSED = "Resource not accessible by personal access token"


def run_git(*args, cwd, token=None, check=True):
    """git with the token as HTTP basic auth (an extra header: no credential helper, no prompt)."""
    cmd = ["git"]
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        cmd += ["-c", f"http.extraHeader=Authorization: Basic {basic}"]
    env = {**os.environ, **GIT_ENV, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_CONFIG_GLOBAL": os.devnull}
    proc = subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, env=env)
    if check:
        assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc


def clone(clone_url, dest, token=None):
    run_git("clone", "-q", clone_url, str(dest), cwd=dest.parent, token=token)
    return dest


def commit(work, name, text):
    (work / name).write_text(text)
    run_git("add", "-A", cwd=work)
    run_git("commit", "-q", "-m", f"change {name}", cwd=work)
    return run_git("rev-parse", "HEAD", cwd=work).stdout.strip()


def branch_sha(api, branch, repo=R):
    status, _, body = api.call("GET", f"{repo}/git/ref/heads/{branch}")
    return body["object"]["sha"] if status == 200 else None


def assert_denied(proc, login, full="acme/widgets"):
    assert proc.returncode != 0
    assert f"Permission to {full}.git denied to {login}." in proc.stderr, proc.stderr
    assert "403" in proc.stderr, proc.stderr


# --- git pushes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fast-forward", "force", "delete", "new-branch"])
def test_a_stranger_cannot_push_fast_forward_force_or_delete(hub_repo, tmp_path, kind):
    api = hub_repo.api
    before = branch_sha(api, "main")
    work = clone(hub_repo.clone_url, tmp_path / "work")  # fetching a public repository stays open
    if kind == "fast-forward":
        commit(work, "evil.txt", "x\n")
        args = ["push", "origin", "HEAD:refs/heads/main"]
    elif kind == "force":
        run_git("checkout", "-q", "--orphan", "rewrite", cwd=work)
        commit(work, "README.md", "rewritten\n")
        args = ["push", "--force", "origin", "HEAD:refs/heads/main"]
    elif kind == "delete":  # main and a branch the owner pushed (git itself refuses to delete HEAD's branch)
        commit(work, "topic.txt", "t\n")
        run_git("push", "origin", "HEAD:refs/heads/topic", cwd=work, token=OWNER)
        args = ["push", "origin", "--delete", "main", "topic"]
    else:
        commit(work, "evil.txt", "x\n")
        args = ["push", "origin", "HEAD:refs/heads/sneaky"]
    topic = branch_sha(api, "topic")
    assert_denied(run_git(*args, cwd=work, token=STRANGER, check=False), "mallory")
    assert branch_sha(api, "main") == before
    assert branch_sha(api, "sneaky") is None
    assert branch_sha(api, "topic") == topic
    # The same push by the owner goes through: the refusal above is about rights, not about the push.
    if kind == "delete":
        run_git("push", "origin", "--delete", "topic", cwd=work, token=OWNER)
        assert topic and branch_sha(api, "topic") is None and branch_sha(api, "main") == before
        return
    run_git(*args, cwd=work, token=OWNER)
    if kind == "new-branch":
        assert branch_sha(api, "sneaky") == run_git("rev-parse", "HEAD", cwd=work).stdout.strip()
    else:
        assert branch_sha(api, "main") == run_git("rev-parse", "HEAD", cwd=work).stdout.strip() != before


def test_a_collaborator_may_push_once_added(hub_repo, tmp_path):
    api = hub_repo.api
    before = branch_sha(api, "main")
    work = clone(hub_repo.clone_url, tmp_path / "work")
    new = commit(work, "feature.txt", "f\n")
    assert_denied(run_git("push", "origin", "HEAD:refs/heads/main", cwd=work, token=COLLAB, check=False), "carol")
    assert branch_sha(api, "main") == before
    api.ok("PUT", f"{R}/collaborators/carol", {})
    run_git("push", "origin", "HEAD:refs/heads/main", cwd=work, token=COLLAB)
    assert branch_sha(api, "main") == new
    run_git("push", "origin", "HEAD:refs/heads/topic", cwd=work, token=COLLAB)
    run_git("push", "origin", "--delete", "topic", cwd=work, token=COLLAB)
    assert branch_sha(api, "topic") is None


def test_org_members_may_push_to_the_orgs_repositories_and_others_may_not(hub, tmp_path):
    olivia = Api(hub.url, token="as:olivia", admin_token=hub.admin_token)
    repo = olivia.ok("POST", "/orgs/acme-org/repos", {"name": "tools", "auto_init": True})
    olivia.admin("PUT", "/_hub/orgs/acme-org/members/oscar")
    path = "/repos/acme-org/tools"
    before = branch_sha(olivia, "main", path)
    work = clone(repo["clone_url"], tmp_path / "work")
    new = commit(work, "tool.txt", "t\n")
    assert_denied(run_git("push", "origin", "HEAD:refs/heads/main", cwd=work, token=STRANGER, check=False),
                  "mallory", "acme-org/tools")
    assert branch_sha(olivia, "main", path) == before
    run_git("push", "origin", "HEAD:refs/heads/main", cwd=work, token="as:oscar")
    assert branch_sha(olivia, "main", path) == new
    # REST writes follow the same rights: a member may label, a stranger may not.
    number = olivia.ok("POST", f"{path}/issues", {"title": "t"})["number"]
    status, _, _ = olivia.call("POST", f"{path}/issues/{number}/labels", {"labels": ["x"]}, token=STRANGER)
    assert status == 403 and olivia.ok("GET", f"{path}/issues/{number}")["labels"] == []
    olivia.ok("POST", f"{path}/issues/{number}/labels", {"labels": ["x"]}, token="as:oscar")
    assert [lab["name"] for lab in olivia.ok("GET", f"{path}/issues/{number}")["labels"]] == ["x"]
    comment = olivia.ok("POST", f"{path}/issues/{number}/comments", {"body": "hi"}, token="as:oscar")
    assert comment["author_association"] == "MEMBER"


def test_the_open_modes_default_user_has_no_push_rights_on_others_repositories(hub_repo, tmp_path):
    before = branch_sha(hub_repo.api, "main")
    work = clone(hub_repo.clone_url, tmp_path / "work")
    commit(work, "x.txt", "x\n")
    assert_denied(run_git("push", "origin", "HEAD:refs/heads/main", cwd=work, token="any-token", check=False),
                  "hubber")
    assert branch_sha(hub_repo.api, "main") == before


def test_with_a_token_list_a_user_cannot_push_to_another_users_repository(tmp_path):
    server = start_hub(tmp_path, tokens=["alice:ta", "bob:tb"])
    try:
        alice = Api(server.url, token="ta")
        repo = alice.ok("POST", "/user/repos", {"name": "app", "auto_init": True})
        before = branch_sha(alice, "main", "/repos/alice/app")
        work = clone(repo["clone_url"], tmp_path / "work")
        commit(work, "x.txt", "x\n")
        assert_denied(run_git("push", "--force", "origin", "HEAD:refs/heads/main", cwd=work, token="tb",
                              check=False), "bob", "alice/app")
        assert branch_sha(alice, "main", "/repos/alice/app") == before
        run_git("push", "origin", "HEAD:refs/heads/main", cwd=work, token="ta")
        assert branch_sha(alice, "main", "/repos/alice/app") != before
    finally:
        server.stop()
    assert not server.schema_failures


def raw(url, method="GET", token=None, data=None, content_type=None):
    headers = {}
    if token:
        headers["Authorization"] = "Basic " + base64.b64encode(f"x:{token}".encode()).decode()
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_smart_http_receive_pack_needs_push_rights_and_upload_pack_stays_open(hub_repo):
    url = hub_repo.clone_url
    advert = f"{url}/info/refs?service=git-receive-pack"
    status, headers, _ = raw(advert)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    status, headers, body = raw(advert, token=STRANGER)
    assert status == 403 and body == b"Permission to acme/widgets.git denied to mallory.\n"
    status, _, body = raw(advert, token=OWNER)
    assert status == 200 and b"refs/heads/main" in body
    before = branch_sha(hub_repo.api, "main")
    # A hand-made receive-pack request deleting main never reaches git.
    line = f"{before} {'0' * 40} refs/heads/main\0report-status\n".encode()
    pkt = f"{len(line) + 4:04x}".encode() + line + b"0000"
    status, _, body = raw(f"{url}/git-receive-pack", "POST", STRANGER, pkt,
                          "application/x-git-receive-pack-request")
    assert status == 403 and b"denied to mallory" in body
    assert branch_sha(hub_repo.api, "main") == before
    status, _, body = raw(f"{url}/info/refs?service=git-upload-pack")
    assert status == 200 and before.encode() in body


def test_a_private_repository_is_not_found_over_git_for_a_user_who_cannot_read_it(hub, tmp_path):
    api = Api(hub.url, token=OWNER)
    repo = api.ok("POST", "/user/repos", {"name": "secret", "private": True, "auto_init": True})
    api.ok("PUT", "/repos/acme/secret/collaborators/carol", {})
    refs = f"{repo['clone_url']}/info/refs?service=git-upload-pack"
    assert raw(refs)[0] == 401
    assert raw(refs, token=STRANGER)[0] == 404
    assert raw(refs, token=COLLAB)[0] == 200


# --- REST writes --------------------------------------------------------------------------------------


@dataclass
class World:
    repo: HubRepo
    api: Api
    issue: int  # acme's issue, labelled `keep`, with a sub-issue, a dependency and acme's comment
    spare: dict  # an issue that is nobody's sub-issue nor blocker yet
    linked_child: dict
    blocker: dict
    comment: int
    pull: int  # acme's open PR from `feature`


@pytest.fixture
def world(hub_repo, tmp_path):
    api = hub_repo.api
    api.ok("POST", f"{R}/labels", {"name": "keep", "color": "00ff00"})
    issue = api.ok("POST", f"{R}/issues", {"title": "owned", "body": "b", "labels": ["keep"]})["number"]
    spare = api.ok("POST", f"{R}/issues", {"title": "spare"})
    child = api.ok("POST", f"{R}/issues", {"title": "child"})
    api.ok("POST", f"{R}/issues/{issue}/sub_issues", {"sub_issue_id": child["id"]})
    blocker = api.ok("POST", f"{R}/issues", {"title": "blocker"})
    api.ok("POST", f"{R}/issues/{issue}/dependencies/blocked_by", {"issue_id": blocker["id"]})
    comment = api.ok("POST", f"{R}/issues/{issue}/comments", {"body": "owner's words"})["id"]
    work = clone(hub_repo.clone_url, tmp_path / "work")
    run_git("checkout", "-q", "-b", "feature", cwd=work)
    commit(work, "feature.txt", "f\n")
    run_git("push", "-q", "origin", "HEAD:refs/heads/feature", cwd=work, token=OWNER)
    run_git("checkout", "-q", "-b", "feature2", cwd=work)
    commit(work, "feature2.txt", "g\n")
    run_git("push", "-q", "origin", "HEAD:refs/heads/feature2", cwd=work, token=OWNER)
    pull = api.ok("POST", f"{R}/pulls", {"title": "F", "head": "feature", "base": "main", "body": "pb"})["number"]
    return World(hub_repo, api, issue, spare, child, blocker, comment, pull)


def labels(w, number=None):
    return sorted(lab["name"] for lab in w.api.ok("GET", f"{R}/issues/{number or w.issue}")["labels"])


def issue_state(w):
    got = w.api.ok("GET", f"{R}/issues/{w.issue}")
    return got["title"], got["body"], got["state"], labels(w)


def pull_state(w):
    got = w.api.ok("GET", f"{R}/pulls/{w.pull}")
    return got["title"], got["body"], got["state"], got["merged"], branch_sha(w.api, "main")


def comment_state(w):
    status, _, body = w.api.call("GET", f"{R}/issues/comments/{w.comment}")
    return status, body.get("body")


def sub_issues(w):
    return [i["number"] for i in w.api.ok("GET", f"{R}/issues/{w.issue}/sub_issues")]


def blocked_by(w):
    return [i["number"] for i in w.api.ok("GET", f"{R}/issues/{w.issue}/dependencies/blocked_by")]


def repo_labels(w):
    return sorted(lab["name"] for lab in w.api.ok("GET", f"{R}/labels"))


def dispatches(w):
    return w.api.admin("GET", "/_hub/dispatches")


def association_of_mallory(w):
    mine = w.api.ok("POST", f"{R}/issues/{w.issue}/comments", {"body": "probe"}, token=STRANGER)
    return mine["author_association"]


# name: (request(world) -> (method, path, body), state(world) -> comparable); GitHub's 403 message for each
WRITES = {
    "add labels": (lambda w: ("POST", f"{R}/issues/{w.issue}/labels", {"labels": ["pwned"]}), labels, REFUSED),
    "set labels": (lambda w: ("PUT", f"{R}/issues/{w.issue}/labels", {"labels": ["pwned"]}), labels, REFUSED),
    "remove a label": (lambda w: ("DELETE", f"{R}/issues/{w.issue}/labels/keep", None), labels, REFUSED),
    "remove all labels": (lambda w: ("DELETE", f"{R}/issues/{w.issue}/labels", None), labels, REFUSED),
    "create a label": (lambda w: ("POST", f"{R}/labels", {"name": "pwned"}), repo_labels, REFUSED),
    "delete a label": (lambda w: ("DELETE", f"{R}/labels/keep", None), repo_labels, REFUSED),
    "close another's issue": (lambda w: ("PATCH", f"{R}/issues/{w.issue}", {"state": "closed"}), issue_state,
                              REFUSED),
    "relabel another's issue": (lambda w: ("PATCH", f"{R}/issues/{w.issue}", {"labels": []}), issue_state,
                                REFUSED),
    "retitle another's issue": (lambda w: ("PATCH", f"{R}/issues/{w.issue}", {"title": "pwned", "body": "x"}),
                                issue_state, REFUSED),
    "create a PR from a branch of the repo": (
        lambda w: ("POST", f"{R}/pulls", {"title": "P", "head": "feature2", "base": "main"}),
        lambda w: sorted(p["head"]["ref"] for p in w.api.ok("GET", f"{R}/pulls?state=all")), REFUSED),
    "merge a PR": (lambda w: ("PUT", f"{R}/pulls/{w.pull}/merge", {}), pull_state, REFUSED),
    "update another's PR": (lambda w: ("PATCH", f"{R}/pulls/{w.pull}", {"title": "pwned", "state": "closed"}),
                            pull_state, REFUSED),
    "add a sub-issue": (lambda w: ("POST", f"{R}/issues/{w.issue}/sub_issues", {"sub_issue_id": w.spare["id"]}),
                        sub_issues, REFUSED),
    "remove a sub-issue": (lambda w: ("DELETE", f"{R}/issues/{w.issue}/sub_issue",
                                      {"sub_issue_id": w.linked_child["id"]}), sub_issues, REFUSED),
    "add a dependency": (lambda w: ("POST", f"{R}/issues/{w.issue}/dependencies/blocked_by",
                                    {"issue_id": w.spare["id"]}), blocked_by, REFUSED),
    "remove a dependency": (lambda w: ("DELETE", f"{R}/issues/{w.issue}/dependencies/blocked_by/{w.blocker['id']}",
                                       None), blocked_by, REFUSED),
    "dispatch a workflow": (lambda w: ("POST", f"{R}/actions/workflows/cxo.yml/dispatches", {"ref": "main"}),
                            dispatches, REFUSED),
    "edit another's comment": (lambda w: ("PATCH", f"{R}/issues/comments/{w.comment}", {"body": "pwned"}),
                               comment_state, REFUSED),
    "delete another's comment": (lambda w: ("DELETE", f"{R}/issues/comments/{w.comment}", None), comment_state,
                                 REFUSED),
    "add a collaborator": (lambda w: ("PUT", f"{R}/collaborators/mallory", {}), association_of_mallory,
                           "Must have admin rights to Repository."),
}


@pytest.mark.parametrize("name", list(WRITES))
def test_a_rest_write_by_a_stranger_is_refused_and_changes_nothing(world, name):
    request, state, message = WRITES[name]
    method, path, body = request(world)
    before = state(world)
    status, _, answer = world.api.call(method, path, body, token=STRANGER)
    assert (status, answer["message"]) == (403, message)
    assert state(world) == before
    status, _, answer = world.api.call(method, path, body, token=OWNER)
    assert status < 300, answer
    assert state(world) != before  # the read-back sees what the owner's call changed


@pytest.mark.parametrize("name", ["add labels", "merge a PR", "edit another's comment", "dispatch a workflow"])
def test_a_collaborator_may_make_the_writes_a_stranger_may_not(world, name):
    request, state, _ = WRITES[name]
    method, path, body = request(world)
    before = state(world)
    world.api.ok("PUT", f"{R}/collaborators/carol", {})
    world.api.ok(method, path, body, token=COLLAB)
    assert state(world) != before


def test_a_collaborator_cannot_add_collaborators(world):
    world.api.ok("PUT", f"{R}/collaborators/carol", {})
    status, _, answer = world.api.call("PUT", f"{R}/collaborators/mallory", {}, token=COLLAB)
    assert (status, answer["message"]) == (403, "Must have admin rights to Repository.")
    assert association_of_mallory(world) == "NONE"


def test_a_stranger_may_open_issues_comment_react_and_review(world):
    api = world.api
    issue = api.ok("POST", f"{R}/issues", {"title": "mine", "body": "b", "labels": ["keep", "pwned"]},
                   token=STRANGER)
    assert issue["user"]["login"] == "mallory"
    assert labels(world, issue["number"]) == []  # labels from a user without push access are silently dropped
    assert "pwned" not in repo_labels(world)
    comment = api.ok("POST", f"{R}/issues/{world.issue}/comments", {"body": "hello"}, token=STRANGER)
    assert api.ok("GET", f"{R}/issues/comments/{comment['id']}")["body"] == "hello"
    api.ok("PATCH", f"{R}/issues/comments/{comment['id']}", {"body": "edited"}, token=STRANGER)
    assert api.ok("GET", f"{R}/issues/comments/{comment['id']}")["body"] == "edited"
    api.ok("POST", f"{R}/issues/{world.issue}/reactions", {"content": "+1"}, token=STRANGER)
    assert api.ok("GET", f"{R}/issues/{world.issue}")["reactions"]["+1"] == 1
    review = api.ok("POST", f"{R}/pulls/{world.pull}/reviews", {
        "event": "COMMENT", "body": "looks odd", "comments": [{"path": "feature.txt", "line": 1, "body": "why?"}]},
        token=STRANGER)
    assert review["user"]["login"] == "mallory"
    assert [c["body"] for c in api.ok("GET", f"{R}/pulls/{world.pull}/comments")] == ["why?"]
    api.ok("DELETE", f"{R}/issues/comments/{comment['id']}", token=STRANGER)
    assert api.call("GET", f"{R}/issues/comments/{comment['id']}")[0] == 404


def test_an_issues_author_may_edit_and_close_it_but_not_label_it_or_reopen_what_the_owner_closed(world):
    api = world.api
    number = api.ok("POST", f"{R}/issues", {"title": "mine"}, token=STRANGER)["number"]
    api.ok("PATCH", f"{R}/issues/{number}", {"title": "mine, edited", "body": "more", "labels": ["keep"]},
           token=STRANGER)
    got = api.ok("GET", f"{R}/issues/{number}")
    assert (got["title"], got["body"], got["labels"]) == ("mine, edited", "more", [])
    api.ok("PATCH", f"{R}/issues/{number}", {"state": "closed"}, token=STRANGER)
    assert api.ok("GET", f"{R}/issues/{number}")["state"] == "closed"
    api.ok("PATCH", f"{R}/issues/{number}", {"state": "open"}, token=STRANGER)  # they closed it themselves
    assert api.ok("GET", f"{R}/issues/{number}")["state"] == "open"
    api.ok("PATCH", f"{R}/issues/{number}", {"state": "closed", "state_reason": "not_planned"}, token=OWNER)
    status, _, _ = api.call("PATCH", f"{R}/issues/{number}", {"state": "open"}, token=STRANGER)
    assert status == 403 and api.ok("GET", f"{R}/issues/{number}")["state"] == "closed"


def test_a_pull_request_may_be_edited_by_its_author_but_not_by_a_stranger(world):
    api = world.api
    api.ok("PUT", f"{R}/collaborators/carol", {})
    pr = api.ok("POST", f"{R}/pulls", {"title": "P", "head": "feature2", "base": "main"}, token=COLLAB)["number"]
    status, _, _ = api.call("PATCH", f"{R}/pulls/{pr}", {"title": "pwned", "state": "closed"}, token=STRANGER)
    got = api.ok("GET", f"{R}/pulls/{pr}")
    assert status == 403 and (got["title"], got["state"]) == ("P", "open")
    api.ok("PATCH", f"{R}/pulls/{pr}", {"title": "P, better"}, token=COLLAB)
    assert api.ok("GET", f"{R}/pulls/{pr}")["title"] == "P, better"
