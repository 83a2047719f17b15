"""`cxo-status` on a repository with 1,000 open issues: how many API requests it costs."""

import os

from bench.hubbench import TOKEN, Hub, make_target

TITLE = "status over 1,000 open issues (hub in-process)"


def run(ctx) -> list[dict]:
    from cxo import policy as policy_mod
    from cxo.status import collect

    hub = Hub(ctx.work)
    try:
        os.environ["GITHUB_TOKEN"] = TOKEN
        owner, clone = make_target(hub, ctx.work, "status", {})
        labels = [["agent:auto"], ["agent:manual"], ["bug"], ["agent:plan-auto"], []]
        for n in range(1000):
            hub.call("POST", f"/repos/{owner}/status/issues", {"title": f"issue {n}", "labels": labels[n % 5]})
        before = hub.stats()
        report = collect(policy_mod.load(clone))
        after = hub.stats()
        return [
            {"what": "issues classified (eligible + skipped)",
             "value": len(report["eligible"]) + len(report["skipped"]), "unit": "issues"},
            {"what": "API requests for 1,000 open issues", "value": after["total"] - before["total"],
             "unit": "requests", "target": 12},
            {"what": "writes made by status", "value": after["writes"] - before["writes"], "unit": "writes",
             "target": 0},
        ]
    finally:
        hub.stop()
