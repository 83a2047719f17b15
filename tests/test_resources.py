"""Package data: schema/ and prompts/ stay at the top of the checkout and ship inside the package.

They are read through importlib.resources (lib/cxo/resources.py): from the installed package
(a wheel), else from the checkout the code was imported from; CXO_HOME overrides both.
"""

import json
import tomllib
from pathlib import Path

import pytest

from cxo import policy as policy_mod
from cxo import resources, setup_repo
from cxo.errors import CxoError

ROOT = Path(__file__).resolve().parents[1]


def test_the_checkout_data_is_read_from_the_top_level_directories(monkeypatch):
    monkeypatch.delenv("CXO_HOME", raising=False)
    assert Path(str(resources.schema_dir())) == ROOT / "schema"
    assert Path(str(resources.prompts_dir())) == ROOT / "prompts"
    names = [e.name for e in resources.entries(resources.prompts_dir(), ".md")]
    assert names == sorted(p.name for p in (ROOT / "prompts").glob("*.md"))
    assert "plan.md" in names and "implement.md" in names
    assert json.loads(resources.schema_text("envelope.schema.json"))["type"] == "object"
    assert "reviewGates" in policy_mod.defaults()


def test_data_inside_the_package_wins_over_the_checkout(tmp_path, monkeypatch):
    """An installed wheel holds cxo/schema/ and cxo/prompts/: those are read, not a checkout's."""
    monkeypatch.delenv("CXO_HOME", raising=False)
    package = tmp_path / "cxo"
    (package / "schema").mkdir(parents=True)
    (package / "prompts").mkdir()
    (package / "prompts" / "implement.md").write_text("installed implement prompt\n")
    (package / "schema" / "gate.schema.json").write_text('{"title": "installed"}')
    monkeypatch.setattr(resources.resources, "files", lambda name: package)
    assert [e.name for e in resources.entries(resources.prompts_dir(), ".md")] == ["implement.md"]
    assert json.loads(resources.schema_text("gate.schema.json")) == {"title": "installed"}


def test_a_missing_data_directory_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("CXO_HOME", raising=False)
    monkeypatch.setattr(resources.resources, "files", lambda name: tmp_path / "cxo")
    monkeypatch.setattr(resources, "__file__", str(tmp_path / "site" / "cxo" / "resources.py"))
    with pytest.raises(CxoError) as caught:
        resources.schema_dir()
    assert "schema/ directory is missing" in caught.value.message and "CXO_HOME" in caught.value.message
    assert caught.value.exit_code == 70


def test_cxo_home_overrides_where_prompts_and_schemas_are_read(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "prompts").mkdir(parents=True)
    (home / "schema").mkdir()
    (home / "prompts" / "implement.md").write_text("my own implement prompt\n")
    (home / "schema" / "review-verdict.schema.json").write_text('{"title": "mine"}')
    monkeypatch.setenv("CXO_HOME", str(home))
    target = tmp_path / "repo"
    target.mkdir()
    files = setup_repo.desired_files(target, "acme", "widgets", None)
    assert files["prompts/implement.md"] == ("my own implement prompt\n", "prompt")
    assert "prompts/review.md" not in files
    assert json.loads(resources.schema_text("review-verdict.schema.json")) == {"title": "mine"}


def test_pyproject_ships_every_package_and_the_data_directories():
    """The package list is explicit (for the schema/ and prompts/ mapping): a new package under lib/ must join it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT / "lib").parts) for p in (ROOT / "lib").rglob("__init__.py")}
    assert set(config["packages"]) == on_disk | {"cxo.schema", "cxo.prompts"}
    assert config["package-dir"] == {"": "lib", "cxo.schema": "schema", "cxo.prompts": "prompts"}
    data = config["package-data"]
    assert data["cxo"] == ["policy_defaults.yaml"]
    assert data["cxo.schema"] == ["*.json"] and data["cxo.prompts"] == ["*.md"]
