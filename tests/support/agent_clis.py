"""The pinned agent CLIs in .tools/ (scripts/install-codex.sh, scripts/install-agents.sh) for the real-agent tests.

A checkout without them skips those tests; CI installs them and sets CXO_REQUIRE_AGENT_CLIS=1, so there a missing
CLI is an error of the run, never a quiet skip."""

import os
from pathlib import Path

import pytest

BIN = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / ".bin"


def required(name: str, label: str, script: str):
    """The module-level mark for tests that drive the pinned CLI `name` (at BIN / name)."""
    why = f"the pinned {label} is not installed at {BIN / name}: run {script}"
    if not (BIN / name).exists() and os.environ.get("CXO_REQUIRE_AGENT_CLIS"):
        pytest.fail(why + " (CXO_REQUIRE_AGENT_CLIS is set: CI installs it)", pytrace=False)
    return pytest.mark.skipif(not (BIN / name).exists(), reason=why + " (CI does)")
