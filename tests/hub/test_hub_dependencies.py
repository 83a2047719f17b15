"""Issue dependencies on the hub: blocked-by / blocking lists, add and remove, over real HTTP, schema-checked."""

from tests.support.hub_fixtures import Api

R = "/repos/acme/widgets"


def _issue(api, title):
    return api.ok("POST", f"{R}/issues", {"title": title})


def test_add_list_and_remove_a_blocked_by_dependency(hub_repo):
    api = hub_repo.api
    a, b, c = _issue(api, "A"), _issue(api, "B"), _issue(api, "C")
    status, headers, body = api.call("POST", f"{R}/issues/{a['number']}/dependencies/blocked_by", {"issue_id": b["id"]})
    assert status == 201 and body["number"] == a["number"]
    assert headers["Location"].endswith(f"{R}/issues/{a['number']}/dependencies/blocked_by")
    api.ok("POST", f"{R}/issues/{a['number']}/dependencies/blocked_by", {"issue_id": c["id"]})
    blocked_by = api.ok("GET", f"{R}/issues/{a['number']}/dependencies/blocked_by")
    assert [i["number"] for i in blocked_by] == [b["number"], c["number"]]
    assert [i["number"] for i in api.ok("GET", f"{R}/issues/{b['number']}/dependencies/blocking")] == [a["number"]]
    assert api.ok("GET", f"{R}/issues/{a['number']}/dependencies/blocking") == []
    assert api.ok("GET", f"{R}/issues/{b['number']}/dependencies/blocked_by") == []
    status, headers, page = api.call("GET", f"{R}/issues/{a['number']}/dependencies/blocked_by?per_page=1")
    assert status == 200 and len(page) == 1 and 'rel="next"' in headers["Link"]
    anon = Api(hub_repo.url, token=None)
    assert len(anon.ok("GET", f"{R}/issues/{a['number']}/dependencies/blocked_by")) == 2  # public repo

    status, _, body = api.call("DELETE", f"{R}/issues/{a['number']}/dependencies/blocked_by/{b['id']}")
    assert status == 200 and body["number"] == a["number"]
    assert [i["number"] for i in api.ok("GET", f"{R}/issues/{a['number']}/dependencies/blocked_by")] == [c["number"]]
    assert api.ok("GET", f"{R}/issues/{b['number']}/dependencies/blocking") == []
    status, _, body = api.call("DELETE", f"{R}/issues/{a['number']}/dependencies/blocked_by/{b['id']}")
    assert status == 404 and body["message"] == "Not Found"
    assert api.call("DELETE", f"{R}/issues/{a['number']}/dependencies/blocked_by/{b['number']}")[0] == 404


def test_dependency_errors_look_like_github(hub_repo):
    api = hub_repo.api
    a, b = _issue(api, "A"), _issue(api, "B")
    path = f"{R}/issues/{a['number']}/dependencies/blocked_by"
    api.ok("POST", path, {"issue_id": b["id"]})
    for body, code in (({"issue_id": b["id"]}, "custom"), ({"issue_id": a["id"]}, "invalid"),
                       ({"issue_id": 987654}, "invalid"), ({"issue_id": str(b["id"])}, "invalid"),
                       ({}, "missing_field")):
        status, _, answer = api.call("POST", path, body)
        assert status == 422 and answer["errors"][0]["code"] == code and answer["errors"][0]["field"] == "issue_id", \
            (body, answer)
    assert api.call("POST", f"{R}/issues/999/dependencies/blocked_by", {"issue_id": b["id"]})[0] == 404
    assert api.call("GET", f"{R}/issues/999/dependencies/blocking")[0] == 404
    assert Api(hub_repo.url, token=None).call("POST", path, {"issue_id": b["id"]})[0] == 401
    assert Api(hub_repo.url, token=None).call("DELETE", f"{path}/{b['id']}")[0] == 401


def test_dependencies_across_repositories_respect_private_repos(hub_repo):
    api = hub_repo.api
    a = _issue(api, "A")
    api.ok("POST", "/user/repos", {"name": "other"})
    other = api.ok("POST", "/repos/acme/other/issues", {"title": "elsewhere"})
    api.ok("POST", f"{R}/issues/{a['number']}/dependencies/blocked_by", {"issue_id": other["id"]})
    [listed] = api.ok("GET", f"{R}/issues/{a['number']}/dependencies/blocked_by")
    assert listed["repository_url"].endswith("/repos/acme/other") and listed["number"] == other["number"]
    assert [i["number"] for i in api.ok("GET", f"/repos/acme/other/issues/{other['number']}/dependencies/blocking")] \
        == [a["number"]]
    carol = Api(hub_repo.url, token="as:carol")
    carol.ok("POST", "/user/repos", {"name": "secret", "private": True})
    hidden = carol.ok("POST", "/repos/carol/secret/issues", {"title": "hidden"})
    status, _, _ = api.call("POST", f"{R}/issues/{a['number']}/dependencies/blocked_by", {"issue_id": hidden["id"]})
    assert status == 422  # acme cannot read carol's private issue
    carol.ok("POST", f"/repos/carol/secret/issues/{hidden['number']}/dependencies/blocked_by", {"issue_id": a["id"]})
    assert api.ok("GET", f"{R}/issues/{a['number']}/dependencies/blocking") == []  # not shown to acme
    assert [i["number"] for i in carol.ok("GET", f"{R}/issues/{a['number']}/dependencies/blocking")] \
        == [hidden["number"]]
