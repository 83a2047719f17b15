"""The agent's box is default-deny: attacks on its git repository, its view and its uid, each followed by an honest
run on the same repository; and a property test that does not enumerate (random git-state writes, then an honest
run). Real bubblewrap, real git, real HTTP to the hub.

The honest run must publish exactly its own change, built on the true base, under the true policy, and nothing of
the attack may be on any pushed branch or in any public text.
"""

import json
import os
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxo import policy as policy_mod
from cxo.runner import run_issue
from tests.support.git_fixtures import GOOD_REPORT, git, scripted_agent

R = "/repos/acme/widgets"
SECRET = "ghp_" + "AttackerPlanted0Token9" * 2  # shaped like a token; the safety gate would flag it
CANARY = "canary-7f3a9c-not-for-agents"
HONEST = {"write": {"HONEST.md": "honest work\n"}}
GIVE_UP = {"report": {**GOOD_REPORT, "status": "blocked", "summary": "attack done"}}


def true_base(hub_repo) -> str:
    out = subprocess.run(["git", "ls-remote", hub_repo.clone_url, "refs/heads/main"], capture_output=True, text=True)
    return out.stdout.split()[0]


def pushed(hub_repo) -> dict:
    out = subprocess.run(["git", "ls-remote", hub_repo.clone_url], capture_output=True, text=True, check=True)
    return {ref: sha for sha, ref in (line.split("\t") for line in out.stdout.splitlines())}


def public_text(hub_repo) -> str:
    api, parts = hub_repo.api, []
    for issue in api.ok("GET", f"{R}/issues?state=all&per_page=100"):
        parts.append(json.dumps(issue))
        parts.append(json.dumps(api.ok("GET", f"{R}/issues/{issue['number']}/comments?per_page=100")))
    parts.append(json.dumps(api.ok("GET", f"{R}/pulls?state=all&per_page=100")))
    return "\n".join(parts)


def prepare(target, hub_repo, tmp_path, actions, title) -> int:
    """An issue, and the policy (committed and pushed to the base) that runs `actions` as its agent."""
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": title, "labels": ["agent:auto"]})["number"]
    where = tmp_path / f"script-{number}"
    where.mkdir()
    scripted_agent(target, where, actions, extra_policy={"reviewGates": {"quality": {"enabled": False}}})
    return number


def run(target, hub_repo, tmp_path, actions, title):
    return run_issue(target, prepare(target, hub_repo, tmp_path, actions, title))


def honest_run(target, hub_repo, tmp_path) -> dict:
    """An honest run: exactly HONEST.md on the true base, the safety gate in force, nothing else pushed."""
    number = prepare(target, hub_repo, tmp_path, [HONEST, {"report": GOOD_REPORT}], "Honest work")
    base_before = true_base(hub_repo)
    final = run_issue(target, number)
    assert final["status"] == "ok", final.get("blocked")
    assert final["worktree"]["base_sha"] == base_before
    assert true_base(hub_repo) == base_before, "the base branch on the hub moved"
    head = final["publish"]["pushed_sha"]
    check = tmp_path / f"check-{head[:8]}"
    git(tmp_path, "clone", "-q", hub_repo.clone_url, str(check))
    git(check, "fetch", "-q", "origin", head)
    assert git(check, "merge-base", base_before, head).strip() == base_before
    assert git(check, "diff", "--name-only", base_before, head).split() == ["HONEST.md"]
    assert git(check, "show", f"{head}:HONEST.md") == "honest work\n"
    gates = [v["gate"] for v in final["gate"]["verdicts"]]
    assert "safety" in gates, gates  # the true policy's gates ran, not an agent's replacement
    text = public_text(hub_repo)
    assert SECRET not in text and CANARY not in text
    git(check, "fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*")
    for ref in git(check, "for-each-ref", "--format=%(refname)", "refs/remotes/origin").split():
        assert "leak.txt" not in git(check, "ls-tree", "-r", "--name-only", ref), f"attack content on {ref}"
        assert SECRET not in git(check, "log", "-p", "--format=%B", f"{base_before}..{ref}"), ref
    return final


GIT_ATTACK = (
    "set -e; base=$(git rev-parse HEAD); echo " + SECRET + " > leak.txt; "
    "printf 'reviewGates:\\n  order: [report]\\n' > .codex-orchestrator/config.yaml; git add -A; "
    "fake=$(git commit-tree $(git write-tree) -p $base -m fake); git reset -q --hard $base; "
    "git replace -f $base $fake; git update-ref refs/remotes/origin/main $fake; "
    "git notes add -f -m evil $base; echo junk > .git/refs/heads/junk; mkdir -p .git/refs/junkdir; "
    "echo 0000 > .git/refs/junkdir/x; echo /nonexistent/objects >> .git/objects/info/alternates; "
    "echo \"$base\" > .git/info/grafts; echo \"$base\" > .git/shallow"
)


def test_git_state_attacks_leave_the_next_honest_run_clean(target_repo, hub_repo, tmp_path):
    number = prepare(target_repo, hub_repo, tmp_path, [{"sh": GIT_ATTACK}, GIVE_UP], "Attack git state")
    base = true_base(hub_repo)
    attacked = run_issue(target_repo, number)
    assert attacked["status"] == "blocked"
    runner_refs = git(target_repo, "for-each-ref", "--format=%(refname)")
    assert "refs/replace" not in runner_refs and "refs/notes" not in runner_refs and "junk" not in runner_refs
    assert git(target_repo, "rev-parse", "refs/remotes/origin/main").strip() == base
    honest_run(target_repo, hub_repo, tmp_path)


def test_the_agent_sees_only_what_it_is_given(target_repo, hub_repo, tmp_path, monkeypatch):
    state = policy_mod.load(target_repo).state_dir
    outside = [Path(f"/var/tmp/cxo-canary-{os.getpid()}"), Path(f"/srv/cxo-canary-{os.getpid()}")]  # removed below
    canaries = {
        "untracked .env in the checkout": target_repo / ".env",
        "another repository's state": state.parent.parent / "other-repo-0123" / "state" / "runs" / "envelope.json",
        "the runner's HOME": Path(os.environ["HOME"]) / ".canary-credentials",
        "the state of this repository": state / "canary.json",
        # Outside /tmp (which the sandbox replaces by a private one anyway): places only default-deny hides.
        "another checkout's state outside /tmp": outside[0] / "state" / "envelope.json",
        "a service's data": outside[1] / "db.txt",
    }
    for path in canaries.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(CANARY + "\n")
    hub_data = tmp_path / "hub-data"
    admin_token = (hub_data / "admin-token").read_text().strip()
    reads = "; ".join(f"cat {shlex.quote(str(p))}" for p in [*canaries.values(), hub_data / "admin-token",
                                                              hub_data / "hub.sqlite3"])
    loot_cmd = f"( {reads}; ls -la /root /home /run /srv 2>&1; cat /etc/shadow ) > \"$(dirname " \
               "\"$CODEX_ORCHESTRATOR_REPORT_FILE\")/loot.txt\" 2>&1; true"
    try:
        attacked = run(target_repo, hub_repo, tmp_path, [{"sh": loot_cmd}, GIVE_UP], "Attack the view")
    finally:
        for top in outside:
            shutil.rmtree(top, ignore_errors=True)
    loot = (Path(attacked["codex"]["report_path"]).parent / "loot.txt").read_text(errors="replace")
    assert CANARY not in loot, loot
    assert admin_token not in loot  # the hub's admin token and database: not in the view
    assert "No such file or directory" in loot  # the places are not there at all, not merely unreadable
    honest_run(target_repo, hub_repo, tmp_path)


SETID = ("cp /bin/ls ./ls-copy; chmod 4755 ./ls-copy; echo chmod=$?; cp /bin/ls \"$HOME/ls-copy\"; "
         "chmod u+s,g+s \"$HOME/ls-copy\"; echo chmod-home=$?; id -u; "
         "python3 -c \"import os; os.close(os.open('made-setuid', os.O_CREAT | os.O_WRONLY, 0o6755))\"; "
         "echo open=$?; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status")


def _setid_files(root: Path) -> list[str]:
    found = []
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            mode = os.lstat(os.path.join(dirpath, name)).st_mode
            if not stat.S_ISLNK(mode) and mode & (stat.S_ISUID | stat.S_ISGID):
                found.append(os.path.join(dirpath, name))
    return found


def test_never_uid_0_and_no_setid_file_appears_on_the_host(target_repo, hub_repo, tmp_path):
    loot = [{"sh": f"( {SETID} ) > \"$(dirname \"$CODEX_ORCHESTRATOR_REPORT_FILE\")/loot.txt\" 2>&1; true"}]
    attacked = run(target_repo, hub_repo, tmp_path, loot + [{"report": GOOD_REPORT}], "Attack with setuid")
    run_dir = Path(attacked["codex"]["report_path"]).parent
    text = (run_dir / "loot.txt").read_text()
    lines = text.splitlines()
    assert "0" not in lines, text  # `id -u` inside is never 0, also when the runner is root
    assert "CapEff:\t0000000000000000" in text and "NoNewPrivs:\t1" in text
    assert "chmod=1" in text and "chmod-home=1" in text  # refused by the seccomp filter
    tree = Path(attacked["worktree"]["path"])
    assert _setid_files(tree) == [] and _setid_files(run_dir.parent) == []
    honest_run(target_repo, hub_repo, tmp_path)


@pytest.mark.parametrize("forgery", ["trailer", "identity"])
def test_the_runners_words_are_the_runners(forgery, target_repo, hub_repo, tmp_path):
    who = "-c user.name=cxo -c user.email=cxo@users.noreply.github.com" if forgery == "identity" else ""
    body = "forged\n\nCxo-Run: 20260101T000000Z-abcdef" if forgery == "trailer" else "in the runner's name"
    env = "GIT_AUTHOR_NAME=cxo GIT_AUTHOR_EMAIL=cxo@users.noreply.github.com " if forgery == "identity" else ""
    sh = f"echo x > F.md && git add F.md && {env}git {who} commit -q -m {shlex.quote(body)}"
    attacked = run(target_repo, hub_repo, tmp_path, [{"sh": sh}, {"report": GOOD_REPORT}], f"Forge {forgery}")
    assert attacked["status"] == "blocked", attacked.get("publish")
    assert ("runner-reserved trailer" if forgery == "trailer" else "runner's identity") in attacked["blocked"]["reason"]
    assert not [r for r in pushed(hub_repo) if "forge" in r]
    honest_run(target_repo, hub_repo, tmp_path)


# --- the property: whatever an agent writes to its repository, the next honest run is exact --------------------

REFS = st.sampled_from(["refs/heads/main", "refs/remotes/origin/main", "refs/replace/BASE", "refs/notes/commits",
                        "refs/tags/v1", "refs/heads/agent/issue-9-x", "refs/stash", "refs/cxo/ingest/x",
                        "refs/remotes/origin/HEAD", "refs/heads/a/b/c"])
CONFIG = st.sampled_from([
    ("core.hooksPath", "/tmp/h"), ("core.fsmonitor", "touch $MARK/fsmonitor"), ("core.worktree", "/"),
    ("core.bare", "true"), ("core.sshCommand", "touch $MARK/ssh"), ("core.pager", "touch $MARK/pager"),
    ("core.attributesFile", "/etc/passwd"), ("core.excludesFile", "/etc/passwd"), ("core.repositoryformatversion", "9"),
    ("include.path", "/etc/passwd"), ("includeIf.gitdir:/.path", "/etc/passwd"),
    ("url.http://127.0.0.1:9/.insteadOf", "http://"), ("filter.x.clean", "touch $MARK/filter"),
    ("filter.x.smudge", "touch $MARK/smudge"), ("diff.external", "touch $MARK/diff"),
    ("remote.origin.url", "http://127.0.0.1:9/x.git"), ("remote.origin.uploadpack", "touch $MARK/up"),
    ("http.proxy", "http://127.0.0.1:9"), ("http.extraHeader", "X-Evil: 1"), ("uploadpack.packObjectsHook",
                                                                               "touch $MARK/hook"),
    ("extensions.worktreeConfig", "true"), ("gc.auto", "1")])
WRITE = st.one_of(
    st.tuples(st.just("update-ref"), REFS, st.sampled_from(["BASE", "FAKE"])),
    st.tuples(st.just("config"), CONFIG),
    st.tuples(st.just("file"), st.sampled_from([".git/info/grafts", ".git/shallow", ".git/objects/info/alternates",
                                                ".git/info/attributes", ".git/info/exclude", ".git/packed-refs",
                                                ".git/HEAD", ".git/refs/heads/junk", ".git/hooks/post-checkout",
                                                ".git/hooks/reference-transaction", ".git/index", ".git/config",
                                                ".gitattributes"]),
              st.sampled_from(["BASE\n", "/nonexistent\n", "* filter=x -diff\n", "junk\n", "ref: refs/heads/x\n",
                               "#!/bin/sh\ntouch $MARK/hook\n", ""])))


def _shell(write, mark: Path) -> str:
    kind = write[0]
    sub = "sed -e \"s/BASE/$base/g; s/FAKE/$fake/g\""
    if kind == "update-ref":
        ref = write[1].replace("BASE", "$base")
        value = "$base" if write[2] == "BASE" else "$fake"
        return f"git update-ref {ref} {value} 2>/dev/null || true"
    if kind == "config":
        key, value = write[1]
        return f"git config {shlex.quote(key)} {shlex.quote(value.replace('$MARK', str(mark)))} 2>/dev/null || true"
    path, text = write[1], write[2].replace("$MARK", str(mark))
    return (f"mkdir -p $(dirname {path}); printf %s {shlex.quote(text)} | {sub} > {path}; "
            f"chmod +x {path} 2>/dev/null || true")


def _attack(writes, mark: Path) -> str:
    prelude = ("base=$(git rev-parse HEAD); echo " + SECRET + " > leak.txt; git add -A; "
               "fake=$(git commit-tree $(git write-tree) -p $base -m fake); git reset -q --hard $base; ")
    return prelude + "; ".join(_shell(w, mark) for w in writes) + "; true"


@settings(max_examples=int(os.environ.get("CXO_PROPERTY_EXAMPLES", "6")), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(writes=st.lists(WRITE, min_size=1, max_size=8))
def test_property_any_repository_writes_then_an_honest_run_publishes_exactly_the_honest_change(
        writes, target_repo, hub_repo, tmp_path):
    """One repository across all examples: attacks accumulate over time, as on a real runner."""
    mark = tmp_path / "marks"
    mark.mkdir(exist_ok=True)  # on the host: only a runner-side process could write here
    run(target_repo, hub_repo, tmp_path, [{"sh": _attack(writes, mark)}, GIVE_UP], "Random writes")
    honest_run(target_repo, hub_repo, tmp_path)
    assert not list(mark.iterdir()), "a command the agent configured ran outside its box"
    runner_refs = git(target_repo, "for-each-ref", "--format=%(refname)")
    assert "refs/replace" not in runner_refs and "refs/notes" not in runner_refs


def test_a_pointer_planted_inside_a_tree_never_chooses_the_runners_git_directory(target_repo, hub_repo, tmp_path):
    """The runner finds its git directory for a tree from a pointer beside the tree (in the workspace root, which
    no sandbox shows). A pointer the agent plants inside its tree, for a subdirectory, must not win."""
    from cxo.gitutil import runner_view

    plant = "mkdir -p sub/inner && printf '%s\\n' \"$PWD/.git\" > sub/.inner.runner-gitdir"
    attacked = run(target_repo, hub_repo, tmp_path, [{"sh": plant}, GIVE_UP], "Plant a pointer")
    tree = Path(attacked["worktree"]["path"])
    assert (tree / "sub" / ".inner.runner-gitdir").is_file()
    view = runner_view(tree / "sub" / "inner")
    assert view["GIT_WORK_TREE"] == str(tree) and ".git/worktrees/" in view["GIT_DIR"], view
