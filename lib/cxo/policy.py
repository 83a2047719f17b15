"""The repository policy: `.codex-orchestrator/config.yaml` (or the seed's config.json).

An empty or missing file is a valid policy: every key falls back to
`policy_defaults.yaml`. Unknown keys are rejected, naming the key path and the
file, because a misspelt gate setting that silently does nothing is worse than
an error.
"""

import copy
import json
import os
import re
import socket
import string
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from .errors import PolicyError

POLICY_DIR = ".codex-orchestrator"
POLICY_FILES = ("config.yaml", "config.yml", "config.json")
DEFAULT_API_URL = "https://api.github.com"
# Keys that hold runtime state belong in runner.stateDir, never in the policy.
RUNTIME_KEYS = {"state", "locks", "lock", "worktrees", "runs", "activeRuns", "claims", "leases", "recovery"}
LABEL_KEYS = ("auto", "planAuto", "child", "running", "blocked", "manual", "review")


@cache
def _defaults_text() -> str:
    return (Path(__file__).with_name("policy_defaults.yaml")).read_text()


def defaults() -> dict:
    return yaml.safe_load(_defaults_text())


def defaults_text() -> str:
    """The commented default policy, as `cxo-setup` writes it."""
    return _defaults_text()


def _merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def find_policy_file(target: Path) -> Path | None:
    for name in POLICY_FILES:
        path = target / POLICY_DIR / name
        if path.is_file():
            return path
    return None


def _runtime_key_paths(data, prefix="") -> list[str]:
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}{key}"
            if key in RUNTIME_KEYS:
                found.append(path)
            found.extend(_runtime_key_paths(value, path + "."))
    return found


def _schema_problem(data: dict, shown: str) -> str | None:
    from jsonschema import Draft202012Validator

    from .resources import schema_dir

    schema = json.loads((schema_dir() / "config.schema.json").read_text())
    errors = sorted(
        Draft202012Validator(schema).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]
    )
    if not errors:
        return None
    error = errors[0]
    where = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in allowed)
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        return (
            f"{shown}: unknown key '{key}': remove it or fix the spelling "
            f"(allowed here: {', '.join(sorted(allowed))})"
        )
    return f"{shown}: '{where or '(top level)'}' {error.message}: fix the value (see schema/config.schema.json)"


def parse_policy_text(text: str, shown: str) -> dict:
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise PolicyError(f"{shown}: not valid YAML/JSON{at}: fix the syntax") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(f"{shown}: the policy must be a mapping of keys, not {type(data).__name__}")
    runtime = _runtime_key_paths(data)
    if runtime:
        raise PolicyError(
            f"{shown}: '{runtime[0]}' is runtime state, not policy: remove it "
            "(cxo keeps runtime state under runner.stateDir)"
        )
    problem = _schema_problem(data, shown)
    if problem:
        raise PolicyError(problem)
    return data


@dataclass
class Policy:
    target: Path
    data: dict
    path: Path | None = None
    overrides: dict = field(default_factory=dict)

    # --- sections -------------------------------------------------------
    def __getitem__(self, key):
        return self.data[key]

    @property
    def labels(self) -> dict:
        return self.data["labels"]

    def label(self, key: str) -> str:
        return self.data["labels"][key]

    @property
    def owner(self) -> str | None:
        return self.data["github"]["owner"]

    @property
    def repo(self) -> str | None:
        return self.data["github"]["repo"]

    @property
    def api_url(self) -> str:
        return (
            self.data["github"]["apiUrl"] or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL
        ).rstrip("/")

    @property
    def base_branch(self) -> str:
        return self.data["git"]["baseBranch"]

    @property
    def remote(self) -> str:
        return self.data["git"]["remote"]

    def _dir(self, value: str) -> Path:
        path = Path(os.path.expanduser(value))
        return (path if path.is_absolute() else self.target / path).resolve()

    @property
    def state_dir(self) -> Path:
        return self._dir(os.environ.get("CXO_STATE_DIR") or self.data["runner"]["stateDir"])

    @property
    def workspace_root(self) -> Path:
        return self._dir(self.data["runner"]["workspaceRoot"])

    @property
    def runner_name(self) -> str:
        return self.data["runner"]["name"] or socket.gethostname()

    def prompt_path(self, key: str) -> Path:
        """The repository's prompt file, or the package's own when the repository has none."""
        from .resources import prompts_dir

        local = self.target / POLICY_DIR / self.data["prompts"][key]
        if local.is_file():
            return local
        return prompts_dir() / Path(self.data["prompts"][key]).name

    def require_repo(self) -> tuple[str, str]:
        if not self.owner or not self.repo:
            raise PolicyError(
                f"{self.shown_path()}: github.owner/github.repo are not set and the '{self.remote}' "
                "remote does not name a GitHub repository: run cxo-setup or set them in the policy"
            )
        return self.owner, self.repo

    def shown_path(self) -> str:
        return str(self.path) if self.path else str(self.target / POLICY_DIR / "config.yaml")


def load(target: Path | str = ".", overrides: dict | None = None, infer_repo: bool = True) -> Policy:
    """Load and validate the policy of the repository at `target`."""
    target = Path(target).resolve()
    if not target.is_dir():
        raise PolicyError(f"--target {target}: not a directory: point --target at a git repository")
    path = find_policy_file(target)
    user = parse_policy_text(path.read_text(), str(path)) if path else {}
    data = _merge(defaults(), user)
    if overrides:
        data = _merge(data, overrides)
        problem = _schema_problem(data, "command-line overrides")
        if problem:
            raise PolicyError(problem)
    policy = Policy(target=target, data=data, path=path, overrides=overrides or {})
    if infer_repo and (not policy.owner or not policy.repo):
        from .gitutil import remote_repo

        found = remote_repo(target, policy.remote)
        if found:
            data["github"]["owner"] = data["github"]["owner"] or found[0]
            data["github"]["repo"] = data["github"]["repo"] or found[1]
    return policy


# --- templates ----------------------------------------------------------------

_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


def slugify(text: str, limit: int = 40) -> str:
    slug = _SLUG_STRIP.sub("-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "issue"


def render(template: str, values: dict, where: str) -> str:
    """Fill `${name}` placeholders; an unknown placeholder is a policy error naming `where`."""
    try:
        return string.Template(template).substitute({k: str(v) for k, v in values.items()})
    except KeyError as exc:
        known = ", ".join("${" + k + "}" for k in sorted(values))
        raise PolicyError(f"{where}: unknown placeholder ${{{exc.args[0]}}}: use one of {known}") from None
    except ValueError as exc:
        raise PolicyError(f"{where}: bad placeholder syntax ({exc}): write placeholders as ${{name}}") from None
