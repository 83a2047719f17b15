"""GitHub-shaped JSON for the hub's rows: every field GitHub's schemas require, with GitHub's URLs."""

import base64


def node_id(kind: str, number: int) -> str:
    return kind + "_" + base64.b64encode(f"{kind}{number}".encode()).decode().rstrip("=")


def user(base: str, row) -> dict:
    login = row["login"]
    api = f"{base}/users/{login}"
    return {
        "login": login, "id": row["id"], "node_id": node_id("U", row["id"]),
        "avatar_url": f"{base}/avatars/{login}", "gravatar_id": "", "url": api, "html_url": f"{base}/{login}",
        "followers_url": f"{api}/followers", "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}", "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions", "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events", "type": row["type"] or "User", "site_admin": False,
    }


def private_user(base: str, row) -> dict:
    return {
        **user(base, row), "name": row["login"], "company": None, "blog": "", "location": None, "email": None,
        "hireable": None, "bio": None, "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
        "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z", "private_gists": 0,
        "total_private_repos": 0, "owned_private_repos": 0, "disk_usage": 0, "collaborators": 0,
        "two_factor_authentication": False,
    }


def repo(base: str, row, owner_row, open_issues: int, clone_base: str) -> dict:
    full = f"{row['owner']}/{row['name']}"
    api = f"{base}/repos/{full}"
    urls = {
        "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}",
        "blobs_url": "/git/blobs{/sha}", "branches_url": "/branches{/branch}",
        "collaborators_url": "/collaborators{/collaborator}", "comments_url": "/comments{/number}",
        "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
        "contents_url": "/contents/{+path}", "contributors_url": "/contributors", "deployments_url": "/deployments",
        "downloads_url": "/downloads", "events_url": "/events", "forks_url": "/forks",
        "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}", "git_tags_url": "/git/tags{/sha}",
        "hooks_url": "/hooks", "issue_comment_url": "/issues/comments{/number}",
        "issue_events_url": "/issues/events{/number}", "issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}",
        "labels_url": "/labels{/name}", "languages_url": "/languages", "merges_url": "/merges",
        "milestones_url": "/milestones{/number}", "notifications_url": "/notifications{?since,all,participating}",
        "pulls_url": "/pulls{/number}", "releases_url": "/releases{/id}", "stargazers_url": "/stargazers",
        "statuses_url": "/statuses/{sha}", "subscribers_url": "/subscribers", "subscription_url": "/subscription",
        "tags_url": "/tags", "teams_url": "/teams", "trees_url": "/git/trees{/sha}",
    }
    clone_url = f"{clone_base}/{full}.git"
    return {
        "id": row["id"], "node_id": node_id("R", row["id"]), "name": row["name"], "full_name": full,
        "owner": user(base, owner_row), "private": bool(row["private"]),
        "visibility": "private" if row["private"] else "public",
        "html_url": f"{clone_base}/{full}", "description": row["description"], "fork": False, "url": api,
        **{key: api + tail for key, tail in urls.items()},
        "git_url": clone_url.replace("http://", "git://", 1), "ssh_url": clone_url, "clone_url": clone_url,
        "svn_url": f"{clone_base}/{full}", "mirror_url": None, "homepage": None, "language": None,
        "forks_count": 0, "forks": 0, "stargazers_count": 0, "watchers_count": 0, "watchers": 0, "size": 0,
        "default_branch": row["default_branch"], "open_issues_count": open_issues, "open_issues": open_issues,
        "is_template": False, "topics": [], "has_issues": True, "has_projects": False, "has_wiki": False,
        "has_pages": False, "has_downloads": True, "has_discussions": False, "archived": False, "disabled": False,
        "pushed_at": row["pushed_at"], "created_at": row["created_at"], "updated_at": row["updated_at"],
        "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
        "license": None, "network_count": 0, "subscribers_count": 0,
        "allow_squash_merge": True, "allow_merge_commit": True, "allow_rebase_merge": True,
    }


def label(base: str, full: str, row) -> dict:
    from urllib.parse import quote

    return {
        "id": row["id"], "node_id": node_id("LA", row["id"]),
        "url": f"{base}/repos/{full}/labels/{quote(row['name'], safe='')}",
        "name": row["name"], "description": row["description"], "color": row["color"], "default": False,
    }


REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")


def rollup(url: str, counts: dict | None = None) -> dict:
    """GitHub's reaction rollup: the total and one count per reaction content."""
    counts = counts or {}
    return {"url": url, "total_count": sum(counts.values()), **{c: counts.get(c, 0) for c in REACTIONS}}


def issue(base: str, clone_base: str, full: str, row, user_row, labels: list, comments: int,
          association: str, pull_row=None, reactions: dict | None = None) -> dict:
    api = f"{base}/repos/{full}/issues/{row['number']}"
    data = {
        "id": row["id"], "node_id": node_id("I", row["id"]), "url": api,
        "repository_url": f"{base}/repos/{full}", "labels_url": api + "/labels{/name}",
        "comments_url": api + "/comments", "events_url": api + "/events",
        "html_url": f"{clone_base}/{full}/{'pull' if row['is_pr'] else 'issues'}/{row['number']}",
        "number": row["number"], "state": row["state"], "state_reason": row["state_reason"],
        "title": row["title"], "body": row["body"], "user": user_row, "labels": labels,
        "assignee": None, "assignees": [], "milestone": None, "locked": False, "active_lock_reason": None,
        "comments": comments, "closed_at": row["closed_at"], "created_at": row["created_at"],
        "updated_at": row["updated_at"], "closed_by": None, "author_association": association,
        "reactions": rollup(api + "/reactions", reactions),
    }
    if row["is_pr"]:
        pr_html = f"{clone_base}/{full}/pull/{row['number']}"
        data["pull_request"] = {
            "url": f"{base}/repos/{full}/pulls/{row['number']}", "html_url": pr_html,
            "diff_url": pr_html + ".diff", "patch_url": pr_html + ".patch",
            "merged_at": pull_row["merged_at"] if pull_row else None,
        }
        data["draft"] = bool(pull_row["draft"]) if pull_row else False
    return data


def comment(base: str, clone_base: str, full: str, number: int, row, user_row, association: str,
            reactions: dict | None = None) -> dict:
    return {
        "id": row["id"], "node_id": node_id("IC", row["id"]),
        "url": f"{base}/repos/{full}/issues/comments/{row['id']}",
        "html_url": f"{clone_base}/{full}/issues/{number}#issuecomment-{row['id']}",
        "issue_url": f"{base}/repos/{full}/issues/{number}", "body": row["body"], "user": user_row,
        "created_at": row["created_at"], "updated_at": row["updated_at"], "author_association": association,
        "reactions": rollup(f"{base}/repos/{full}/issues/comments/{row['id']}/reactions", reactions),
    }


def pull(base: str, clone_base: str, full: str, issue_row, pull_row, user_row, labels: list, association: str,
         head: dict, base_side: dict, stats: dict, merged_by) -> dict:
    n = issue_row["number"]
    api = f"{base}/repos/{full}/pulls/{n}"
    html = f"{clone_base}/{full}/pull/{n}"
    issue_api = f"{base}/repos/{full}/issues/{n}"
    merged = pull_row["merged_at"] is not None
    return {
        "url": api, "id": pull_row["id"], "node_id": node_id("PR", pull_row["id"]), "html_url": html,
        "diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": issue_api, "number": n,
        "state": issue_row["state"], "locked": False, "title": issue_row["title"], "user": user_row,
        "body": issue_row["body"], "labels": labels, "milestone": None, "active_lock_reason": None,
        "created_at": issue_row["created_at"], "updated_at": issue_row["updated_at"],
        "closed_at": issue_row["closed_at"], "merged_at": pull_row["merged_at"],
        "merge_commit_sha": pull_row["merge_commit_sha"], "assignee": None, "assignees": [],
        "requested_reviewers": [], "requested_teams": [], "head": head, "base": base_side,
        "commits_url": api + "/commits", "review_comments_url": api + "/comments",
        "review_comment_url": f"{base}/repos/{full}/pulls/comments{{/number}}",
        "comments_url": issue_api + "/comments", "statuses_url": f"{base}/repos/{full}/statuses/{head['sha']}",
        "_links": {
            "self": {"href": api}, "html": {"href": html}, "issue": {"href": issue_api},
            "comments": {"href": issue_api + "/comments"}, "review_comments": {"href": api + "/comments"},
            "review_comment": {"href": f"{base}/repos/{full}/pulls/comments{{/number}}"},
            "commits": {"href": api + "/commits"},
            "statuses": {"href": f"{base}/repos/{full}/statuses/{head['sha']}"},
        },
        "author_association": association, "auto_merge": None, "draft": bool(pull_row["draft"]),
        "merged": merged, "mergeable": None if merged else stats["mergeable"],
        "rebaseable": None, "mergeable_state": "clean" if stats["mergeable"] else "dirty",
        "merged_by": merged_by, "comments": stats["comments"], "review_comments": stats.get("review_comments", 0),
        "maintainer_can_modify": False, "commits": stats["commits"], "additions": stats["additions"],
        "deletions": stats["deletions"], "changed_files": stats["changed_files"],
    }


def review(base: str, clone_base: str, full: str, number: int, row, user_row, association: str) -> dict:
    html = f"{clone_base}/{full}/pull/{number}#pullrequestreview-{row['id']}"
    pull_api = f"{base}/repos/{full}/pulls/{number}"
    data = {
        "id": row["id"], "node_id": node_id("PRR", row["id"]), "user": user_row, "body": row["body"] or "",
        "state": row["state"], "html_url": html, "pull_request_url": pull_api,
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_api}},
        "commit_id": row["commit_id"], "author_association": association,
    }
    if row["submitted_at"]:  # a PENDING review has no submitted_at
        data["submitted_at"] = row["submitted_at"]
    return data


def review_comment(base: str, clone_base: str, full: str, number: int, row, user_row, association: str,
                   where: dict, reactions: dict | None, nullable_position: bool) -> dict:
    """A review comment. `where` is where it is now: position and line (None when outdated) and commit_id.

    `review-comment` (a review's comments) documents `position: null` for an outdated comment; the
    `pull-request-review-comment` shape does not allow null there, so with nullable_position False an
    outdated comment has no `position` (and no `line`) key at all."""
    api = f"{base}/repos/{full}/pulls/comments/{row['id']}"
    html = f"{clone_base}/{full}/pull/{number}#discussion_r{row['id']}"
    pull_api = f"{base}/repos/{full}/pulls/{number}"
    data = {
        "url": api, "pull_request_review_id": row["review_id"], "id": row["id"],
        "node_id": node_id("PRRC", row["id"]), "diff_hunk": row["diff_hunk"], "path": row["path"],
        "original_position": row["original_position"], "commit_id": where["commit_id"],
        "original_commit_id": row["original_commit_id"], "user": user_row, "body": row["body"],
        "created_at": row["created_at"], "updated_at": row["updated_at"], "html_url": html,
        "pull_request_url": pull_api, "author_association": association,
        "_links": {"self": {"href": api}, "html": {"href": html}, "pull_request": {"href": pull_api}},
        "start_line": None, "original_start_line": None, "start_side": None,
        "original_line": row["original_line"], "side": row["side"], "subject_type": "line",
        "reactions": rollup(api + "/reactions", reactions),
    }
    if row["in_reply_to_id"] is not None:
        data["in_reply_to_id"] = row["in_reply_to_id"]
    if where["position"] is not None or nullable_position:
        data["position"] = where["position"]
    if where["line"] is not None:
        data["line"] = where["line"]
    return data


def reaction(base: str, row, user_row) -> dict:
    return {"id": row["id"], "node_id": node_id("REA", row["id"]), "user": user_row, "content": row["content"],
            "created_at": row["created_at"]}


def commit(base: str, clone_base: str, full: str, item: dict) -> dict:
    api = f"{base}/repos/{full}/commits/{item['sha']}"
    git_api = f"{base}/repos/{full}/git"
    return {
        "url": api, "sha": item["sha"], "node_id": node_id("C", int(item["sha"][:12], 16)),
        "html_url": f"{clone_base}/{full}/commit/{item['sha']}", "comments_url": api + "/comments",
        "commit": {"url": f"{git_api}/commits/{item['sha']}", "author": item["author"],
                   "committer": item["committer"], "message": item["message"], "comment_count": 0,
                   "tree": {"sha": item["tree"], "url": f"{git_api}/trees/{item['tree']}"},
                   "verification": {"verified": False, "reason": "unsigned", "payload": None, "signature": None,
                                    "verified_at": None}},
        "author": None, "committer": None,
        "parents": [{"sha": p, "url": f"{base}/repos/{full}/commits/{p}",
                     "html_url": f"{clone_base}/{full}/commit/{p}"} for p in item["parents"]],
    }


def diff_entry(base: str, clone_base: str, full: str, head_sha: str, item: dict) -> dict:
    from urllib.parse import quote

    path = quote(item["filename"])
    data = {
        "sha": item["sha"], "filename": item["filename"], "status": item["status"],
        "additions": item["additions"], "deletions": item["deletions"],
        "changes": item["additions"] + item["deletions"],
        "blob_url": f"{clone_base}/{full}/blob/{head_sha}/{path}",
        "raw_url": f"{clone_base}/{full}/raw/{head_sha}/{path}",
        "contents_url": f"{base}/repos/{full}/contents/{path}?ref={head_sha}",
    }
    if item["patch"]:
        data["patch"] = item["patch"]
    return data
