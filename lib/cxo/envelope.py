"""The run envelope: one JSON document that flows through the pipeline steps.

A step reads it on stdin, validates it, does its one job, adds its section,
validates the result and writes it on stdout. A blocked envelope passes through
untouched until `cxo-publish` turns it into the blocked outcome.
"""

import json
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

from . import jsonin
from .errors import InputError
from .schemas import validate

STEPS = ("claim", "worktree", "codex", "gate", "publish")


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def new(target: Path | str, issue_number: int, run_id: str | None = None, options: dict | None = None) -> dict:
    envelope = {
        "version": 1,
        "run_id": run_id or new_run_id(),
        "target": str(Path(target).resolve()),
        "issue": {"number": issue_number},
        "status": "ok",
        "blocked": None,
        "steps_done": [],
    }
    if options:
        envelope["options"] = options
    return envelope


def parse(text: str, source: str = "stdin") -> dict:
    if not text.strip():
        raise InputError(f"{source}: no envelope given: pipe in the output of the previous step (e.g. cxo-claim)")
    try:
        data = jsonin.loads(text)
    except jsonin.BadJson as exc:
        raise InputError(f"{source}: not JSON cxo can read ({exc}): feed a saved envelope or the previous "
                         "step's output") from None
    check(data, source)
    return data


def check(envelope: dict, source: str = "envelope") -> None:
    validate("envelope", envelope, f"{source}: the run envelope", "feed an envelope written by a cxo step")


def read(stream=None, source: str = "stdin") -> dict:
    stream = stream or sys.stdin
    raw = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{source}: not UTF-8 text: feed the JSON envelope a cxo step wrote") from None
    return parse(raw, source)


def read_file(path: str) -> dict:
    """The envelope in the file the user named with --input."""
    from .jsonin import read_text

    return parse(read_text(path, f"--input {path}"), f"--input {path}")


def dumps(envelope: dict) -> str:
    return json.dumps(envelope, indent=2, sort_keys=False) + "\n"


def write(envelope: dict, stream=None) -> None:
    check(envelope, "output")
    (stream or sys.stdout).write(dumps(envelope))
    (stream or sys.stdout).flush()


def is_blocked(envelope: dict) -> bool:
    return envelope["status"] == "blocked"


def block(envelope: dict, step: str, reason: str, details: dict | None = None) -> dict:
    envelope["status"] = "blocked"
    envelope["blocked"] = {"step": step, "reason": reason, "details": details or {}}
    return envelope


def mark_done(envelope: dict, step: str) -> dict:
    if step not in envelope["steps_done"]:
        envelope["steps_done"].append(step)
    return envelope


def require(envelope: dict, step: str, *sections: str) -> None:
    """A step needs the sections of earlier steps; name the missing one and what to run."""
    for section in sections:
        if section not in envelope:
            raise InputError(
                f"envelope: section '{section}' is missing, needed by cxo-{step}: "
                f"feed the output of cxo-{section} (or run the pipeline with cxo-run)"
            )
    if "worktree" in sections:
        require_worktree(envelope, step)


def require_worktree(envelope: dict, step: str) -> Path:
    """The envelope's worktree.path is a directory on this machine (a step works in it): a path that is gone
    or a file is bad input, refused before anything is changed."""
    path = (envelope.get("worktree") or {}).get("path")
    if not isinstance(path, str) or not path:
        raise InputError(f"envelope: 'worktree.path' is missing, needed by cxo-{step}: feed the output of "
                         "cxo-worktree (or run the pipeline with cxo-run)")
    where = Path(path)
    if not where.is_dir():
        what = "is a file, not a directory" if where.exists() else "does not exist"
        raise InputError(f"envelope: 'worktree.path' {path} {what}, needed by cxo-{step}: run cxo-worktree again "
                         "for this issue (or cxo-run) to recreate the worktree")
    return where


def run_dir(state_dir: Path, envelope: dict) -> Path:
    """Where a run keeps its saved envelopes, agent log, check logs and report: runs/<issue>/<run-id>/."""
    path = Path(state_dir) / "runs" / str(envelope["issue"]["number"]) / envelope["run_id"]
    attempt = (envelope.get("attempt") or {}).get("k")
    if attempt:  # one attempt of a best-of-N run (lib/cxo/attempts/): a directory of its own inside the run's
        path = path / f"attempt-{int(attempt)}"
    path.mkdir(parents=True, exist_ok=True)
    return path
