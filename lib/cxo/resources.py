"""The package's data: `schema/`, `prompts/` and `policy_defaults.yaml`.

They are read through importlib.resources. In the checkout, `schema/` and `prompts/` sit at
the top level, beside `lib/`; the wheel ships them inside the package as `cxo/schema/` and
`cxo/prompts/` (the `package-dir` mapping in pyproject.toml). So the data is looked up next
to the code that runs:

1. `CXO_HOME`, when set: a directory holding `schema/` and `prompts/` (unusual installs);
2. inside the installed package (`cxo/schema/`, `cxo/prompts/`): a wheel or pipx install;
3. the checkout the package was imported from (`lib/cxo/` -> `schema/`, `prompts/`): an
   editable install (`make install`) or `PYTHONPATH=lib`.

`policy_defaults.yaml` lives in `lib/cxo/` and is package data everywhere.
"""

import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .errors import EXIT_INTERNAL, CxoError

DATA_DIRS = ("schema", "prompts")


def _data_dir(name: str) -> Traversable:
    override = os.environ.get("CXO_HOME")
    if override:
        return Path(override) / name
    packaged = resources.files("cxo") / name
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / name
    if checkout.is_dir():
        return checkout
    raise CxoError(f"cxo's {name}/ directory is missing: it is neither in the installed package ({packaged}) "
                   f"nor in a checkout ({checkout}); reinstall cxo, or set CXO_HOME to a directory holding {name}/",
                   EXIT_INTERNAL)


def schema_dir() -> Traversable:
    return _data_dir("schema")


def prompts_dir() -> Traversable:
    return _data_dir("prompts")


def entries(directory: Traversable, suffix: str) -> list[Traversable]:
    """The files in `directory` whose name ends with `suffix`, sorted by name (none when it does not exist)."""
    if not directory.is_dir():
        return []
    return sorted((e for e in directory.iterdir() if e.is_file() and e.name.endswith(suffix)), key=lambda e: e.name)


def schema_text(name: str) -> str:
    """The text of one schema file; `name` is a file name such as `config.schema.json`."""
    return (schema_dir() / name).read_text(encoding="utf-8")


def policy_defaults_text() -> str:
    return (resources.files("cxo") / "policy_defaults.yaml").read_text(encoding="utf-8")
