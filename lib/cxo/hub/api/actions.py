"""Workflow dispatch (`POST …/actions/workflows/{workflow_id}/dispatches`): the hub runs no workflow; it records
each dispatch (repository, workflow, ref, inputs, login) for the admin route `GET /_hub/dispatches`, so a test
that plays a workflow can run the dispatched run next."""

from ..routing import invalid, route


@route("POST", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
       "actions/create-workflow-dispatch", auth=True)
def create_workflow_dispatch(hub, req, owner, repo, workflow_id):
    row = hub.repo_or_404(owner, repo, req.login)
    hub.require_write(row, req.login)
    data = req.object()
    if not isinstance(data.get("ref"), str) or not data["ref"]:
        raise invalid([{"resource": "WorkflowDispatch", "code": "missing_field", "field": "ref"}])
    inputs = data.get("inputs") or {}
    if not isinstance(inputs, dict) or len(inputs) > 25 or \
            not all(isinstance(v, (str, int, float, bool)) for v in inputs.values()):
        raise invalid([{"resource": "WorkflowDispatch", "code": "invalid", "field": "inputs"}])
    with hub.stats_lock:
        hub.dispatches.append({"repository": hub.full(row), "workflow": workflow_id, "ref": data["ref"],
                               "inputs": {k: str(v) for k, v in inputs.items()}, "login": req.login})
        number = len(hub.dispatches)
    if data.get("return_run_details"):
        base = f"{hub.base}/repos/{hub.full(row)}/actions/runs/{number}"
        return 200, {"workflow_run_id": number, "run_url": base,
                     "html_url": f"{hub.base}/{hub.full(row)}/actions/runs/{number}"}, {}
    return 204, None, {}
