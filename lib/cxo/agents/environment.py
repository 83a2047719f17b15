"""The environment an agent (or a runner-run check) gets: an allow-list, never the runner's credentials."""

import os
import re
import shutil
from pathlib import Path

# PATH keeps the user's order and VIRTUAL_ENV passes through: `python` in checks, tdd runs and agents is the
# target project's interpreter (the first on the user's PATH, an activated venv), never the one cxo runs on.
BASE_NAMES = ("PATH", "LANG", "LANGUAGE", "TERM", "TZ", "USER", "LOGNAME", "SHELL", "TMPDIR", "NO_COLOR",
              "VIRTUAL_ENV")
# Model credentials are the agent's own, not GitHub's: the built-in adapters pass theirs through (KEY_ENV).
MODEL_KEYS = ("OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT")
NEVER = re.compile(r"^(GITHUB_TOKEN|GH_TOKEN|GH_ENTERPRISE_TOKEN|GITHUB_ENTERPRISE_TOKEN)$|"
                   r"(TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE_KEY|CREDENTIAL)", re.I)


def safe_names(names, say=None) -> list[str]:
    """Pass-through names from the policy, minus anything that looks like a credential."""
    kept = []
    for name in names:
        if NEVER.search(name):
            if say:
                say(f"refusing to pass {name} to the agent: it looks like a credential")
            continue
        kept.append(name)
    return kept


def build(home: Path, passthrough=(), say=None, model_keys: bool | tuple = False,
          source: dict | None = None) -> dict:
    """An allow-listed environment with an isolated HOME under `home`."""
    source = os.environ if source is None else source
    env = {name: source[name] for name in BASE_NAMES if name in source}
    env.update({name: source[name] for name in source if name.startswith("LC_")})
    for name in safe_names(passthrough, say):
        if name in source:
            env[name] = source[name]
    if model_keys:  # True: the Codex CLI's; or the names an agent kind takes (lib/cxo/agents/__init__.py)
        names = MODEL_KEYS if model_keys is True else model_keys
        env.update({name: source[name] for name in names if name in source})
    env.setdefault("PATH", os.defpath)
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env.setdefault("LANG", "C.UTF-8")
    env["GIT_TERMINAL_PROMPT"] = "0"
    # Byte-code caches would show up as untracked files in the change set.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    return env


def codex_home(home: Path, source: dict | None = None) -> Path:
    """An isolated CODEX_HOME that keeps a logged-in Codex working: copy only auth.json and config.toml."""
    source = os.environ if source is None else source
    target = home / ".codex"
    target.mkdir(parents=True, exist_ok=True)
    user_home = Path(source.get("CODEX_HOME") or Path(source.get("HOME", "~")).expanduser() / ".codex")
    for name in ("auth.json", "config.toml"):
        if (user_home / name).is_file():
            shutil.copy2(user_home / name, target / name)
    return target
