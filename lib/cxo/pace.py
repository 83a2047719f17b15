"""Pacing work to the reviewers: no new issue starts while too many cxo pull requests wait for review.

`concurrency.maxOpenPullRequests` (per repository) and `concurrency.maxOpenPullRequestsPerOwner` (per CODEOWNERS
owner) count the open cxo PRs: open pull requests written by a runner login whose body carries
`<!-- cxo:report issue=N -->` (draft or marked ready: both wait for a reviewer). The count comes from GitHub's open
issue listing (which holds the PRs), the listing cxo-status and the daemon already make, so every host sees the
same number and the limit releases as soon as a PR is merged or closed.

The per-owner limit, kept simple: the owners of a waiting PR are the CODEOWNERS owners of the files it changed
(one conditional listing per PR: an unchanged PR costs no rate limit); CODEOWNERS is read from the fetched base
commit, like the policy (`.github/CODEOWNERS`, `CODEOWNERS`, then `docs/CODEOWNERS`; gitignore-style patterns, the
last matching line wins). Which files an issue will change is unknown before its run, so while any owner already
has that many cxo PRs waiting, no new issue starts.

Only new issues are held back: feedback rounds, resumed runs, `--continue` and the children of a running tree
work on what was already started.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


@dataclass
class Pace:
    limit: int | None
    owner_limit: int | None
    pulls: list[int] = field(default_factory=list)  # the open cxo PRs, by number
    owners: dict[str, list[int]] = field(default_factory=dict)  # CODEOWNERS owner -> open cxo PRs touching theirs

    def full_owners(self) -> list[str]:
        if self.owner_limit is None:
            return []
        return sorted(o for o, pulls in self.owners.items() if len(pulls) >= self.owner_limit)

    def room(self) -> int | None:
        """How many new issues may start now (None: no limit)."""
        rooms = []
        if self.limit is not None:
            rooms.append(max(0, self.limit - len(self.pulls)))
        if self.full_owners():
            rooms.append(0)
        return min(rooms) if rooms else None

    def reason(self, ahead: int = 0) -> str:
        """Why a new issue waits; `ahead`: older eligible issues that take the places left."""
        full = self.full_owners()
        if self.limit is not None and len(self.pulls) >= self.limit or not full:
            why = f"waiting for reviewers: {len(self.pulls)} of {self.limit} cxo PRs open"
            if ahead:
                why += f", the {ahead} place(s) left go to older issues"
            return why
        owner = full[0]
        shown = ", ".join(f"#{n}" for n in self.owners[owner])
        return (f"waiting for reviewers: {owner} has {len(self.owners[owner])} of {self.owner_limit} cxo PRs open "
                f"({shown})")

    def to_json(self) -> dict:
        return {"maxOpenPullRequests": self.limit, "maxOpenPullRequestsPerOwner": self.owner_limit,
                "open": self.pulls, "owners": self.owners, "fullOwners": self.full_owners(), "room": self.room()}


def limits(policy) -> tuple[int | None, int | None]:
    section = policy["concurrency"]
    return section.get("maxOpenPullRequests"), section.get("maxOpenPullRequestsPerOwner")


def waiting_pulls(issues: list[dict], logins: set[str]) -> list[dict]:
    """Open cxo PRs (draft or not) in the open issue listing, by number."""
    from .github.feedback import is_cxo_pull

    return sorted((i for i in issues if i.get("pull_request") is not None and i.get("state", "open") == "open"
                   and not (i["pull_request"] or {}).get("merged_at") and is_cxo_pull(i, logins)),
                  key=lambda i: i["number"])


def state(policy, tracker, issues: list[dict] | None = None) -> Pace | None:
    """The pace now, or None when the policy sets no limit (then not one request is made)."""
    from .github.feedback import REPORT

    limit, owner_limit = limits(policy)
    if limit is None and owner_limit is None:
        return None
    issues = tracker.list_issues(state="open") if issues is None else issues
    pace = Pace(limit, owner_limit)
    if not any(i.get("pull_request") is not None and REPORT.search(i.get("body") or "") for i in issues):
        return pace
    from .connect import runner_logins

    pulls = waiting_pulls(issues, runner_logins(policy, tracker))
    pace.pulls = [p["number"] for p in pulls]
    if owner_limit is not None and pulls:
        rules = codeowners(policy)
        for pull in pulls:
            files = [f.get("filename") or "" for f in tracker.list_pull_files(pull["number"])]
            for owner in sorted({o for f in files for o in owners_of(f, rules)}):
                pace.owners.setdefault(owner, []).append(pull["number"])
    return pace


def hold(pace: Pace | None, numbers: list[int]) -> tuple[list[int], dict[int, str]]:
    """Split new issues (oldest first) into those that may start and those held back, with the reason."""
    room = pace.room() if pace is not None else None
    if room is None:
        return list(numbers), {}
    started = list(numbers[:room])
    return started, {n: pace.reason(ahead=room) for n in numbers[room:]}


def check_start(policy, tracker) -> tuple[str | None, Pace | None]:
    """For a new issue about to be claimed: the reason it must wait, else None."""
    pace = state(policy, tracker)
    if pace is None or pace.room() is None or pace.room() > 0:
        return None, pace
    return pace.reason(), pace


# --- CODEOWNERS -------------------------------------------------------------------------------------------------


def parse_codeowners(text: str) -> list[tuple[str, list[str]]]:
    """(pattern, owners) per rule line, in file order; comments and blank lines left out. A rule without owners
    stays: it makes its files owned by nobody (the last match wins)."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split("#", 1)[0].split() if " #" in line else line.split()
        if words:
            rules.append((words[0], [w for w in words[1:] if w.startswith("@") or "@" in w]))
    return rules


def owners_of(path: str, rules: list[tuple[str, list[str]]]) -> list[str]:
    """The owners of `path`: the last matching rule's (gitignore-style patterns)."""
    from . import globs

    for pattern, owners in reversed(rules):
        if globs.match(path, [pattern]):
            return owners
    return []


def codeowners(policy) -> list[tuple[str, list[str]]]:
    """The CODEOWNERS rules of the fetched base commit (the working copy when there is none, as for the policy)."""
    for rel in CODEOWNERS_PATHS:
        text = _read(policy, rel)
        if text is not None:
            return parse_codeowners(text)
    return []


def _read(policy, rel: str) -> str | None:
    from .gitutil import git

    if policy.source:
        listed = git(policy.target, "ls-tree", policy.source, "--", rel, retcode=None).strip()
        meta = listed.split("\t")[0].split(" ")
        if not listed.endswith("\t" + rel) or meta[1] != "blob" or meta[0] == "120000":
            return None
        return git(policy.target, "cat-file", "blob", f"{policy.source}:{rel}", retcode=None)
    path = policy.target / rel
    if path.is_symlink() or not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
