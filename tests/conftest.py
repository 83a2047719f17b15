"""Shared fixtures live in tests/support/, one module per concern."""

import pytest

pytest_plugins = [
    "tests.support.hub_fixtures",
    "tests.support.git_fixtures",
]


@pytest.fixture(autouse=True)
def _activated_venv(monkeypatch):
    """Tests run as a user with cxo's venv activated: checks and tdd runs use `python` from the user's PATH
    (cxo no longer puts its own interpreter first), and the test targets' tests need this venv's pytest."""
    import os
    import sys
    from pathlib import Path

    bin_dir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", os.pathsep.join([bin_dir, os.environ.get("PATH", os.defpath)]))
    if sys.prefix != sys.base_prefix:
        monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)
