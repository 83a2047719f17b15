"""What every executable shares: one-line errors, exit codes, progress on stderr."""

import argparse
import signal
import sys
import time
from collections.abc import Callable

from ..errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, CxoError

EXIT_CODES_HELP = """exit status:
  0 success   1 a check or gate failed   2 bad input (usage, envelope, policy)
  3 run ended blocked   4 GitHub API unreachable/unexpected   5 missing or rejected token
  6 repository or issue not found   70 internal error (crash log named on stderr)   130 interrupted"""


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line with exit status 2."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message_line(message)}: see {self.prog} --help\n")


def add_version(p: argparse.ArgumentParser, name: str | None = None) -> None:
    """`--version`: prints `NAME (cxo) VERSION` and exits 0, before any required argument is missed."""
    from .. import __version__

    p.add_argument("--version", action="version", version=f"{name or p.prog} (cxo) {__version__}")


def parser(prog: str, description: str, epilog: str = "") -> Parser:
    p = Parser(
        prog=prog,
        description=description,
        epilog=(epilog + "\n\n" if epilog else "") + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_version(p)
    return p


def run_id_arg(value: str) -> str:
    """--run-id: the run id names a directory, so only the shape cxo itself makes is accepted."""
    import re

    if not re.fullmatch(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}", value):
        raise argparse.ArgumentTypeError(f"--run-id {value!r} is not a run id like 20261124T114500Z-1a2b3c")
    return value


# GitHub numbers issues with 32-bit integers; anything larger names no issue and is refused before a request.
MAX_ISSUE = 2**31 - 1


def issue_arg(value: str) -> int:
    """--issue: ASCII digits only (int() would take '٣' or '1_0'), 1 up to GitHub's largest number."""
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not 1 <= int(text) <= MAX_ISSUE:
        raise argparse.ArgumentTypeError(f"{shown(value)} is not an issue number (1 to {MAX_ISSUE}, ASCII digits)")
    return int(text)


def seconds_arg(value: str) -> float:
    """A duration in seconds: a finite number above zero (no NaN, infinity, zero or negative), at most a week."""
    import math

    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not 0 < number <= 7 * 24 * 3600:
        raise argparse.ArgumentTypeError(f"{shown(value)} is not a number of seconds above 0 and at most 604800")
    return number


def count_arg(value: str, most: int = 1_000_000) -> int:
    """A count from 1 to `most` (ASCII digits)."""
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or not 1 <= int(text) <= most:
        raise argparse.ArgumentTypeError(f"{shown(value)} is not a whole number from 1 to {most}")
    return int(text)


def concurrency_arg(value: str) -> int:
    return count_arg(value, 64)


def shown(value: str, limit: int = 40) -> str:
    """A user's value quoted for an error line: one line, bounded."""
    from ..untrusted import one_line

    return repr(one_line(value, limit))


def add_target(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", default=".", help="the repository to work on (default: current directory)")


_started = time.monotonic()


def progress(prog: str, message: str) -> None:
    """A human progress line on stderr (never stdout, which carries data)."""
    elapsed = time.monotonic() - _started
    print(f"[{prog} {elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def run(prog: str, body: Callable[[], int | None]) -> int:
    """Run `body`, turning errors into one stderr line and a documented exit status."""
    from ..connect import take_token

    signal.signal(signal.SIGTERM, _raise_interrupt)
    take_token()  # out of the environment before anything else runs
    try:
        return body() or 0
    except CxoError as exc:
        print(f"{prog}: error: {message_line(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_INTERRUPTED
    except Exception as exc:  # the catch-all: one line, a crash log, a code of its own
        log = crash_log(prog, exc)
        print(f"{prog}: internal error: {type(exc).__name__}: the traceback is in {log}: please report it",
              file=sys.stderr)
        return EXIT_INTERNAL


MESSAGE_LIMIT = 600


def message_line(message: str) -> str:
    """An error message as one line of bounded length, never cut inside a word."""
    from ..untrusted import shorten

    return shorten(" ".join(message.split()), MESSAGE_LIMIT)


def crash_log(prog: str, exc: BaseException) -> str:
    """Write the (redacted) traceback and versions to a crash log under the user's state directory."""
    import os
    import platform
    import traceback
    from datetime import UTC, datetime
    from pathlib import Path

    from .. import __version__
    from ..redact import redact

    root = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "cxo" / "crash"
    try:
        root.mkdir(parents=True, exist_ok=True)
        path = root / f"{prog}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}.log"
        text = (f"{prog} {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
                + "".join(traceback.format_exception(exc)))
        path.write_text(redact(text))
        return str(path)
    except OSError:
        return "(no crash log: the state directory is not writable)"
