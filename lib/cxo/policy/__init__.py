"""The repository policy: `.codex-orchestrator/config.yaml` (or the seed's config.json).

An empty or missing file is a valid policy: every key falls back to
`policy_defaults.yaml`. Unknown keys are rejected, naming the key path and the
file, because a misspelt gate setting that silently does nothing is worse than
an error.
"""

import copy
import os
import re
import socket
import string
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

import yaml

from ..errors import PolicyError
from .checks import (  # noqa: F401 - the value checks live beside; callers know them as the policy's
    AGENT_PLACEHOLDERS,
    DEFAULT_API_URL,
    LABEL_KEYS,
    TEMPLATE_PLACEHOLDERS,
    check_api_url,
    check_template,
    check_values,
)

POLICY_DIR = ".codex-orchestrator"
POLICY_FILES = ("config.yaml", "config.yml", "config.json")

# Keys that hold runtime state belong in runner.stateDir, never in the policy.
RUNTIME_KEYS = {"state", "locks", "lock", "worktrees", "runs", "activeRuns", "claims", "leases", "recovery"}


@cache
def _defaults_text() -> str:
    from ..resources import policy_defaults_text

    return policy_defaults_text()


@cache
def _parsed_defaults() -> dict:
    """The default policy (package data), parsed once per process (by libyaml when present); `defaults()` copies."""
    return yaml.load(_defaults_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@lru_cache(maxsize=8)
def _parsed_text(text: str):
    """A policy text, parsed once per process (working copy and base commit are often the same); callers copy."""
    return yaml.safe_load(text)


def defaults() -> dict:
    return copy.deepcopy(_parsed_defaults())


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
        if path.is_symlink() and not path.exists():
            raise PolicyError(f"{path}: a symbolic link to nothing ({os.readlink(path)}): point it at the policy "
                              "file or remove it")
        if path.exists():
            raise PolicyError(f"{path}: not a regular file: make it the policy file or remove it")
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
    from ..schemas import validator  # config.schema.json's, built once per process

    errors = sorted(validator("config").iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
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


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not UTF-8 text: save the policy as UTF-8") from None
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy ({exc.strerror}): fix the file") from None


_WARNED: set[str] = set()


def _warn(message: str, shown: str) -> None:
    """One stderr line per warning and process (the working copy and the base commit name the same key once)."""
    import sys

    if message not in _WARNED:
        _WARNED.add(message)
        sys.stderr.write(f"cxo: warning: {Path(shown).name}: {message}\n")


def parse_policy_text(text: str, shown: str, warnings: list | None = None) -> dict:
    """The policy in cxo's keys. A seed configuration (config.json, or seed-only keys) is translated first;
    each seed key cxo does not act on is named in one warning line (stderr, or appended to `warnings`)."""
    try:
        data = copy.deepcopy(_parsed_text(text)) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise PolicyError(f"{shown}: not valid YAML/JSON{at}: fix the syntax") from None
    except ValueError:  # an integer with thousands of digits (Python's int conversion limit)
        raise PolicyError(f"{shown}: a number with too many digits: give values of sensible size") from None
    except RecursionError:
        raise PolicyError(f"{shown}: nested too deeply: fix the structure") from None
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
    from . import seed

    if seed.is_seed_config(data, Path(shown).name):
        data, notes = seed.translate(data, defaults())
        for note in notes:
            if warnings is not None:
                warnings.append(note)
            else:
                _warn(note, shown)
    _legacy_network(data, shown, warnings)
    problem = _schema_problem(data, shown)
    if problem:
        raise PolicyError(problem)
    return data


def _legacy_network(data: dict, shown: str, warnings: list | None) -> None:
    """agent.network was a boolean: true reads as `open`, false as `none`, with a warning naming the new words."""
    agent = data.get("agent")
    if isinstance(agent, dict) and isinstance(agent.get("network"), bool):
        agent["network"] = "open" if agent["network"] else "none"
        note = (f"agent.network: {str(agent['network'] == 'open').lower()} is read as `{agent['network']}`; "
                "write allowlist, open or none (allowlist, the default, reaches only agent.allowHosts and the "
                "agent's model hosts)")
        if warnings is not None:
            warnings.append(note)
        else:
            _warn(note, shown)


# The placeholders each template may use (a template with any other is refused when the policy loads).
@dataclass
class Policy:
    target: Path
    data: dict
    path: Path | None = None
    overrides: dict = field(default_factory=dict)
    source: str | None = None  # the commit the policy was read from (None: the working copy)
    label_meta: dict = field(default_factory=dict)  # label key -> {color, description} when the policy gives them

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
        """The API base: in GitHub Actions (GITHUB_ACTIONS=true) the runner's GITHUB_API_URL wins, so a committed
        github.apiUrl (a developer's hub or GHE address) never sends CI elsewhere; else github.apiUrl, else
        GITHUB_API_URL, else https://api.github.com."""
        if os.environ.get("GITHUB_ACTIONS") == "true" and os.environ.get("GITHUB_API_URL"):
            return check_api_url(os.environ["GITHUB_API_URL"], "GITHUB_API_URL")
        if self.data["github"]["apiUrl"]:
            return check_api_url(self.data["github"]["apiUrl"], f"{self.shown_path()}: 'github.apiUrl'")
        if os.environ.get("GITHUB_API_URL"):
            return check_api_url(os.environ["GITHUB_API_URL"], "GITHUB_API_URL")
        return DEFAULT_API_URL

    @property
    def base_branch(self) -> str:
        return self.data["git"]["baseBranch"]

    @property
    def remote(self) -> str:
        return self.data["git"]["remote"]

    @property
    def clone_url(self) -> str:
        """The repository's one git URL, derived from the API base: the only URL the runner fetches from and
        pushes to, whatever a remote's configuration says."""
        owner, repo = self.require_repo()
        api = self.api_url
        host = "https://github.com" if api == DEFAULT_API_URL else api.removesuffix("/api/v3")
        return f"{host}/{owner}/{repo}.git"

    def _dir(self, value: str) -> Path:
        path = Path(os.path.expanduser(value))
        return (path if path.is_absolute() else self.target / path).resolve()

    @property
    def state_root(self) -> Path:
        """The runner-owned directory for this checkout, outside it: $XDG_STATE_HOME/cxo/<name>-<hash>."""
        import hashlib

        base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        digest = hashlib.sha256(str(self.target).encode()).hexdigest()[:12]
        return (base / "cxo" / f"{self.target.name}-{digest}").resolve()

    @property
    def state_dir(self) -> Path:
        chosen = os.environ.get("CXO_STATE_DIR") or self.data["runner"]["stateDir"]
        return self._dir(chosen) if chosen else self.state_root / "state"

    @property
    def workspace_root(self) -> Path:
        chosen = self.data["runner"]["workspaceRoot"]
        return self._dir(chosen) if chosen else self.state_root / "worktrees"

    @property
    def runner_name(self) -> str:
        return self.data["runner"]["name"] or socket.gethostname()

    def prompt_path(self, key: str) -> Path:
        """The repository's prompt file, or the package's own when the repository has none."""
        from ..resources import prompts_dir

        rel = self.data["prompts"][key]
        if self.source:
            # Read from the policy's commit, never from a working copy an agent could have edited.
            text = _show(self.target, self.source, f"{POLICY_DIR}/{rel}")
            if text is not None:
                copy_path = self.state_dir / "policy" / self.source / rel
                copy_path.parent.mkdir(parents=True, exist_ok=True)
                copy_path.write_text(text)
                return copy_path
        else:
            local = self.target / POLICY_DIR / rel
            if local.is_file():
                return local
        packaged = prompts_dir() / Path(rel).name
        if isinstance(packaged, Path):
            return packaged
        # Package data that is no plain file (a zipped install): copy it out, as for the policy's commit above.
        copy_path = self.state_dir / "policy" / "package-prompts" / Path(rel).name
        copy_path.parent.mkdir(parents=True, exist_ok=True)
        copy_path.write_text(packaged.read_text(encoding="utf-8"))
        return copy_path

    def workflow_prompt(self) -> str | None:
        """The text of prompts.workflow (relative to .codex-orchestrator/), from the policy's commit when it was
        read from one; None when unset or missing."""
        rel = self.data["prompts"].get("workflow")
        if not rel:
            return None
        if self.source:
            return _show(self.target, self.source, f"{POLICY_DIR}/{rel}")
        local = self.target / POLICY_DIR / rel
        return local.read_text(errors="replace") if local.is_file() else None

    def repo_text(self, rel: str) -> str | None:
        """A file under .codex-orchestrator/ from the policy's commit (or the working copy when the policy came
        from it); None when missing."""
        if self.source:
            return _show(self.target, self.source, f"{POLICY_DIR}/{rel}")
        local = self.target / POLICY_DIR / rel
        return local.read_text(errors="replace") if local.is_file() else None

    def require_repo(self) -> tuple[str, str]:
        if not self.owner or not self.repo:
            raise PolicyError(
                f"{self.shown_path()}: github.owner/github.repo are not set and the '{self.remote}' "
                "remote does not name a GitHub repository: run cxo-setup or set them in the policy"
            )
        return self.owner, self.repo

    def shown_path(self) -> str:
        return str(self.path) if self.path else str(self.target / POLICY_DIR / "config.yaml")


def _label_names(data: dict) -> dict:
    """Labels given as objects (the seed's {name, color, description}) become their names in `data`; the
    colors and descriptions are returned by label key."""
    meta = {}
    for key, value in list(data["labels"].items()):
        if isinstance(value, dict):
            data["labels"][key] = value["name"]
            meta[key] = {k: value[k] for k in ("color", "description") if k in value}
    return meta


@lru_cache(maxsize=16)
def _policy_tree(target: Path, commit: str) -> dict:
    """path -> (mode, kind) for all of .codex-orchestrator/ at `commit`: one git call, not one per file looked up."""
    from ..gitutil import git

    entries = {}
    for item in git(target, "ls-tree", "-r", "-t", "-z", commit, "--", POLICY_DIR, retcode=None).split("\0"):
        meta, tab, path = item.partition("\t")
        if tab:
            mode, kind, _ = meta.split(" ")
            entries[path] = (mode, kind)
    return entries


def _show(target: Path, commit: str, rel: str) -> str | None:
    """A file's text at `commit`, or None when the commit has no such file."""
    import subprocess

    from ..gitutil import config_env, git

    if rel.startswith(POLICY_DIR + "/"):
        if (found := _policy_tree(target, commit).get(rel)) is None:
            return None
        mode, kind = found
    else:
        listed = git(target, "ls-tree", commit, "--", rel, retcode=None).strip()
        if not listed.endswith("\t" + rel):
            return None
        mode, kind, _ = listed.split("\t")[0].split(" ")
    shown = f"{commit[:12]}:{rel}"
    if kind != "blob" or mode == "120000":
        raise PolicyError(f"{shown}: not a regular file ({'a symbolic link' if mode == '120000' else kind}): "
                          "commit the policy as a plain file")
    data = subprocess.run(["git", "cat-file", "blob", f"{commit}:{rel}"], cwd=target, capture_output=True,
                          env={**os.environ, **config_env()}, check=True).stdout
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"{shown}: not UTF-8 text: save the policy as UTF-8") from None


def _base_ref(bootstrap: dict) -> str:
    """`<remote>/<baseBranch>` as the working copy's git.remote/git.baseBranch (or the defaults) name it."""
    git_section = {**_parsed_defaults()["git"], **(bootstrap.get("git") or {})}
    return f"{git_section['remote']}/{git_section['baseBranch']}"


def _base_commit(target: Path, bootstrap: dict) -> str | None:
    """The fetched base branch's commit (refs/remotes/<remote>/<baseBranch>), if this checkout has one."""
    from ..gitutil import git, is_repo

    git_section = {**_parsed_defaults()["git"], **(bootstrap.get("git") or {})}
    remote, base = str(git_section["remote"]), str(git_section["baseBranch"])
    if remote.startswith("-") or base.startswith("-") or not is_repo(target):
        return None
    sha = git(target, "rev-parse", "--verify", "--quiet", "--end-of-options",
              f"refs/remotes/{remote}/{base}^{{commit}}", retcode=None).strip()
    return sha or None


def _bootstrap(target: Path) -> dict:
    """git.remote/git.baseBranch from a working-copy policy that did not load (only strings taken; anything
    unreadable gives the defaults), so an invalid working copy still finds the fetched base."""
    _name, text = _working_copy_text(target)
    try:
        data = yaml.safe_load(text) if text else None
    except (ValueError, RecursionError, yaml.YAMLError):
        return {}
    section = data.get("git") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        return {}
    return {"git": {k: section[k] for k in ("remote", "baseBranch") if isinstance(section.get(k), str)}}


def _working_copy_text(target: Path) -> tuple[str | None, str | None]:
    """(file name, text) of the working copy's policy as the base's is looked up; (None, None) when it has none,
    (name, None) when it cannot be read."""
    for name in POLICY_FILES:
        path = target / POLICY_DIR / name
        if path.is_symlink() or path.exists():
            try:
                return name, path.read_text(encoding="utf-8") if path.is_file() else None
            except (OSError, UnicodeDecodeError):
                return name, None
    return None, None


def _say_working_copy_differs(target: Path, bootstrap: dict, source: str, base_name: str | None,
                              base_text: str | None, problem: str | None) -> None:
    """One `cxo: warning:` line when the working copy's policy is not the base's (an uncommitted edit, or an
    invalid file): which one runs, and that the edit takes effect once committed and pushed."""
    import sys

    name, text = _working_copy_text(target)
    if problem is None and (name, text) == (base_name, base_text):
        return
    if problem is None and name is not None:  # the schema passed: what else the policy's loading checks
        try:
            data = _merge(_parsed_defaults(), bootstrap)
            _label_names(data)
            check_values(data, f"{target / POLICY_DIR / name}")
        except PolicyError as exc:
            problem = str(exc)
    shown = f"{POLICY_DIR}/{name or base_name or POLICY_FILES[0]}"
    if name is None:
        what = f"{shown}: the working copy has none, the base has one"
    elif problem:
        what = f"{shown} in the working copy is not valid ({problem}) and differs from the base's"
    else:
        what = f"{shown} in the working copy differs from the base's"
    message = (f"cxo: warning: {what}: cxo runs the base's ({_base_ref(bootstrap)} at {source[:12]}); the "
               "working copy's edit takes effect once committed and pushed\n")
    if message not in _WARNED:  # once per process: a command may load the policy more than once
        _WARNED.add(message)
        sys.stderr.write(message)


def load(target: Path | str = ".", overrides: dict | None = None, infer_repo: bool = True,
         working_copy: bool = False) -> Policy:
    """Load and validate the policy of the repository at `target`.

    The policy is read from the fetched base branch (what is merged), not from the working copy, which an
    agent could have edited; only a checkout with no fetched base (or `working_copy=True`, for cxo-setup) reads
    the working copy. The working copy's git.remote/git.baseBranch say which base that is. When the working
    copy's policy file differs from the base's (an uncommitted edit, or a file that does not load), one stderr
    warning says so; an invalid working copy is an error only when it is what runs.
    """
    target = Path(target).resolve()
    if not target.is_dir():
        raise PolicyError(f"--target {target}: not a directory: point --target at a git repository")
    path, problem = None, None
    try:
        path = find_policy_file(target)
        user = parse_policy_text(_read_text(path), str(path)) if path else {}
    except PolicyError as exc:
        # An invalid working copy is an error only when it is the policy that runs (no fetched base).
        if working_copy:
            raise
        user, problem = _bootstrap(target), str(exc)
    source = None if working_copy else _base_commit(target, user)
    if source is None and problem is not None:
        raise PolicyError(problem)
    if source:
        bootstrap, user, path, base_name, base_text = user, {}, None, None, None
        for name in POLICY_FILES:
            text = _show(target, source, f"{POLICY_DIR}/{name}")
            if text is not None:
                path = Path(f"{source[:12]}:{POLICY_DIR}/{name}")
                user = parse_policy_text(text, str(path))
                base_name, base_text = name, text
                break
        _say_working_copy_differs(target, bootstrap, source, base_name, base_text, problem)
    data = _merge(_parsed_defaults(), user)  # _merge copies: the parsed defaults stay as read
    label_meta = _label_names(data)
    check_values(data, str(path) if path else "the default policy")
    if overrides:
        data = _merge(data, overrides)
        problem = _schema_problem(data, "command-line overrides")
        if problem:
            raise PolicyError(problem)
        check_values(data, "command-line overrides")
    label_meta.update(_label_names(data))
    policy = Policy(target=target, data=data, path=path, overrides=overrides or {}, source=source,
                    label_meta=label_meta)
    if infer_repo and (not policy.owner or not policy.repo):
        from ..gitutil import remote_repo

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
