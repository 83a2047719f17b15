"""Errors every executable turns into one stderr line and a documented exit status."""

EXIT_OK = 0
EXIT_FAILED = 1  # a health check or a gate verdict failed
EXIT_USAGE = 2  # bad input: usage, invalid envelope/JSON/policy; nothing was changed
EXIT_BLOCKED = 3  # the run ended blocked
EXIT_TRACKER = 4  # the GitHub API could not be reached or answered an unexpected error
EXIT_AUTH = 5  # no token, or the token was rejected
EXIT_NOT_FOUND = 6  # repository or issue does not exist
EXIT_INTERNAL = 70  # an unexpected internal error: one line on stderr, the traceback in a crash log
EXIT_INTERRUPTED = 130


class CxoError(Exception):
    """An error with a one-line message that says what is wrong and what to do."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(CxoError):
    exit_code = EXIT_USAGE


class PolicyError(CxoError):
    """The repository policy file is malformed or has unknown keys."""

    exit_code = EXIT_USAGE


class InputError(CxoError):
    """An envelope or other JSON input does not match its schema."""

    exit_code = EXIT_USAGE
