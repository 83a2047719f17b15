"""Routes for repositories: creation, collaborators, branches and git refs.

Organizations: `POST /orgs/{org}/repos` by the first caller for an organization that does not exist yet
creates it with that caller as its only member. After that only members may create repositories in it (403
otherwise, like GitHub); the admin route `PUT /_hub/orgs/{org}/members/{login}` adds members. A login that
is a user, not an organization, answers 404.
"""

from .. import shapes
from ..routing import HubError, invalid, not_found, route, valid_repo_name
from ..store import now_iso

# Handlers take (hub, req, **path params) and return (status, body, headers).


def _create_repo(hub, req, owner, owner_type):
    data = req.object()
    name = data.get("name")
    if not valid_repo_name(name):
        raise invalid([{"resource": "Repository", "code": "missing_field", "field": "name"}],
                      "Repository creation failed.")
    if hub.store.repo(owner, name):
        raise invalid([{"resource": "Repository", "code": "custom", "field": "name",
                        "message": "name already exists on this account"}], "Repository creation failed.")
    branch = data.get("default_branch") or "main"
    now = now_iso()
    hub.store.user(owner, owner_type)
    hub.store.run("INSERT INTO repos (owner, name, private, description, default_branch, created_at, updated_at, "
                  "pushed_at, owner_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", owner, name,
                  int(bool(data.get("private"))), data.get("description"), branch, now, now, None, owner_type)
    hub.git.create(owner, name, branch)
    if data.get("auto_init"):
        hub.git.init_commit(owner, name, branch, f"# {name}\n")
        hub.store.run("UPDATE repos SET pushed_at = ? WHERE owner = ? AND name = ?", now, owner, name)
    repo = hub.store.repo(owner, name)
    return 201, hub.repo_json(repo), {"Location": f"{hub.base}/repos/{owner}/{name}"}


@route("POST", "/user/repos", "repos/create-for-authenticated-user", auth=True)
def create_user_repo(hub, req):
    return _create_repo(hub, req, req.login, "User")


@route("POST", "/orgs/{org}/repos", "repos/create-in-org", auth=True)
def create_org_repo(hub, req, org):
    account = hub.store.one("SELECT * FROM users WHERE login = ?", org)
    if account is not None and account["type"] != "Organization":
        raise not_found()
    if account is None:
        req.object()  # a malformed body creates no organization
        hub.add_org_member(org, req.login)
    elif not hub.is_org_member(org, req.login):
        raise HubError(403, "You need admin access to the organization before adding a repository to it.")
    return _create_repo(hub, req, account["login"] if account is not None else org, "Organization")


@route("GET", "/repos/{owner}/{repo}", "repos/get")
def get_repo(hub, req, owner, repo):
    return 200, hub.repo_json(hub.repo_or_404(owner, repo, req.login)), {}


@route("PUT", "/repos/{owner}/{repo}/collaborators/{login}", "repos/add-collaborator", auth=True)
def add_collaborator(hub, req, owner, repo, login):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_admin_rights(row, req.login)
    hub.store.user(login)
    hub.store.run("INSERT OR IGNORE INTO collaborators (repo_id, login) VALUES (?, ?)", row["id"], login)
    return 204, None, {}


@route("GET", "/repos/{owner}/{repo}/branches/{branch}", "repos/get-branch")
def get_branch(hub, req, owner, repo, branch):
    row = hub.repo_or_404(owner, repo, req.login)
    sha = hub.git.ref_sha(row["owner"], row["name"], f"refs/heads/{branch}")
    if sha is None:
        raise HubError(404, "Branch not found")
    api = f"{hub.base}/repos/{hub.full(row)}"
    commit_url = f"{api}/commits/{sha}"
    commit = {"sha": sha, "node_id": shapes.node_id("C", int(sha[:8], 16)), "url": commit_url,
              "html_url": f"{hub.base}/{hub.full(row)}/commit/{sha}", "comments_url": commit_url + "/comments",
              "commit": {"url": f"{api}/git/commits/{sha}", "message": "", "comment_count": 0,
                         "author": None, "committer": None,
                         "tree": {"sha": sha, "url": f"{api}/git/trees/{sha}"}},
              "author": None, "committer": None, "parents": []}
    body = {"name": branch, "commit": commit, "_links": {"html": f"{hub.base}/{hub.full(row)}/tree/{branch}",
                                                         "self": f"{api}/branches/{branch}"},
            "protected": False, "protection": {"enabled": False},
            "protection_url": f"{api}/branches/{branch}/protection"}
    return 200, body, {}


def _ref_json(hub, row, ref, sha):
    return {"ref": ref, "node_id": shapes.node_id("REF", int(sha[:8], 16)),
            "url": f"{hub.base}/repos/{hub.full(row)}/git/{ref}",
            "object": {"type": "commit", "sha": sha, "url": f"{hub.base}/repos/{hub.full(row)}/git/commits/{sha}"}}


@route("GET", "/repos/{owner}/{repo}/git/ref/{ref+}", "git/get-ref")
def get_ref(hub, req, owner, repo, ref):
    row = hub.repo_or_404(owner, repo, req.login)
    sha = hub.git.ref_sha(row["owner"], row["name"], f"refs/{ref}") if ref.startswith(("heads/", "tags/")) else None
    if sha is None:
        raise not_found()
    return 200, _ref_json(hub, row, f"refs/{ref}", sha), {}


@route("GET", "/repos/{owner}/{repo}/git/matching-refs/{ref+}", "git/list-matching-refs")
def matching_refs(hub, req, owner, repo, ref):
    row = hub.repo_or_404(owner, repo, req.login)
    pairs = hub.git.refs(row["owner"], row["name"], ref)
    items, headers = hub.paginate(req, [_ref_json(hub, row, r, s) for r, s in pairs], req.path)
    return 200, items, headers

