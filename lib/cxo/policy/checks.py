"""Checks of a policy's values that its JSON Schema cannot make: regexes compile, templates name known
placeholders, label names are distinct, the API URL is usable. Run at load, before any write to GitHub."""

import re
import string
import subprocess

from ..errors import PolicyError

DEFAULT_API_URL = "https://api.github.com"
LABEL_KEYS = ("auto", "planAuto", "child", "running", "blocked", "manual", "review")


TEMPLATE_PLACEHOLDERS = {
    ("git", "branchTemplate"): {"issueNumber", "slug", "issueTitle"},
    ("git", "integrationBranchTemplate"): {"issueNumber", "slug", "issueTitle"},
    ("pullRequest", "titleTemplate"): {"issueNumber", "issueTitle"},
    ("reviewGates", "visualProof", "artifactDir"): {"issueNumber"},
    ("reviewGates", "visualProof", "runnerValidationCommand"): {"issueNumber"},
}
BRANCH_TEMPLATES = ("branchTemplate", "integrationBranchTemplate")
BRANCH_SAMPLE = {"issueNumber": "1", "slug": "x", "issueTitle": "x"}
AGENT_PLACEHOLDERS = {"worktreePath", "promptPath", "reportPath", "issueNumber", "branchName", "stateDir"}


def _lookup(data: dict, keys: tuple):
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def check_template(template: str, allowed: set[str], where: str, shown: str) -> None:
    """A template uses only `${name}` placeholders from `allowed` (and `$$` for a dollar sign)."""
    parsed = string.Template(template)
    if not parsed.is_valid():
        raise PolicyError(f"{shown}: '{where}' has a bad placeholder: write placeholders as ${{name}} and a "
                          "dollar sign as $$")
    unknown = sorted(set(parsed.get_identifiers()) - allowed)
    if unknown:
        known = ", ".join("${" + k + "}" for k in sorted(allowed))
        raise PolicyError(f"{shown}: '{where}' uses the unknown placeholder ${{{unknown[0]}}}: use one of {known}")


def check_branch_template(template: str, where: str, shown: str) -> None:
    """The template, filled with sample values, is a branch name git takes as it is: no `..`, spaces, `~`,
    `^`, `:`, a leading `-`, a `.lock` end… (`git check-ref-format --branch`). Never repaired silently."""
    name = string.Template(template).safe_substitute(BRANCH_SAMPLE)
    ok = bool(name) and not name.startswith("-")
    if ok:
        try:
            proc = subprocess.run(["git", "check-ref-format", "--branch", name], cwd="/", capture_output=True,
                                  text=True, errors="replace", timeout=30)
        except ValueError:  # a NUL in the name
            ok = False
        except (OSError, subprocess.SubprocessError):
            return  # no git to ask: the worktree step still checks the rendered name
        else:
            ok = proc.returncode == 0 and proc.stdout.strip() == name
    if not ok:
        raise PolicyError(f"{shown}: '{where}' gives no valid git branch name ({name!r} for issue 1, slug 'x'): "
                          "use letters, digits, '-', '_', '.' and '/' (no '..', spaces, '~', '^', ':', leading "
                          "'-' or '.lock' end), e.g. 'agent/issue-${issueNumber}-${slug}'")


def check_values(data: dict, shown: str) -> None:
    """What the schema cannot say: regexes compile, templates name known placeholders, labels are distinct,
    numbers are finite. Checked when the policy loads, so a bad policy never gets as far as a claim."""
    for section, key in (("deny", "commands"), ("deny", "contentPatterns")):
        for index, pattern in enumerate(_lookup(data, (section, key)) or []):
            try:
                re.compile(pattern)
            except (re.error, RecursionError, OverflowError) as exc:
                reason = exc.msg if isinstance(exc, re.error) else type(exc).__name__
                raise PolicyError(f"{shown}: '{section}.{key}[{index}]' is not a valid regular expression "
                                  f"({reason}): fix the pattern") from None
    for keys, allowed in TEMPLATE_PLACEHOLDERS.items():
        value = _lookup(data, keys)
        if isinstance(value, str):
            check_template(value, allowed, ".".join(keys), shown)
    for key in BRANCH_TEMPLATES:
        value = _lookup(data, ("git", key))
        if isinstance(value, str):
            check_branch_template(value, f"git.{key}", shown)
    codex = data.get("codex") or {}
    for where, value in [("codex.command", codex.get("command"))] + [
            (f"codex.args[{i}]", arg) for i, arg in enumerate(codex.get("args") or [])]:
        if isinstance(value, str):
            check_template(value, AGENT_PLACEHOLDERS, where, shown)
    if (data.get("agent") or {}).get("kind") == "command" and codex.get("args") is None:
        raise PolicyError(f"{shown}: 'agent.kind' is command but 'codex.args' is null: give codex.args (the "
                          "agent's arguments) or choose codex, claude or gemini")
    names: dict[str, str] = {}
    for key in LABEL_KEYS:
        name = (data.get("labels") or {}).get(key)
        if not isinstance(name, str):
            continue
        if not name.strip():
            raise PolicyError(f"{shown}: 'labels.{key}' is empty: give every label a name")
        if name.lower() in names:
            raise PolicyError(f"{shown}: 'labels.{key}' and 'labels.{names[name.lower()]}' are both '{name}': "
                              "give each label its own name")
        names[name.lower()] = key
    api = _lookup(data, ("github", "apiUrl"))
    if isinstance(api, str):
        check_api_url(api, f"{shown}: 'github.apiUrl'")


def check_api_url(url: str, where: str) -> str:
    """An http(s) URL with a host (and a valid port); the base without a trailing slash."""
    from urllib.parse import urlsplit

    problem = None
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0-65535
    except ValueError as exc:
        problem = str(exc)
    else:
        if parts.scheme not in ("http", "https"):
            problem = "not an http:// or https:// URL"
        elif not parts.hostname:
            problem = "no host"
        elif any(c.isspace() for c in url.strip()) or parts.query or parts.fragment:
            problem = "spaces, a query or a fragment"
    if problem:
        raise PolicyError(f"{where} {url!r} is not a usable API URL ({problem}): give a base such as "
                          f"{DEFAULT_API_URL} or https://github.example.com/api/v3")
    return url.strip().rstrip("/")
