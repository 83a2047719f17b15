"""Named points where the reliability tests kill the runner (SIGKILL) to prove a rerun recovers.

Test-only: nothing happens unless CXO_TEST_KILL_AT names the point.
"""

import os
import signal


def reached(name: str) -> None:
    if os.environ.get("CXO_TEST_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
