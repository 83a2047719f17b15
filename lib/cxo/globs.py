"""Path globs that match the way .gitignore patterns do, through pathspec's GitIgnoreSpec.

A pattern without a slash matches at any depth (`*.pem` catches `certs/key.pem`); one with a
slash is anchored at the repository root (`docs/**`); `**/` spans any number of directories,
`*` and `?` stay inside one, `[a-z]` is a character class, and `!pattern` re-includes what an
earlier pattern matched (the last matching pattern wins). A directory pattern (`build/`, or
`build` without a slash) matches every file under it.
"""

from functools import cache


@cache
def _spec(patterns: tuple[str, ...]):
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(patterns)


def match(path: str, patterns) -> bool:
    return _spec(tuple(patterns)).match_file(path)


def matching(paths, patterns) -> list[str]:
    spec = _spec(tuple(patterns))
    return [p for p in paths if spec.match_file(p)]
