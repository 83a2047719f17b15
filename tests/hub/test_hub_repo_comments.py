"""The hub's repository-wide comment listing (issues/list-comments-for-repo), which cxo-metrics and the spend caps
read: every issue's and PR's comments in one listing, `since` by update time, oldest first, paginated."""

def test_the_repository_comment_listing_holds_every_issue_and_filters_by_since(hub_repo):
    api = hub_repo.api
    one = api.ok("POST", "/repos/acme/widgets/issues", {"title": "one"})["number"]
    two = api.ok("POST", "/repos/acme/widgets/issues", {"title": "two"})["number"]
    for number, body in ((one, "a"), (two, "b"), (one, "c")):
        api.ok("POST", f"/repos/acme/widgets/issues/{number}/comments", {"body": body})

    listed = api.ok("GET", "/repos/acme/widgets/issues/comments")
    assert [c["body"] for c in listed] == ["a", "b", "c"]
    assert [c["issue_url"].rsplit("/", 1)[1] for c in listed] == [str(one), str(two), str(one)]
    newest_first = api.ok("GET", "/repos/acme/widgets/issues/comments?direction=desc")
    assert [c["body"] for c in newest_first] == ["c", "b", "a"]
    since = api.ok("GET", f"/repos/acme/widgets/issues/comments?since={listed[0]['updated_at']}")
    assert [c["body"] for c in since] == ["a", "b", "c"]
    assert api.ok("GET", "/repos/acme/widgets/issues/comments?since=2999-01-01T00:00:00Z") == []
    # Not issues/get with number "comments": that would answer 404.
    status, headers, page = api.call("GET", "/repos/acme/widgets/issues/comments?per_page=2")
    assert status == 200 and len(page) == 2 and 'rel="next"' in headers.get("Link", "")
