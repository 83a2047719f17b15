"""Evaluation tasks: SWE-bench instances (one JSON object a line) plus `repo_path`, read and checked."""

import json
import os
import re
from pathlib import Path

from ..errors import InputError

REQUIRED = ("instance_id", "repo", "base_commit", "problem_statement", "test_patch", "FAIL_TO_PASS",
            "PASS_TO_PASS", "repo_path")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def test_ids(task: dict, key: str) -> list[str]:
    """FAIL_TO_PASS / PASS_TO_PASS as a list (SWE-bench's dataset stores them as JSON text of a list)."""
    value = task[key]
    return json.loads(value) if isinstance(value, str) else list(value)


def check(task, where: str) -> dict:
    """`task` when it is a usable task, else InputError naming `where`, the field and what to do."""
    if not isinstance(task, dict):
        raise InputError(f"{where}: not a JSON object: write one task object per line")
    for key in REQUIRED:
        if key not in task:
            raise InputError(f"{where}: missing field {key!r}: every task needs {', '.join(REQUIRED)}")
    for key in ("instance_id", "repo", "base_commit", "problem_statement", "repo_path"):
        if not isinstance(task[key], str) or not task[key].strip():
            raise InputError(f"{where}: field {key!r} must be a non-empty string")
    if not _ID.match(task["instance_id"]):
        raise InputError(f"{where}: field 'instance_id' {task['instance_id'][:60]!r} must be letters, digits, "
                         "'.', '_' or '-' (it names a result file)")
    if not isinstance(task["test_patch"], str):
        raise InputError(f"{where}: field 'test_patch' must be a string (a unified diff, may be empty)")
    for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
        try:
            ids = test_ids(task, key)
        except ValueError:
            ids = None
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise InputError(f"{where}: field {key!r} must be a list of test ids (or JSON text of one)")
    if not test_ids(task, "FAIL_TO_PASS"):
        raise InputError(f"{where}: field 'FAIL_TO_PASS' is empty: a task needs a test that the fix makes pass")
    if not Path(os.path.expanduser(task["repo_path"])).is_dir():
        raise InputError(f"{where}: repo_path {task['repo_path']!r} is not a directory: point it at a local clone")
    return task


def load(path: Path) -> list[dict]:
    """Every task of a JSON-lines file; InputError (one line, naming the file and line) on the first bad one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--tasks {path}: no such file: write it with `cxo-eval build` or give a SWE-bench JSONL")
    tasks, seen = [], set()
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                task = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}): fix that line") from None
            task = check(task, where)
            if task["instance_id"] in seen:
                raise InputError(f"{where}: instance_id {task['instance_id']!r} appears twice: ids must be unique")
            seen.add(task["instance_id"])
            tasks.append(task)
    if not tasks:
        raise InputError(f"--tasks {path}: no tasks in the file: build some with `cxo-eval build`")
    return tasks


def write(path: Path, tasks: list[dict]) -> None:
    """Write tasks as JSON lines, atomically."""
    atomic_write(Path(path), "".join(json.dumps(t, sort_keys=True) + "\n" for t in tasks))


def atomic_write(path: Path, text: str) -> None:
    """`text` to `path` through a temporary file and a rename: a killed writer leaves the old file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
