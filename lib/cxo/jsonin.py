"""JSON from outside (stdin, files, an agent's report): parse errors, not crashes, whatever the input."""

import json
from pathlib import Path

from .errors import InputError

# Deeper than any document cxo reads; deep enough that validation and reports never recurse out of stack.
MAX_DEPTH = 64


class BadJson(ValueError):
    """The text is not JSON cxo can use (syntax, nesting); the message says which."""


def _depth(data) -> int:
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def loads(text: str | bytes):
    """json.loads, with nesting deeper than MAX_DEPTH refused as BadJson instead of overflowing the stack."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadJson(f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise BadJson(f"nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise BadJson("not UTF-8 text") from None
    except ValueError:  # an integer with thousands of digits (Python's int conversion limit)
        raise BadJson("a number with too many digits") from None
    if _depth(data) > MAX_DEPTH:
        raise BadJson(f"nested deeper than {MAX_DEPTH} levels")
    return data


def read_text(path: Path | str, what: str) -> str:
    """A UTF-8 text file the user named (`what`: how the message names it, e.g. '--input FILE')."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what}: no such file: give the path of an existing file") from None
    except IsADirectoryError:
        raise InputError(f"{what}: a directory, not a file: give the path of a file") from None
    except OSError as exc:
        raise InputError(f"{what}: cannot read it ({exc.strerror}): check the path and its permissions") from None
    if b"\0" in data:
        raise InputError(f"{what}: a binary file, not JSON text: give the JSON file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{what}: not UTF-8 text: save it as UTF-8 JSON") from None
