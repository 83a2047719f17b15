"""Routes for the authenticated user and the rate limit."""

from .. import shapes
from ..routing import route

# Handlers take (hub, req, **path params) and return (status, body, headers).


@route("GET", "/user", "users/get-authenticated", auth=True)
def get_user(hub, req):
    return 200, shapes.private_user(hub.base, hub.store.user(req.login)), {}


@route("GET", "/rate_limit", "rate-limit/get")
def rate_limit(hub, req):
    headers = hub.rate_headers(req.login, billable=False)
    core = {"limit": int(headers["x-ratelimit-limit"]), "remaining": int(headers["x-ratelimit-remaining"]),
            "reset": int(headers["x-ratelimit-reset"]), "used": int(headers["x-ratelimit-used"])}
    search = {"limit": 30, "remaining": 30, "reset": core["reset"], "used": 0}
    return 200, {"resources": {"core": core, "search": search}, "rate": core}, {}

