"""The hub's HTTP server: GitHub's REST operations that cxo uses, plus git smart HTTP.

Each route carries GitHub's operationId (`issues/add-labels`), which names it in
`/_hub/stats` and lets tests validate every response against GitHub's schemas
through the `on_response` hook. Behaviour follows GitHub's documented and
reported semantics (see tests/data/github-rest/semantics.md).

The code lives in `routing` (the route registry, requests, errors), `model`
(the `Hub`: store, JSON shapes, auth), `http` (handler and `HubServer`) and
`api/<category>` (the handlers). This module registers every route and keeps
the public names.
"""

from . import api  # noqa: F401  (importing it registers every route)
from .http import GIT_PATH, Handler, HubServer
from .model import DEFAULT_USER, RATE_LIMIT, Hub
from .routing import DOCS, ROUTES, FaultConfig, HubError, Request, invalid, not_found, require_text, route

__all__ = ["DEFAULT_USER", "DOCS", "GIT_PATH", "RATE_LIMIT", "ROUTES", "FaultConfig", "Handler", "Hub", "HubError",
           "HubServer", "Request", "invalid", "not_found", "require_text", "route"]
