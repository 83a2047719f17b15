"""The built wheel, installed into a fresh venv outside the checkout, works from any directory.

schema/ and prompts/ stay at the top of the checkout; the wheel must carry them (and the policy
defaults) as package data. Every command here runs from a temporary directory, on the venv's
own executables, with an environment that cannot reach the checkout (no PYTHONPATH, no CXO_HOME,
no checkout or test venv on PATH, no activated venv).

The venv gets cxo's dependencies from the package index (pip's cache makes that quick).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

from cxo import __version__
from cxo.gitutil import token_env
from tests.support.git_fixtures import GIT_ENV, commit_all, git, write

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINTS = tuple(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])
TOKEN = "acme-token"


def _run(argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=kw.pop("timeout", 300),
                          **kw)


def assert_clean_exit(proc, code: int, what: str) -> None:
    assert proc.returncode == code, f"{what}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stdout + proc.stderr, f"{what}:\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of what the wheel is made of, so the checkout gets no build/ or egg-info."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("lib", "schema", "prompts"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path_factory.mktemp("dist")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, src.resolve()])
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("cxo-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("venv") / "v"
    made = _run([sys.executable, "-m", "venv", root])
    assert made.returncode == 0, made.stderr
    installed = _run([root / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel],
                     env=clean_env(root, root))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return root


def clean_env(venv: Path, home: Path, **extra) -> dict:
    """The venv's bin first on PATH, and nothing that could lead it to the checkout or the test's own venv."""
    drop = ("PYTHON", "CXO_", "VIRTUAL_ENV", "GITHUB_", "GH_", "XDG_STATE_HOME")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    outside = [p for p in os.environ["PATH"].split(os.pathsep)
               if p and not Path(p).resolve().is_relative_to(ROOT) and not Path(p).resolve().is_relative_to(sys.prefix)]
    env.update(GIT_ENV, PATH=os.pathsep.join([str(venv / "bin"), *outside]), XDG_STATE_HOME=str(home / "state"),
               **extra)
    return env


def test_the_wheel_holds_the_package_data_and_the_license(wheel):
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    shipped = {n for n in names if n.startswith(("cxo/schema/", "cxo/prompts/"))}
    assert shipped == ({f"cxo/schema/{p.name}" for p in (ROOT / "schema").glob("*.json")}
                       | {f"cxo/prompts/{p.name}" for p in (ROOT / "prompts").glob("*.md")})
    assert {"cxo/prompts/plan.md", "cxo/schema/plan-report.schema.json", "cxo/policy_defaults.yaml",
            "cxo/__main__.py"} <= names
    assert archive.read("cxo/prompts/implement.md") == (ROOT / "prompts" / "implement.md").read_bytes()
    assert not any(n.startswith(("schema/", "prompts/", "tests/", "lib/")) for n in names), sorted(names)
    (license_file,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert archive.read(license_file).decode().startswith("MIT License")
    metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata
    core = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert any(r.startswith("Requires-Dist: httpx2") for r in core), core
    assert not any(r.startswith(("Requires-Dist: ghapi", "Requires-Dist: plumbum")) for r in core), core
    assert any(r.startswith("Requires-Dist: ghapi") and "extra == \"test\"" in r
               for r in metadata.splitlines()), "ghapi is the hub conformance tests' client (the test extra)"
    assert not any("playwright" in r for r in core), "playwright belongs in the visual (and test) extra only"
    scripts = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert all(f"\n{name} = " in scripts for name in ENTRY_POINTS), scripts


def test_the_installed_commands_work_outside_the_checkout(venv, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = clean_env(venv, tmp_path)
    bin_ = venv / "bin"

    where = _run([bin_ / "python", "-c", "import cxo, cxo.resources as r; print(cxo.__file__); "
                  "print(r.schema_dir()); print(r.prompts_dir())"], cwd=cwd, env=env)
    assert_clean_exit(where, 0, "import cxo")
    assert all(Path(line).is_relative_to(venv) for line in where.stdout.split()), where.stdout

    for name in ENTRY_POINTS:
        proc = _run([bin_ / name, "--version"], cwd=cwd, env=env)
        assert_clean_exit(proc, 0, f"{name} --version")
        assert proc.stdout == f"{name} (cxo) {__version__}\n", (name, proc.stdout)
    umbrella = _run([bin_ / "python", "-m", "cxo", "--help"], cwd=cwd, env=env)
    assert_clean_exit(umbrella, 0, "python -m cxo --help")
    assert "codex-orchestrator" in umbrella.stdout and "setup" in umbrella.stdout

    # The installed hub, as a user would start it.
    hub = subprocess.Popen([bin_ / "cxo-hub", "serve", "--port", "0", "--data", tmp_path / "hub",
                            "--token", f"acme:{TOKEN}"], cwd=cwd, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        url = hub.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), (url, hub.stderr.read() if hub.poll() is not None else "")
        run_env = {**env, "GITHUB_TOKEN": TOKEN}

        # A fresh git repository, pushed to a new hub repository with the installed hub client.
        repo = tmp_path / "widgets"
        git(tmp_path, "init", "-q", "-b", "main", str(repo))
        write(repo, "app/calc.py", "def add(a, b):\n    return a + b\n")
        commit_all(repo, "initial")
        created = _run([bin_ / "cxo-hub", "create-repo", "widgets", "--api", url, "--token", TOKEN, "--from", repo],
                       cwd=cwd, env=env)
        assert_clean_exit(created, 0, "cxo-hub create-repo")
        git(repo, "remote", "add", "origin", json.loads(created.stdout)["clone_url"])
        git(repo, "fetch", "-q", "origin")

        setup = _run([bin_ / "cxo-setup", "--target", repo, "--api-url", url, "--prepare-labels", "--json"],
                     cwd=cwd, env=run_env)
        assert_clean_exit(setup, 0, "cxo-setup")
        written = repo / ".codex-orchestrator"
        for prompt in (ROOT / "prompts").glob("*.md"):
            assert (written / "prompts" / prompt.name).read_text() == prompt.read_text(), prompt.name
        config_path = written / "config.yaml"
        config = yaml.safe_load(config_path.read_text())
        config["codex"]["command"] = "git"  # an agent CLI cxo-health can find on this machine
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        commit_all(repo, "cxo policy")
        git(repo, "push", "-q", "origin", "main", env=token_env(TOKEN))
        git(repo, "fetch", "-q", "origin")

        status = _run([bin_ / "cxo-status", "--target", repo, "--json"], cwd=cwd, env=run_env)
        assert_clean_exit(status, 0, "cxo-status")
        assert json.loads(status.stdout)["repository"] == "acme/widgets"
        health = _run([bin_ / "cxo-health", "--target", repo], cwd=cwd, env=run_env)
        assert_clean_exit(health, 0, "cxo-health")
        assert "all 8 labels exist" in health.stdout, health.stdout
    finally:
        # SIGTERM, as a service manager stops it (SIGINT would be ignored where this suite runs as a background job).
        hub.send_signal(signal.SIGTERM)
        out, err = hub.communicate(timeout=30)
    assert hub.returncode == 0 and "Traceback" not in err, err[-3000:]

    base = git(repo, "rev-parse", "HEAD").strip()
    write(repo, "app/more.py", "X = 1\n")
    ok = _run([bin_ / "cxo-gate", "safety", "--worktree", repo, "--base", base], cwd=cwd, env=env)
    assert_clean_exit(ok, 0, "cxo-gate safety (a clean change)")
    assert json.loads(ok.stdout)["verdict"] == "pass"
    write(repo, "certs/server.pem", "not a key, but a denied path\n")
    denied = _run([bin_ / "cxo-gate", "safety", "--worktree", repo, "--base", base], cwd=cwd, env=env)
    assert_clean_exit(denied, 1, "cxo-gate safety (a denied path)")
    assert json.loads(denied.stdout)["verdict"] == "fail"


def test_the_demo_runs_from_the_installed_wheel(venv, tmp_path):
    """Not activated and under /tmp: the demo's agent and the sample's tests still see the venv in the sandbox."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = _run([venv / "bin" / "python", "-m", "cxo.demo", "--dir", tmp_path / "demo"], cwd=cwd,
                env=clean_env(venv, tmp_path))
    assert_clean_exit(proc, 0, "python -m cxo.demo")
    assert "outcome:   review (cxo-run exit 0)" in proc.stdout
    assert "labels:    agent:auto, agent:review" in proc.stdout
    for gate in ("checks | ✅ pass", "tdd | ✅ pass", "review | ✅ pass"):
        assert gate in proc.stdout, gate


def test_the_readmes_wheel_command_leaves_the_checkout_clean(tmp_path):
    # The README's build command, run as written on a fresh clone: a wheel in dist/, and `git status` of the
    # clone stays empty (no build/, no lib/cxo.egg-info, ignored or not).
    readme = (ROOT / "README.md").read_text()
    (line,) = [ln for ln in readme.splitlines() if ln.startswith("python3 -m pip wheel ")]
    command = line.split("#", 1)[0].strip()
    clone = tmp_path / "cxo"
    git(tmp_path, "clone", "-q", str(ROOT), str(clone))
    work = tmp_path / "work"
    work.mkdir()
    argv = command.replace("python3", sys.executable, 1).replace("/path/to/cxo", str(clone)).split()
    built = _run([a.strip("'\"") for a in argv], cwd=work)
    assert built.returncode == 0, built.stdout + built.stderr
    assert len(list((work / "dist").glob("cxo-*.whl"))) == 1
    assert git(clone, "status", "--porcelain", "--ignored") == ""
