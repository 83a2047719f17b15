"""JSON Schema validation for every message cxo reads or writes.

Schemas live in `schema/<name>.schema.json` (package data, see resources.py) and may
`$ref` each other by file name. jsonschema is imported on first use so `--help` stays fast.
"""

import json
from functools import cache

from .errors import InputError
from .resources import entries, schema_dir, schema_text


@cache
def _registry():
    from referencing import Registry, Resource

    resources = []
    for path in entries(schema_dir(), ".schema.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(doc)
        resources.append((path.name, resource))
        if "$id" in doc:
            resources.append((doc["$id"], resource))
    return Registry().with_resources(resources)


@cache
def validator(name: str):
    """schema/<name>.schema.json's validator, built once per process."""
    from jsonschema import Draft202012Validator

    schema = json.loads(schema_text(f"{name}.schema.json"))
    return Draft202012Validator(schema, registry=_registry())


def field_path(error) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def errors(name: str, data) -> list[str]:
    """All problems of `data` against schema `name`, as 'field: message' lines."""
    found = sorted(validator(name).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{field_path(e)}: {e.message}" for e in found]


def validate(name: str, data, what: str, hint: str = "fix it and try again") -> None:
    """Raise InputError naming the first bad field of `data` (described as `what`)."""
    problems = errors(name, data)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(f"{what} is invalid at {problems[0]}{more}: {hint}")
