"""PR upkeep for the poll (cxo-status, the daemon, Actions' work list): which cxo PRs need an update round (their
base moved, rounds/update.py) or a CI fix round (trusted checks failed, rounds/checks.py), beside feedback.

Cheap by design, since it runs on every poll over every open cxo PR:
- one conditional listing of open PRs (heads and bases; 304 and free while none changed);
- base heads from one `git ls-remote` (git, not the REST API); a PR whose base head is already in it, or
  whose (head, base) pair was handled or judged before, costs nothing more: verdicts are kept per pair in the
  state directory. Only a new pair is fetched and merged (`git merge-tree`, no work tree);
- check runs (and the combined status when contexts are trusted): one conditional read each per PR head.
"""

from __future__ import annotations

import json
import os

from ..gitutil import git, remote
from . import checks, update


def _cache(policy) -> tuple[dict, object]:
    path = policy.state_dir / "upkeep.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    return data if isinstance(data, dict) else {}, path


def _save(path, data: dict) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dict(list(data.items())[-2000:])))
    os.replace(tmp, path)


def base_heads(policy, bases: set[str]) -> dict[str, str]:
    """The remote's head of each base branch, by one `git ls-remote`."""
    from ..connect import take_token

    if not bases:
        return {}
    out = remote(policy.target, "ls-remote", policy.clone_url, [f"refs/heads/{b}" for b in sorted(bases)],
                 token=take_token())
    heads = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.startswith("refs/heads/"):
            heads[ref[len("refs/heads/"):]] = sha
    return heads


def annotate(policy, tracker, items: list[dict], say=lambda message: None) -> list[dict]:
    """`items` (feedback.feedback_state's) with `update` and `ci` (what a round would act on, or None); an
    item that needs one and has rounds left becomes eligible with the reason."""
    if not items:
        return items
    when = policy["feedback"].get("updateWhen", "conflict")
    trusted = policy["feedback"].get("ci") or {}
    numbers = {item["pull"] for item in items}
    pulls = {p["number"]: p for p in tracker.list_pulls() if p["number"] in numbers}
    heads = base_heads(policy, {p["base"]["ref"] for p in pulls.values()}) if when != "never" else {}
    cache, path = _cache(policy)
    changed = False
    for item in items:
        pull = pulls.get(item["pull"])
        item["update"] = item["ci"] = None
        if pull is None:
            continue
        head, base = pull["head"]["sha"], heads.get(pull["base"]["ref"])
        if base and f"{head}:{base}" not in item.get("handled_updates", []):
            key = f"{when}:{head}:{base}"
            if key not in cache:
                cache[key] = _judge(policy, pull, head, base)
                changed = True
            item["update"] = cache[key]
        if item["update"] is None and not item["eligible"] and (trusted.get("trustedApps")
                                                                 or trusted.get("trustedContexts")):
            found = checks.failing(policy, tracker, pull, [])
            if found is not None and found["head_sha"] not in item.get("handled_ci", []):
                item["ci"] = {"head_sha": found["head_sha"], "failing": [c["name"] for c in found["failing"]]}
        _eligible(item)
    if changed:
        _save(path, cache)
    return items


def _judge(policy, pull: dict, head: str, base: str) -> dict | None:
    """update.need for one new (head, base) pair: both fetched first when missing here."""
    from ..connect import take_token
    from ..steps.worktree import repo_lock

    target = policy.target
    missing = [sha for sha in (head, base) if git(target, "cat-file", "-t", sha, retcode=None).strip() != "commit"]
    if missing:
        with repo_lock(policy):
            remote(target, "fetch", policy.clone_url, [f"refs/heads/{pull['base']['ref']}",
                                                       f"refs/heads/{pull['head']['ref']}"],
                   "--quiet", "--no-tags", token=take_token())
    found = update.need(policy, target, head, base, [])
    return None if found is None else {"head_sha": head, "base_sha": base, "conflicts": found["conflicts"]}


def _eligible(item: dict) -> None:
    if item["eligible"] or not (item["update"] or item["ci"]):
        return
    if item["rounds"] >= item.get("max_rounds", 0):
        item["reason"] += "; " + ("the base moved" if item["update"] else "checks fail") + \
            ", but the PR had its rounds (feedback.maxRounds)"
        return
    item["eligible"] = True
    if item["update"]:
        conflicts = item["update"]["conflicts"]
        item["reason"] = "the base moved: " + (f"{len(conflicts)} file(s) in conflict" if conflicts
                                               else "behind it (feedback.updateWhen: behind)")
    else:
        item["reason"] = f"failing checks on its head: {', '.join(item['ci']['failing'])}"
