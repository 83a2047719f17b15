"""cxo-setup: write the repository's `.codex-orchestrator/` policy and prompts, and prepare the labels.

Setup never overwrites a file the user edited: it remembers the sha256 of what it
wrote (`.setup-manifest.json`) and only replaces files still as it left them,
unless asked (--force for the policy, --replace-package-skills for prompts).
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import policy as policy_mod
from .gitutil import remote_repo
from .resources import entries, prompts_dir

LABELS = {
    "auto": ("0e8a16", "cxo: authorized for autonomous implementation"),
    "planAuto": ("1d76db", "cxo: authorized for planning and issue-tree execution"),
    "planApproved": ("0e8a16", "cxo: a maintainer approved the issue tree's posted plan"),
    "child": ("c5def5", "cxo: child issue of an autonomous parent tree"),
    "running": ("fbca04", "cxo: a runner is working on this issue"),
    "blocked": ("d93f0b", "cxo: the runner needs maintainer input"),
    "manual": ("bfdadc", "cxo: reserved for human work"),
    "review": ("5319e7", "cxo: a draft PR waits for human review"),
}
# cxo writes no runtime file here: worktrees and run state live under $XDG_STATE_HOME/cxo/. Ignored are only the
# directories the seed (codex-orchestrator 0.1.21) kept here by default, should a seed run have left them.
GITIGNORE = ("# cxo keeps worktrees and run state outside the repository, in ~/.local/state/cxo/\n"
             "# ($XDG_STATE_HOME/cxo/). The seed (codex-orchestrator 0.1.21) kept them here;\n"
             "# its left-overs stay out of git:\n"
             "workspaces/\nstate/\n")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Plan:
    write: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # user-edited files left alone
    unchanged: list[str] = field(default_factory=list)
    labels_to_create: list[str] = field(default_factory=list)
    labels_present: list[str] = field(default_factory=list)
    owner: str | None = None
    repo: str | None = None

    def to_json(self) -> dict:
        return self.__dict__


def policy_text(owner: str | None, repo: str | None, api_url: str | None) -> str:
    text = policy_mod.defaults_text()
    for key, value in (("owner", owner), ("repo", repo), ("apiUrl", api_url)):
        if value:
            text = re.sub(rf"^  {key}: null.*$", f"  {key}: {json.dumps(value)}", text, count=1, flags=re.M)
    # A policy cxo-setup generates asks for plan approval (the built-in default stays off).
    return re.sub(r"^  requireApproval: false$", "  requireApproval: true", text, count=1, flags=re.M)


def desired_files(target: Path, owner, repo, api_url) -> dict[str, tuple[str, str]]:
    """relative path -> (content, kind) where kind is policy | prompt | other."""
    files = {}
    existing = policy_mod.find_policy_file(target)
    if existing is None or existing.name != "config.json":
        files["config.yaml"] = (policy_text(owner, repo, api_url), "policy")
    for prompt in entries(prompts_dir(), ".md"):
        files[f"prompts/{prompt.name}"] = (prompt.read_text(encoding="utf-8"), "prompt")
    files[".gitignore"] = (GITIGNORE, "other")
    return files


def plan(target: Path, owner=None, repo=None, api_url=None, force=False, replace_prompts=False) -> Plan:
    base = target / policy_mod.POLICY_DIR
    manifest_path = base / ".setup-manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    found = remote_repo(target)
    result = Plan(owner=owner or (found[0] if found else None), repo=repo or (found[1] if found else None))
    for rel, (content, kind) in desired_files(target, result.owner, result.repo, api_url).items():
        path = base / rel
        if not path.exists():
            result.write.append(rel)
            continue
        current = path.read_text()
        if current == content:
            result.unchanged.append(rel)
        elif (manifest.get(rel) == sha(current) or (kind == "policy" and force)
              or (kind == "prompt" and replace_prompts)):
            result.write.append(rel)
        else:
            result.kept.append(rel)
    return result


def apply(target: Path, result: Plan, api_url=None) -> None:
    base = target / policy_mod.POLICY_DIR
    manifest_path = base / ".setup-manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    files = desired_files(target, result.owner, result.repo, api_url)
    for rel in result.write:
        content = files[rel][0]
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        manifest[rel] = sha(content)
    for rel in result.unchanged:
        manifest.setdefault(rel, sha(files[rel][0]))
    base.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def plan_labels(tracker, label_names: dict, result: Plan) -> None:
    present = {lab["name"].lower() for lab in tracker.list_repo_labels()}
    for name in label_names.values():
        (result.labels_present if name.lower() in present else result.labels_to_create).append(name)


def create_labels(tracker, label_names: dict, result: Plan, say, label_meta: dict | None = None) -> None:
    """Create the missing labels, with the policy's color and description when it gives them (the seed's
    label objects), else cxo's."""
    by_name = {name: key for key, name in label_names.items()}
    for name in result.labels_to_create:
        key = by_name[name]
        color, description = LABELS[key]
        given = (label_meta or {}).get(key, {})
        color, description = given.get("color", color).lower(), given.get("description", description)
        tracker.create_label(name, color, description)
        say(f"created label {name}")
