"""Where the package's data lives: `schema/` and `prompts/` at the project root.

The package is installed editable from a checkout (see the Makefile), so the data
directories sit two levels above this file. CXO_HOME overrides that for unusual
installs.
"""

import os
from pathlib import Path


def project_root() -> Path:
    override = os.environ.get("CXO_HOME")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2]


def schema_dir() -> Path:
    return project_root() / "schema"


def prompts_dir() -> Path:
    return project_root() / "prompts"
