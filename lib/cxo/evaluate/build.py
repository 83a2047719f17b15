"""`cxo-eval build`: a repository's solved issues as evaluation tasks.

A task is a closed issue that a merged pull request fixed ("Fixes #N", "Closes #N", "Resolves #N" in its
title or body, as GitHub links them) and whose change touched test files (reviewGates.quality's
testFilePatterns). Its base is the PR's merge base; its test_patch the PR's test-side changes; FAIL_TO_PASS
and PASS_TO_PASS come from RUNNING the tests (the policy's testCommand, in the sandbox) on the base with the
test patch and on the PR's head.
"""

import re
import shutil
from pathlib import Path

from ..gitutil import GitError, export_tree, git
from ..globs import match
from . import testrun

CLOSES = re.compile(r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#(\d+)\b", re.I)
SOURCE = ("the issue's body as it is now: GitHub's REST API (issues, timeline) keeps no history of body edits, "
          "so an edit made after the fix began is included; the title as it stood when the fix's PR was opened "
          "(from the issue's `renamed` events)")


def title_then(title: str, events: list[dict], since: str) -> str:
    """The issue's title as it stood at `since` (ISO time): the `from` of the first rename after it, else now's."""
    for event in sorted(events, key=lambda e: e.get("created_at") or ""):
        rename = event.get("rename") or {}
        if event.get("event") == "renamed" and (event.get("created_at") or "") > since and rename.get("from"):
            return rename["from"]
    return title


def _merged_at(item: dict) -> str:
    """When a PR was merged ("" if not), from a pull or from an issue listing's `pull_request` part."""
    return item.get("merged_at") or (item.get("pull_request") or {}).get("merged_at") or ""


def closed_by(pulls: list[dict]) -> dict[int, dict]:
    """{issue number: the latest merged PR that names it with a closing keyword}."""
    found: dict[int, dict] = {}
    for pull in sorted((p for p in pulls if _merged_at(p)), key=lambda p: (_merged_at(p), p["number"])):
        for number in CLOSES.findall(f"{pull.get('title') or ''}\n{pull.get('body') or ''}"):
            found[int(number)] = pull
    return found


def _has(target: Path, sha: str) -> bool:
    return bool(sha) and git(target, "cat-file", "-t", sha, retcode=None).strip() == "commit"


def fix_range(policy, target: Path, pull: dict, token: str | None) -> tuple[str, str] | None:
    """(base, head) of a merged PR: its merge base and its head (fetched as refs/pull/N/head when the branch is
    gone), or the merge commit's first parent and the merge commit for a squash whose head is gone."""
    from ..gitutil import remote

    head, merged = (pull.get("head") or {}).get("sha"), pull.get("merge_commit_sha")
    if head and not _has(target, head):
        try:
            remote(target, "fetch", policy.clone_url, f"refs/pull/{pull['number']}/head", "-q", token=token)
        except GitError:
            pass
    if merged and _has(target, merged):
        parent = git(target, "rev-parse", f"{merged}^1", retcode=None).strip()
        if head and _has(target, head) and parent:
            base = git(target, "merge-base", parent, head, retcode=None).strip()
            if base:
                return base, head
        if parent:
            return parent, merged
    if head and _has(target, head) and (pull.get("base") or {}).get("sha"):
        base_sha = pull["base"]["sha"]
        if _has(target, base_sha):
            return git(target, "merge-base", base_sha, head).strip(), head
    return None


def is_test_side(path: str, quality: dict) -> bool:
    return match(path, quality["testFilePatterns"]) or match(path, quality["testChangedPathGlobs"])


def build(policy, say, since: str | None = None, labels: list[str] | None = None, limit: int | None = None,
          scratch: Path | None = None) -> list[dict]:
    """The tasks of the policy's repository (see the module docstring), newest closed first up to `limit`,
    returned oldest first."""
    from ..connect import take_token, tracker_for
    from ..gitutil import remote

    target = policy.target
    owner, repo = policy.require_repo()
    quality = policy["reviewGates"]["quality"]
    token = take_token()
    tracker = tracker_for(policy, require_token=False)
    say(f"fetching {owner}/{repo}")
    remote(target, "fetch", policy.clone_url, f"+refs/heads/*:refs/remotes/{policy.remote}/*", "-q", token=token)
    items = tracker.list_issues(state="closed", since=since)
    pulls = [i for i in items if i.get("pull_request")]
    issues = [i for i in items if not i.get("pull_request")]
    wanted = {name.lower() for name in labels or []}
    if wanted:
        issues = [i for i in issues if wanted <= {lab["name"].lower() for lab in i.get("labels") or []}]
    if since:
        issues = [i for i in issues if (i.get("closed_at") or "") >= since]
    fixes = closed_by(pulls)
    issues.sort(key=lambda i: (i.get("closed_at") or "", i["number"]), reverse=True)
    scratch = Path(scratch or policy.state_dir / "eval-build")
    tasks: list[dict] = []
    try:
        for issue in issues:
            if limit and len(tasks) >= limit:
                break
            number = issue["number"]
            link = fixes.get(number)
            if link is None:
                continue
            pull = tracker.get_pull(link["number"])
            if not pull.get("merged_at"):
                continue
            task = _task(policy, tracker, target, owner, repo, issue, pull, quality, token, scratch / str(number), say)
            if task is not None:
                tasks.append(task)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    tasks.sort(key=lambda t: t["issue_number"])
    return tasks


def _task(policy, tracker, target, owner, repo, issue, pull, quality, token, work: Path, say) -> dict | None:
    number = issue["number"]
    span = fix_range(policy, target, pull, token)
    if span is None:
        say(f"#{number}: skipped: the commits of PR #{pull['number']} are not in {target}")
        return None
    base, head = span
    changed = [p for p in git(target, "diff", "--name-only", "--no-renames", base, head).splitlines() if p]
    tests = [p for p in changed if is_test_side(p, quality)]
    if not any(match(p, quality["testFilePatterns"]) for p in tests):
        say(f"#{number}: skipped: PR #{pull['number']} changed no test file (testFilePatterns)")
        return None
    others = [p for p in changed if p not in tests]
    test_patch = git(target, "diff", "--binary", "--no-renames", base, head, "--", *tests)
    patch = git(target, "diff", "--binary", "--no-renames", base, head, "--", *others) if others else ""
    say(f"#{number}: running the tests of PR #{pull['number']} on its base {base[:10]} and its head {head[:10]}")
    shutil.rmtree(work, ignore_errors=True)
    before, after = work / "base", work / "head"
    export_tree(target, base, before)
    export_tree(target, head, after)
    problem = testrun.apply_test_patch(before, test_patch, {}) or \
        testrun.setup(policy, before, work / "logs", "base") or testrun.setup(policy, after, work / "logs", "head")
    if problem:
        say(f"#{number}: skipped: {problem}")
        return None
    patterns = quality["testFilePatterns"]
    was = testrun.results(policy, before, testrun.test_files(before, patterns), work / "logs", "base")
    now = testrun.results(policy, after, testrun.test_files(after, patterns), work / "logs", "head")
    shutil.rmtree(work, ignore_errors=True)
    fail_to_pass = sorted(t for t, ok in now.items() if ok and not was.get(t, False))
    pass_to_pass = sorted(t for t, ok in now.items() if ok and was.get(t, False))
    if not fail_to_pass:
        say(f"#{number}: skipped: no test fails on the base with the test patch and passes with PR #{pull['number']}")
        return None
    say(f"#{number}: task with {len(fail_to_pass)} FAIL_TO_PASS, {len(pass_to_pass)} PASS_TO_PASS")
    title = title_then(issue["title"], tracker.list_issue_events(number), pull.get("created_at") or "")
    return {
        "instance_id": f"{owner}__{repo}-{number}",
        "repo": f"{owner}/{repo}",
        "base_commit": base,
        "problem_statement": f"{title}\n{issue.get('body') or ''}".rstrip() + "\n",
        "problem_statement_source": SOURCE,
        "hints_text": "",
        "created_at": pull.get("created_at") or "",
        "patch": patch,
        "test_patch": test_patch,
        "FAIL_TO_PASS": fail_to_pass,
        "PASS_TO_PASS": pass_to_pass,
        "environment_setup_commit": base,
        "version": "",
        "repo_path": str(target),
        "issue_number": number,
        "pull_number": pull["number"],
    }
