"""GitHubTracker over real HTTP: against the hub, and against tiny loopback servers that misbehave on purpose."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cxo.tracker.base import AuthError, NotFound, TrackerUnreachable, ValidationFailed, WriteOutcomeUnknown
from cxo.tracker.github import GitHubTracker

R = "/repos/acme/widgets"


def tracker(url, token="as:acme", **kw):
    waits = []
    t = GitHubTracker("acme", "widgets", token=token, api_url=url, sleep=waits.append, **kw)
    return t, waits


def test_pagination_and_conditional_gets_against_the_hub(hub_repo):
    for i in range(250):
        hub_repo.api.ok("POST", f"{R}/issues", {"title": f"i{i}"})
    t, _ = tracker(hub_repo.url)
    billable = hub_repo.api.admin("GET", "/_hub/stats")["billable"]
    assert len(t.list_issues()) == 250
    assert t.stats()["requests"] == 3
    after_first = hub_repo.api.admin("GET", "/_hub/stats")["billable"]
    assert after_first - billable == 3  # the hub's admin routes are not counted
    assert len(t.list_issues()) == 250  # unchanged: served from 304s
    stats = hub_repo.api.admin("GET", "/_hub/stats")
    assert stats["billable"] == after_first and t.stats()["not_modified"] == 3


def test_labels_comments_and_pulls_through_the_tracker(hub_repo):
    t, _ = tracker(hub_repo.url)
    number = t.create_issue("x", "body", ["agent:auto"])["number"]
    assert [lab["name"] for lab in t.add_labels(number, ["agent:running"])] == ["agent:auto", "agent:running"]
    assert [lab["name"] for lab in t.add_labels(number, ["agent:running"])] == ["agent:auto", "agent:running"]
    assert [lab["name"] for lab in t.remove_label(number, "agent:running")] == ["agent:auto"]
    assert [lab["name"] for lab in t.remove_label(number, "agent:running")] == ["agent:auto"]  # gone: not an error
    comment = t.create_comment(number, "hi")
    t.update_comment(comment["id"], "edited")
    assert [c["body"] for c in t.list_comments(number)] == ["edited"]
    assert t.find_pull("agent/none") is None
    with pytest.raises(ValidationFailed, match="No commits between main and main"):
        t.create_pull("t", "main", "main", "b")
    with pytest.raises(NotFound) as err:
        t.get_issue(999)
    assert err.value.exit_code == 6
    assert t.create_label("agent:auto", "ededed", "")["name"] == "agent:auto"  # exists: returned, not an error


def test_rejected_token_is_auth_error_without_the_token(tmp_path):
    from tests.support.hub_fixtures import start_hub

    server = start_hub(tmp_path, tokens=["acme:good"])
    try:
        t, _ = tracker(server.url, token="very-secret-value")
        with pytest.raises(AuthError) as err:
            t.get_authenticated_user()
        assert err.value.exit_code == 5
        assert "GITHUB_TOKEN" in err.value.message and "very-secret-value" not in err.value.message
    finally:
        server.stop()


class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next scripted (status, headers, body); 'drop' closes the connection."""

    script: list = []
    seen: list = []

    def handle_one(self):
        self.seen.append((self.command, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, headers, body = self.script.pop(0) if self.script else (200, {}, {})
        if status == "drop":
            self.close_connection = True
            return
        payload = json.dumps(body).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_one

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    Scripted.script, Scripted.seen = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Scripted
    server.shutdown()
    server.server_close()


ISSUE = {"number": 1, "title": "t", "labels": []}


def test_5xx_is_retried_with_backoff(scripted):
    url, handler = scripted
    handler.script = [(503, {}, {"message": "x"}), (502, {}, {"message": "y"}), (200, {}, ISSUE)]
    t, waits = tracker(url)
    assert t.get_issue(1)["number"] == 1
    assert len(waits) == 2 and waits[0] <= waits[1] * 2
    assert t.stats()["retries"] == 2 and t.stats()["requests"] == 3


def test_429_honours_retry_after(scripted):
    url, handler = scripted
    handler.script = [(429, {"Retry-After": "7"}, {"message": "slow down"}), (200, {}, ISSUE)]
    t, waits = tracker(url)
    t.get_issue(1)
    assert waits == [7.0]


def test_primary_rate_limit_waits_until_reset(scripted):
    url, handler = scripted
    handler.script = [(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1030"},
                       {"message": "API rate limit exceeded"}), (200, {}, ISSUE)]
    t, waits = tracker(url, wall=lambda: 1000.0, max_wait=600)
    t.get_issue(1)
    assert 30 <= waits[0] <= 32


def test_secondary_rate_limit_backs_off_at_least_a_minute_capped_by_max_wait(scripted):
    url, handler = scripted
    handler.script = [(403, {}, {"message": "You have exceeded a secondary rate limit."}), (200, {}, ISSUE)]
    t, waits = tracker(url, max_wait=90)
    t.get_issue(1)
    assert 60 <= waits[0] <= 90


def test_a_lost_post_response_is_not_repeated(scripted):
    url, handler = scripted
    handler.script = [("drop", {}, {})]
    t, waits = tracker(url)
    with pytest.raises(WriteOutcomeUnknown):
        t.create_comment(1, "once")
    assert [m for m, _ in handler.seen] == ["POST"] and waits == []


def test_unreachable_api_is_exit_4_in_bounded_attempts():
    t, waits = tracker("http://127.0.0.1:9")
    with pytest.raises(TrackerUnreachable) as err:
        t.get_issue(1)
    assert err.value.exit_code == 4 and len(waits) == 2


def test_writes_are_paced_within_githubs_80_per_minute(scripted):
    url, handler = scripted
    now = [0.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    t = GitHubTracker("acme", "widgets", token="t", api_url=url, sleep=sleep, clock=lambda: now[0])
    sent_at = []
    for _ in range(100):
        handler.script.append((200, {}, {"id": 1, "body": "x"}))
        t.update_comment(1, "x")
        sent_at.append(now[0])
    assert sent_at[:20] == [0.0] * 20  # the first burst goes out at once
    busiest = max(sum(1 for s in sent_at if start <= s < start + 60) for start in sent_at)
    assert busiest <= 80  # never more than GitHub's 80 content writes in a minute
    assert t.stats()["writes"] == 100
