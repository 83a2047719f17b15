"""`GitHubTracker`: the `Tracker` protocol on httpx2, with ghapi's request conventions (`_Caller`).

* httpx2 is imported on the first request, not at import time, so the executables start fast.
* Lists follow the `Link: rel="next"` header with `per_page=100`.
* GETs are conditional: an ETag cache (memory, optionally a JSON file) sends `If-None-Match`;
  a 304 returns the cached body and costs no rate limit.
* Retries with exponential backoff + jitter on 5xx, connection failures and rate limits
  (`retry-after`, then `x-ratelimit-reset`, then >= 60 s for secondary limits), each wait
  clamped to `max_wait`.
* Writes are paced (token bucket, 80/min). A POST whose response was lost is never repeated:
  `WriteOutcomeUnknown` lets the caller check first. PUT/PATCH/DELETE are retried.
* `stats()` counts HTTP requests actually sent (responses received plus requests whose response
  was lost), writes, 304s and retries. The token never appears in messages or logs.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from .base import (
    AuthError,
    NotFound,
    RateLimited,
    TrackerError,
    TrackerUnreachable,
    ValidationFailed,
    WriteOutcomeUnknown,
)
from .http import WRITE_METHODS, EtagCache, WritePacer, backoff, iso_since, link_next, rate_limit_wait
from .links import IssueLinksMixin, LabelsMixin
from .reviews import ReviewsMixin

DEFAULT_API_URL = "https://api.github.com"
PER_PAGE = 100
TOKEN_HINT = "set GITHUB_TOKEN (or GH_TOKEN)"


_BINARY_TYPES = ("octet-stream", "zip", "gzip", "tar", "image/", "audio/", "video/")


class _Caller:
    """One request on the tracker's httpx2 client: call(url, verb, headers=..., data=...) -> decoded body.

    What the tracker used of ghapi 2's GhSyncTransport, without importing ghapi (whose import builds GitHub's
    1,200-operation spec: ~0.25 s of CPU per process): base headers under the call's, one attempt (the tracker
    retries), an error status raised as HTTPStatusError, the last response's headers in `recv_hdrs`.
    """

    def __init__(self, client, host: str, base_headers: dict, hx):
        self.client, self.gh_host, self.base_headers, self._hx = client, host, base_headers, hx
        self.recv_hdrs = {}

    def __call__(self, path: str, verb: str = "GET", headers: dict | None = None, data: Any = None):
        url = path if path.startswith(("http://", "https://")) else self.gh_host + path
        body = {"content": data} if isinstance(data, (bytes, str)) else {"json": data}
        resp = self.client.request(verb, url, headers={**self.base_headers, **(headers or {})}, **body)
        try:
            resp.raise_for_status()
        except self._hx.HTTPStatusError as e:
            e.args = (f"{e}\n{resp.text}",)
            raise
        self.recv_hdrs = resp.headers
        return self._decode(resp)

    @staticmethod
    def _decode(resp) -> Any:
        """As ghapi decodes: JSON as JSON, text/* and NDJSON as str, other bodies str unless truly binary."""
        if not resp.content:
            return None
        ctype = (resp.headers.get("content-type") or "").lower()
        if "application/json" in ctype or ctype.endswith("+json"):
            return resp.json()
        if ctype.startswith("text/") or "application/x-ndjson" in ctype:
            return resp.text
        if any(t in ctype for t in _BINARY_TYPES):
            return resp.content
        return resp.content.decode()


class GitHubTracker(LabelsMixin, IssueLinksMixin, ReviewsMixin):
    """GitHub REST v3. See the module docstring for the transport behaviour."""

    def __init__(
        self,
        owner: str,
        repo: str,
        token: str | None = None,
        api_url: str | None = None,
        *,
        pace_writes: bool = True,
        max_retries: int = 5,
        connect_retries: int = 2,
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        max_wait: float = 600.0,
        backoff_base: float = 1.0,
        writes_per_minute: float = 80,
        timeout: float = 30.0,
        etag_cache: Path | str | None = None,
        rng: random.Random | None = None,
    ):
        if not owner or not repo:
            raise TrackerError("tracker needs an owner and a repository name: set github.repo in the policy")
        self.owner = owner
        self.repo = repo
        self.token = token or os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or None
        self.api_url = (api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        self.max_retries = max(0, int(max_retries))
        # Nothing listening is rarely transient: a CLI should say so in seconds, not half a minute.
        self.connect_retries = max(0, int(connect_retries))
        self.max_wait = float(max_wait)
        self.backoff_base = float(backoff_base)
        self.timeout = float(timeout)
        self._sleep = sleep
        self._wall = wall
        self._rng = rng or random.Random()
        # A burst of a quarter of the budget, refilled at the rest: no 60-second window holds more
        # than `writes_per_minute` writes, and a run's handful of writes never waits.
        self._pacer = (WritePacer(writes_per_minute * 0.75, burst=max(1.0, writes_per_minute * 0.25), clock=clock,
                                  sleep=sleep) if pace_writes else None)
        scope = hashlib.sha256((self.api_url + "\0" + (self.token or "")).encode()).hexdigest()[:16]
        self._etags = EtagCache(etag_cache, scope=scope)
        self._api = None
        self._client = None
        self._hx = None
        self._counts = {"requests": 0, "writes": 0, "not_modified": 0, "retries": 0}
        self.waits: list[float] = []  # every backoff/rate-limit wait, in order (not pacing)

    @classmethod
    def from_env(cls, owner: str, repo: str, api_url: str | None = None, **kwargs: Any) -> GitHubTracker:
        """Token from GITHUB_TOKEN, else GH_TOKEN; API base from `api_url`, else GITHUB_API_URL."""
        token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or None
        return cls(owner, repo, token=token, api_url=api_url, **kwargs)

    def __repr__(self) -> str:
        return f"GitHubTracker({self.owner}/{self.repo} at {self._safe_base()})"

    # ---- lifecycle / stats -------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        return self._counts["requests"]

    def stats(self) -> dict[str, int]:
        return dict(self._counts)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
            self._api = None

    def __enter__(self) -> GitHubTracker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _ensure_api(self):
        if self._api is None:
            import httpx2

            self._hx = httpx2
            # The headers ghapi sends; the tracker addresses every endpoint by path.
            headers = {"Accept": "application/vnd.github.v3+json", "User-Agent": "cxo-tracker"}
            if self.token:
                headers["Authorization"] = "token " + self.token
            self._client = httpx2.Client(
                timeout=httpx2.Timeout(self.timeout, connect=min(10.0, self.timeout)),
                follow_redirects=True,
                event_hooks={"response": [self._on_response]},
            )
            self._api = _Caller(self._client, self.api_url, headers, httpx2)
        return self._api

    def _on_response(self, response) -> None:
        self._counts["requests"] += 1
        if response.request.method.upper() in WRITE_METHODS:
            self._counts["writes"] += 1

    # ---- transport ---------------------------------------------------------------------------

    def _safe_base(self) -> str:
        parts = urlsplit(self.api_url)
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return f"{parts.scheme}://{host}{parts.path}"

    def _url(self, path: str, query: dict | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else self.api_url + path
        q = {k: v for k, v in (query or {}).items() if v is not None}
        if q:
            url += ("&" if "?" in url else "?") + urlencode(sorted(q.items()))
        return url

    def _redact(self, text: str) -> str:
        if self.token and text:
            text = text.replace(self.token, "***")
        return text

    def _repo_path(self, tail: str = "") -> str:
        return f"/repos/{quote(self.owner, safe='')}/{quote(self.repo, safe='')}{tail}"

    def _request(self, method: str, path: str, query: dict | None = None, data: Any = None) -> Any:
        return self._request_url(method, self._url(path, query), data)[0]

    def _request_url(self, method: str, url: str, data: Any = None) -> tuple[Any, str | None]:
        """One logical request (with retries). Returns (JSON body, Link header)."""
        method = method.upper()
        api = self._ensure_api()
        hx = self._hx
        shown = urlsplit(url).path or "/"
        if method in WRITE_METHODS and not self.token:
            raise AuthError(
                f"no GitHub token for {method} {shown}: {TOKEN_HINT} to a token with write access to "
                f"{self.owner}/{self.repo}", method=method, path=shown)
        cacheable = method == "GET"
        attempt = 0
        while True:
            if method in WRITE_METHODS and self._pacer is not None:
                self._pacer.acquire()
            entry = self._etags.get(url) if cacheable else None
            headers = {"If-None-Match": entry["etag"]} if entry else None
            refused = False
            try:
                result = api(url, method, headers=headers, data=data)
            except hx.HTTPStatusError as e:
                resp = e.response
                if resp.status_code == 304 and entry is not None:
                    self._counts["not_modified"] += 1
                    return entry["body"], entry.get("link")
                wait = self._status_wait(method, shown, resp, attempt)
                what = f"{method} {shown}: {resp.status_code} {self._gh_message(resp)}".rstrip()
            except (hx.ConnectError, hx.ConnectTimeout, hx.PoolTimeout) as e:
                # Nothing was sent: safe to retry any method.
                refused = True
                wait = backoff(attempt, self.backoff_base, self.max_wait, self._rng)
                what = f"{method} {shown}: cannot connect to {self._safe_base()} ({type(e).__name__})"
            except (hx.UnsupportedProtocol, hx.InvalidURL) as e:
                raise TrackerUnreachable(
                    f"invalid GitHub API URL {self._safe_base()!r} ({type(e).__name__}): "
                    "fix GITHUB_API_URL or github.apiUrl in the policy", method=method, path=shown) from None
            except hx.TransportError as e:
                # The request went out (or partly) and the answer was lost.
                self._counts["requests"] += 1
                if method in WRITE_METHODS:
                    self._counts["writes"] += 1
                if method == "POST":
                    raise WriteOutcomeUnknown(
                        f"{method} {shown}: the connection failed after the request was sent "
                        f"({type(e).__name__}); the write may have happened: check before retrying",
                        method=method, path=shown, payload=data) from None
                wait = backoff(attempt, self.backoff_base, self.max_wait, self._rng)
                what = f"{method} {shown}: connection failed ({type(e).__name__})"
            else:
                hdrs = api.recv_hdrs
                body = result
                link = hdrs.get("link") if hdrs is not None else None
                etag = hdrs.get("etag") if hdrs is not None else None
                if cacheable and etag:
                    self._etags.put(url, etag, body, link)
                return body, link
            if attempt >= (min(self.max_retries, self.connect_retries) if refused else self.max_retries):
                if isinstance(wait, _RateWait):
                    raise RateLimited(
                        f"GitHub rate limit still exceeded after {attempt + 1} attempts ({self._redact(what)}): "
                        "wait for the limit to reset or use a token with more quota",
                        method=method, path=shown, status=wait.status)
                raise TrackerUnreachable(
                    f"GitHub API failed after {attempt + 1} attempts ({self._redact(what)}): check "
                    f"{self._safe_base()} is reachable (GITHUB_API_URL) and retry later",
                    method=method, path=shown)
            self._counts["retries"] += 1
            self.waits.append(float(wait))
            self._sleep(float(wait))
            attempt += 1

    def _gh_message(self, resp) -> str:
        try:
            body = resp.json()
        except Exception:
            return self._redact((resp.text or "").strip().splitlines()[0][:200]) if resp.text else ""
        if isinstance(body, dict):
            return self._redact(str(body.get("message") or ""))
        return ""

    def _status_wait(self, method: str, shown: str, resp, attempt: int) -> float:
        """The wait before retrying this error response, or raise the right TrackerError."""
        status = resp.status_code
        msg = self._gh_message(resp)
        where = f"{method} {shown}: {status} {msg}".rstrip()
        if status in (403, 429):
            wait = rate_limit_wait(status, resp.headers, msg, attempt, wall=self._wall,
                                   max_wait=self.max_wait, rng=self._rng)
            if wait is not None:
                return _RateWait(wait, status)
        if status >= 500:
            return backoff(attempt, self.backoff_base, self.max_wait, self._rng)
        if status == 401:
            hint = f"{TOKEN_HINT} to a valid token" if self.token else TOKEN_HINT
            raise AuthError(f"GitHub rejected the credentials ({where}): {hint}",
                            method=method, path=shown, status=status)
        if status == 403:
            raise AuthError(
                f"GitHub refused access ({where}): {TOKEN_HINT} to a token with access to "
                f"{self.owner}/{self.repo} (issues, pull requests and contents: write)",
                method=method, path=shown, status=status)
        if status in (404, 410):
            raise NotFound(
                f"not found ({where}): check that {self.owner}/{self.repo} and the number exist and "
                "that the token can see them", method=method, path=shown, status=status)
        if status == 422:
            try:
                body = resp.json()
            except Exception:
                body = {}
            errors = body.get("errors") if isinstance(body, dict) else None
            details = "; ".join(
                self._redact(str(e.get("message") or ":".join(
                    str(e.get(k)) for k in ("resource", "field", "code") if e.get(k))))
                for e in (errors or []) if isinstance(e, dict))
            text = f"{msg}: {details}" if details else msg
            raise ValidationFailed(
                f"GitHub rejected the request ({method} {shown}: 422 {text}): fix the request or the "
                "repository state named above", method=method, path=shown, errors=errors, github_message=msg)
        raise TrackerError(f"unexpected GitHub answer ({where}): retry later or report it",
                           method=method, path=shown, status=status)

    def _paginate(self, path: str, query: dict | None = None) -> list:
        out: list = []
        url: str | None = self._url(path, {**(query or {}), "per_page": PER_PAGE})
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            body, link = self._request_url("GET", url)
            if isinstance(body, list):
                out.extend(body)
            elif isinstance(body, dict) and isinstance(body.get("items"), list):
                out.extend(body["items"])
            url = link_next(link)
        return out

    # ---- repository / user -------------------------------------------------------------------

    def get_repo(self) -> dict:
        return self._request("GET", self._repo_path())

    def get_authenticated_user(self) -> dict:
        return self._request("GET", "/user")

    # ---- issues --------------------------------------------------------------------------------

    def get_issue(self, number: int) -> dict:
        return self._request("GET", self._repo_path(f"/issues/{int(number)}"))

    def list_issues(self, state: str = "open", labels: list[str] | str | None = None,
                    since: Any = None) -> list[dict]:
        if isinstance(labels, (list, tuple)):
            labels = ",".join(labels) if labels else None
        return self._paginate(self._repo_path("/issues"),
                              {"state": state, "labels": labels or None, "since": iso_since(since)})

    def create_issue(self, title: str, body: str = "", labels: list[str] | None = None) -> dict:
        data: dict[str, Any] = {"title": title, "body": body}
        if labels:
            data["labels"] = list(labels)
        return self._request("POST", self._repo_path("/issues"), data=data)

    def update_issue(self, number: int, **fields: Any) -> dict:
        return self._request("PATCH", self._repo_path(f"/issues/{int(number)}"), data=fields)

    # ---- comments ------------------------------------------------------------------------------

    def list_comments(self, number: int) -> list[dict]:
        return self._paginate(self._repo_path(f"/issues/{int(number)}/comments"))

    def list_repo_comments(self, since: Any = None) -> list[dict]:
        """Every issue and PR comment of the repository updated since `since`, oldest first: one listing."""
        return self._paginate(self._repo_path("/issues/comments"),
                              {"since": iso_since(since), "sort": "created", "direction": "asc"})

    def create_comment(self, number: int, body: str) -> dict:
        return self._request("POST", self._repo_path(f"/issues/{int(number)}/comments"), data={"body": body})

    def update_comment(self, comment_id: int, body: str) -> dict:
        return self._request("PATCH", self._repo_path(f"/issues/comments/{int(comment_id)}"),
                             data={"body": body})

    def delete_comment(self, comment_id: int) -> None:
        self._request("DELETE", self._repo_path(f"/issues/comments/{int(comment_id)}"))

    # ---- pull requests -------------------------------------------------------------------------

    def find_pull(self, head_branch: str, state: str = "all") -> dict | None:
        owner, _, branch = head_branch.rpartition(":")
        owner = owner or self.owner
        head = f"{owner}:{branch}"
        pulls = self._request("GET", self._repo_path("/pulls"), {
            "head": head, "state": state, "sort": "created", "direction": "desc", "per_page": PER_PAGE,
        }) or []
        # Guard against a server that ignores the filter (GitHub does for a bare branch name).
        matching = [
            p for p in pulls
            if (p.get("head") or {}).get("ref") == branch
            and ((p.get("head") or {}).get("label") in (None, head))
        ]
        if not matching:
            return None
        open_ = [p for p in matching if p.get("state") == "open"]
        return (open_ or matching)[0]

    def list_pulls(self, state: str = "open") -> list[dict]:
        """Every pull request in `state` with its head and base (conditional pages: 304 and free when unchanged)."""
        return self._paginate(self._repo_path("/pulls"), {"state": state, "sort": "created", "direction": "asc"})

    def create_pull(self, title: str, head: str, base: str, body: str = "", draft: bool = True) -> dict:
        return self._request("POST", self._repo_path("/pulls"), data={
            "title": title, "head": head, "base": base, "body": body, "draft": bool(draft),
        })

    def update_pull(self, number: int, **fields: Any) -> dict:
        return self._request("PATCH", self._repo_path(f"/pulls/{int(number)}"), data=fields)

    def get_pull(self, number: int) -> dict:
        return self._request("GET", self._repo_path(f"/pulls/{int(number)}"))

    # ---- checks and commit statuses (CI fix rounds) ---------------------------------------------

    def list_check_runs(self, ref: str) -> list[dict]:
        """The check runs on a commit (the newest of each name first, as GitHub lists them; one page of 100)."""
        body = self._request("GET", self._repo_path(f"/commits/{quote(ref, safe='')}/check-runs"),
                             {"per_page": PER_PAGE, "filter": "latest"})
        return list((body or {}).get("check_runs") or [])

    def combined_status(self, ref: str) -> dict:
        """The commit statuses of a commit, the newest per context (`statuses`), and their combined `state`."""
        return self._request("GET", self._repo_path(f"/commits/{quote(ref, safe='')}/status"),
                             {"per_page": PER_PAGE}) or {}

    def job_log(self, job_id: int) -> str | None:
        """An Actions job's log as text (GitHub answers 302 to a short-lived download URL, followed here); None
        when there is none to read (expired, or not an Actions job)."""
        api = self._ensure_api()
        resp = self._client.get(self._url(self._repo_path(f"/actions/jobs/{int(job_id)}/logs")),
                                headers=api.base_headers)
        if resp.status_code != 200:
            return None
        return resp.text

    # ---- git refs ------------------------------------------------------------------------------

    def get_ref(self, ref: str) -> dict | None:
        ref = ref.removeprefix("refs/")
        try:
            return self._request("GET", self._repo_path(f"/git/ref/{quote(ref, safe='/')}"))
        except NotFound:
            return None
        except TrackerError as e:
            if e.status == 409:  # "Git Repository is empty."
                return None
            raise


class _RateWait(float):
    """A wait that came from a rate limit (so exhaustion raises RateLimited)."""

    status: int

    def __new__(cls, value: float, status: int):
        obj = super().__new__(cls, value)
        obj.status = status
        return obj
