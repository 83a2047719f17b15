"""GitHub's own published response schemas (tests/data/github-rest/operations.json), as test checks."""

import json
from functools import cache
from pathlib import Path

OPERATIONS = Path(__file__).resolve().parents[1] / "data" / "github-rest" / "operations.json"


@cache
def operations() -> dict:
    return {k: v for k, v in json.loads(OPERATIONS.read_text()).items() if not k.startswith("_")}


@cache
def _validator(op_id: str, status: str):
    from jsonschema import Draft202012Validator

    response = operations()[op_id]["responses"].get(status)
    if response is None or "content" not in response:
        return None
    schema = response["content"].get("application/json") or next(iter(response["content"].values()))
    return Draft202012Validator(schema)


def check_response(op_id: str, status: int, body) -> None:
    """Raise AssertionError when `body` is not a response GitHub could send for `op_id` with `status`.

    Operations GitHub does not describe (the hub's own admin routes, repo creation, merge) are not checked.
    """
    ops = operations()
    if op_id not in ops:
        return
    documented = ops[op_id]["responses"]
    key = str(status)
    if status == 304 and ops[op_id]["method"] == "GET":
        # GitHub answers conditional GETs with 304 on most endpoints, documented or not (semantics.md §5).
        if body not in (None, b"", ""):
            raise AssertionError(f"{op_id}: 304 must have no body")
        return
    if key not in documented:
        if status < 400:
            raise AssertionError(f"{op_id}: status {status} is not one GitHub documents ({sorted(documented)})")
        if not (isinstance(body, dict) and isinstance(body.get("message"), str)):
            raise AssertionError(f"{op_id}: error {status} without a GitHub error body: {body!r}")
        return
    validator = _validator(op_id, key)
    if validator is None:
        if body not in (None, b"", ""):
            raise AssertionError(f"{op_id}: status {status} must have no body")
        return
    errors = sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        first = errors[0]
        where = "/".join(map(str, first.absolute_path)) or "(top)"
        raise AssertionError(f"{op_id} {status}: response does not match GitHub's schema at {where}: "
                             f"{first.message[:300]} ({len(errors)} error(s))")
