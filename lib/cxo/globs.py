"""Path globs with `**`: `*` stays inside one directory, `**/` spans any number of them."""

import re
from functools import cache


@cache
def _compile(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("^" + "".join(out) + "$")


def match(path: str, patterns) -> bool:
    return any(_compile(p).match(path) for p in patterns)


def matching(paths, patterns) -> list[str]:
    return [p for p in paths if match(p, patterns)]
