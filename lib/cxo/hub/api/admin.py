"""The hub's own `/_hub/*` admin routes (statistics, faults, org members); all require the admin token."""

import json

from ..routing import FaultConfig, invalid, route

# Handlers take (hub, req, **path params) and return (status, body, headers).


@route("GET", "/_hub/stats", "hub/stats")
def hub_stats(hub, req):
    with hub.stats_lock:
        return 200, json.loads(json.dumps(hub.stats)), {}


@route("POST", "/_hub/stats/reset", "hub/reset-stats")
def hub_reset(hub, req):
    hub.reset_stats()
    return 200, {"ok": True}, {}


@route("GET", "/_hub/dispatches", "hub/dispatches")
def hub_dispatches(hub, req):
    with hub.stats_lock:
        return 200, list(hub.dispatches), {}


@route("GET", "/_hub/faults", "hub/get-faults")
def hub_get_faults(hub, req):
    return 200, hub.faults.to_json(), {}


@route("POST", "/_hub/faults", "hub/set-faults")
def hub_set_faults(hub, req):
    data = req.object()
    hub.set_faults(FaultConfig(float(data.get("error_rate", 0)), int(data.get("latency_ms", 0)),
                               float(data.get("drop_rate", 0)), data.get("seed")))
    return 200, hub.faults.to_json(), {}


@route("PUT", "/_hub/orgs/{org}/members/{login}", "hub/add-org-member")
def hub_add_org_member(hub, req, org, login):
    account = hub.store.one("SELECT type FROM users WHERE login = ?", org)
    if account is not None and account["type"] != "Organization":
        raise invalid([{"resource": "Organization", "code": "invalid", "field": "org"}], f"{org} is a user")
    hub.add_org_member(org, login)
    return 204, None, {}
