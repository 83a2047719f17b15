"""Bad input to every executable: the documented exit status, exactly one line on stderr, no traceback, no crash
log, and nothing written (not to GitHub, not to the checkout)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cxo.gitutil import token_env
from tests.support.git_fixtures import git, write_policy

BIN = Path(sys.executable).parent
R = "/repos/acme/widgets"


def commit_policy_bytes(target: Path, data: bytes | None = None, make=None) -> None:
    """Put raw bytes (or whatever `make(path)` creates) at the policy path, commit it and push it to main."""
    path = target / ".codex-orchestrator" / "config.yaml"
    path.unlink()
    if make:
        make(path)
    else:
        path.write_bytes(data)
    git(target, "add", "-A", ".codex-orchestrator")
    git(target, "commit", "-q", "-m", "bad policy")
    url = git(target, "remote", "get-url", "origin").strip()
    git(target, "push", "-q", url, "HEAD:refs/heads/main", env=token_env(os.environ["GITHUB_TOKEN"]))
    git(target, "fetch", "-q", "origin")


def policy_text(text: str, encoding: str = "utf-8"):
    def setup(target, hub_repo):
        base = f"github:\n  owner: acme\n  repo: widgets\n  apiUrl: {hub_repo.url}\n"
        commit_policy_bytes(target, (base + text).encode(encoding))
    return setup


def policy_path(kind: str):
    def make(path: Path):
        if kind == "directory":
            path.mkdir()
            (path / "inside.yaml").write_text("labels: {}\n")
        else:
            path.symlink_to("nowhere.yaml")

    def setup(target, hub_repo):
        commit_policy_bytes(target, make=make)
    return setup


def bad_prompt(target, hub_repo):
    prompt = target / ".codex-orchestrator" / "prompts" / "implement.md"
    prompt.parent.mkdir(parents=True, exist_ok=True)
    prompt.write_text("Work on ${issueNumber} in ${worktree}.\n")
    policy_text("")(target, hub_repo)


def no_api_url(target, hub_repo):
    write_policy(target, {"github": {"owner": "acme", "repo": "widgets"}})


def shallow_clone(target, hub_repo, tmp):
    source = tmp / "shallow"
    git(tmp, "clone", "-q", "--depth", "1", f"file://{target}", str(source))
    return source


def deep_file(tmp) -> Path:
    path = tmp / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    (tmp / "long.json").write_text('{"version": ' + "1" * 5000 + "}")
    return path


def binary_file(tmp) -> Path:
    path = tmp / "binary.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\xff\xfe")
    return path


DEEP = "[" * 100_000 + "]" * 100_000
# name: (argv with {target} {issue} {tmp} {deep} {binary} {shallow}, stdin, setup, env, exit status, in stderr)
CASES = {
    # arguments
    "run: Arabic-Indic digit as issue": (["cxo-run", "--issue", "\u0663"], None, None, {}, 2, "not an issue number"),
    "run: absurd issue number": (["cxo-run", "--issue", "9" * 30], None, None, {}, 2, "not an issue number"),
    "claim: issue 0": (["cxo-claim", "--issue", "0"], None, None, {}, 2, "--issue"),
    "claim: negative issue": (["cxo-claim", "--issue=-4"], None, None, {}, 2, "--issue"),
    "run: NaN agent timeout": (["cxo-run", "--issue", "{issue}", "--agent-timeout", "nan"], None, None, {}, 2,
                               "--agent-timeout"),
    "run: infinite idle timeout": (["cxo-run", "--issue", "{issue}", "--idle-timeout", "inf"], None, None, {}, 2,
                                   "--idle-timeout"),
    "run: negative timeout": (["cxo-run", "--issue", "{issue}", "--agent-timeout=-5"], None, None, {}, 2,
                              "--agent-timeout"),
    "run: zero timeout": (["cxo-run", "--issue", "{issue}", "--agent-timeout", "0"], None, None, {}, 2,
                          "--agent-timeout"),
    "codex: NaN timeout": (["cxo-codex", "--agent-timeout", "NaN"], None, None, {}, 2, "--agent-timeout"),
    "daemon: interval 0": (["cxo-daemon", "--once", "--interval-seconds", "0"], None, None, {}, 2,
                           "--interval-seconds"),
    "daemon: max runs 0": (["cxo-daemon", "--once", "--max-runs", "0"], None, None, {}, 2, "--max-runs"),
    "daemon: concurrency 0": (["cxo-daemon", "--once", "--concurrency", "0"], None, None, {}, 2, "--concurrency"),
    "daemon: negative concurrency": (["cxo-daemon", "--once", "--concurrency=-2"], None, None, {}, 2,
                                     "--concurrency"),
    "proof: zero timeout": (["cxo-proof", "--url", "http://x", "--timeout", "0"], None, None, {}, 2, "--timeout"),
    "setup: target is missing": (["cxo-setup", "--target", "{tmp}/nothing"], None, None, {}, 2, "not a git"),
    "status: target is a file": (["cxo-status", "--target", "{binary}"], None, None, {}, 2, "not a directory"),
    "umbrella: unknown command": (["codex-orchestrator", "frobnicate"], None, None, {}, 2, "unknown command"),
    "umbrella: run with a bad issue": (["codex-orchestrator", "run", "--issue", "x"], None, None, {}, 2, "--issue"),
    "hub: port out of range": (["cxo-hub", "serve", "--port", "99999", "--data", "{tmp}/hub"], None, None, {}, 2,
                               "--port"),
    "hub: unknown command": (["cxo-hub", "frobnicate"], None, None, {}, 2, "invalid choice"),
    "hub: missing --data": (["cxo-hub", "serve"], None, None, {}, 2, "--data"),
    "hub: malformed --api": (["cxo-hub", "list", "issues", "--repo", "acme/widgets", "--api", "nope"], None, None,
                             {}, 2, "--api"),
    # files
    "worktree: --input missing": (["cxo-worktree", "--input", "{tmp}/missing.json"], None, None, {}, 2,
                                  "missing.json: no such file"),
    "worktree: --input a directory": (["cxo-worktree", "--input", "{tmp}"], None, None, {}, 2, "a directory"),
    "publish: --input binary": (["cxo-publish", "--input", "{binary}"], None, None, {}, 2, "binary.json"),
    "gate: --input nested 100,000 deep": (["cxo-gate", "--input", "{deep}"], None, None, {}, 2, "nested deeper"),
    "gate report: --report nested 100,000 deep": (
        ["cxo-gate", "report", "--worktree", "{target}", "--base", "HEAD", "--report", "{deep}"], None, None, {},
        2, "nested deeper"),
    "gate report: --report missing": (
        ["cxo-gate", "report", "--worktree", "{target}", "--base", "HEAD", "--report", "{tmp}/no.json"], None,
        None, {}, 2, "no such file"),
    # envelopes on stdin
    "codex: stdin nested 100,000 deep": (["cxo-codex"], DEEP, None, {}, 2, "nested deeper"),
    "publish: stdin not UTF-8": (["cxo-publish"], b"\xff\xfe{\0}\0", None, {}, 2, "not UTF-8"),
    "worktree: stdin empty": (["cxo-worktree"], "", None, {}, 2, "no envelope"),
    "publish: stdin not an envelope": (["cxo-publish"], '{"version": 1}', None, {}, 2, "envelope"),
    # revisions
    "gate: unknown --base": (["cxo-gate", "safety", "--worktree", "{target}", "--base", "no-such-rev"], None, None,
                             {}, 2, "'no-such-rev'"),
    "gate: unknown --head": (["cxo-gate", "safety", "--worktree", "{target}", "--base", "HEAD", "--head",
                              "main~99"], None, None, {}, 2, "'main~99'"),
    "gate: base beyond a shallow clone": (["cxo-gate", "safety", "--worktree", "{shallow}", "--base", "HEAD~1"],
                                          None, None, {}, 2, "fetch-depth: 0"),
    "gate: worktree not a repository": (["cxo-gate", "safety", "--worktree", "{tmp}/nothing", "--base", "HEAD"],
                                        None, None, {}, 2, "not a git working tree"),
    # policies (read from the pushed base branch), found before the claim
    "policy: UTF-16": (["cxo-run", "--issue", "{issue}"], None, policy_text("labels:\n  auto: x\n", "utf-16"),
                       {}, 2, "not UTF-8"),
    "policy: Latin-1": (["cxo-run", "--issue", "{issue}"], None, policy_text("runner:\n  name: caf\u00e9\n",
                                                                              "latin-1"), {}, 2, "not UTF-8"),
    "policy: huge integer": (["cxo-run", "--issue", "{issue}"], None,
                             policy_text("codex:\n  timeoutSeconds: " + "9" * 60 + "\n"), {}, 2,
                             "codex.timeoutSeconds"),
    "policy: integer of 5,000 digits": (["cxo-run", "--issue", "{issue}"], None,
                                        policy_text("daemon:\n  intervalSeconds: " + "7" * 5000 + "\n"), {}, 2,
                                        "too many digits"),
    "gate: --input with a 5,000-digit number": (["cxo-gate", "--input", "{tmp}/long.json"], None,
                                                None, {}, 2, "too many digits"),
    "policy: NaN timeout": (["cxo-run", "--issue", "{issue}"], None, policy_text("codex:\n  timeoutSeconds: .nan\n"),
                            {}, 2, "codex.timeoutSeconds"),
    "policy: zero lease": (["cxo-run", "--issue", "{issue}"], None, policy_text("runner:\n  leaseSeconds: 0\n"),
                           {}, 2, "runner.leaseSeconds"),
    "policy: bad deny.commands regex": (["cxo-run", "--issue", "{issue}"], None,
                                        policy_text("deny:\n  commands: ['rm -rf (']\n"), {}, 2, "deny.commands[0]"),
    "policy: bad contentPatterns regex": (["cxo-run", "--issue", "{issue}"], None,
                                          policy_text("deny:\n  contentPatterns: ['[a-']\n"), {}, 2,
                                          "deny.contentPatterns[0]"),
    "policy: unknown branchTemplate placeholder": (["cxo-run", "--issue", "{issue}"], None,
                                                   policy_text("git:\n  branchTemplate: 'agent/${issue}'\n"), {}, 2,
                                                   "${issue}"),
    "policy: branchTemplate with '..'": (["cxo-run", "--issue", "{issue}"], None,
                                        policy_text("git:\n  branchTemplate: 'agent/${issueNumber}..${slug}'\n"),
                                        {}, 2, "git.branchTemplate"),
    "policy: branchTemplate with a space": (["cxo-run", "--issue", "{issue}"], None,
                                            policy_text("git:\n  branchTemplate: 'agent/issue ${issueNumber}'\n"),
                                            {}, 2, "git.branchTemplate"),
    "policy: branchTemplate with '~'": (["cxo-status"], None,
                                        policy_text("git:\n  branchTemplate: 'agent~${issueNumber}'\n"),
                                        {}, 2, "git.branchTemplate"),
    "policy: branchTemplate ending in .lock": (["cxo-run", "--issue", "{issue}"], None,
                                               policy_text("git:\n  branchTemplate: 'agent/${issueNumber}.lock'\n"),
                                               {}, 2, "git.branchTemplate"),
    "policy: branchTemplate starting with '-'": (["cxo-run", "--issue", "{issue}"], None,
                                                 policy_text("git:\n  branchTemplate: '-${issueNumber}-${slug}'\n"),
                                                 {}, 2, "git.branchTemplate"),
    "policy: integrationBranchTemplate with '..'": (
        ["cxo-run", "--issue", "{issue}"], None,
        policy_text("git:\n  integrationBranchTemplate: 'tree..${issueNumber}'\n"), {}, 2,
        "git.integrationBranchTemplate"),
    "policy: broken titleTemplate": (["cxo-run", "--issue", "{issue}"], None,
                                     policy_text("pullRequest:\n  titleTemplate: 'Fix ${issueTitle'\n"), {}, 2,
                                     "pullRequest.titleTemplate"),
    "policy: seven identical labels": (["cxo-run", "--issue", "{issue}"], None, policy_text(
        "labels:\n" + "".join(f"  {k}: same\n" for k in ("auto", "planAuto", "child", "running", "blocked",
                                                          "manual", "review"))), {}, 2, "both 'same'"),
    "policy: implement prompt with an unknown placeholder": (["cxo-run", "--issue", "{issue}"], None, bad_prompt,
                                                             {}, 2, "${worktree}"),
    "policy: a directory": (["cxo-run", "--issue", "{issue}"], None, policy_path("directory"), {}, 2,
                            "not a regular file"),
    "policy: a dangling symlink": (["cxo-status"], None, policy_path("symlink"), {}, 2, "symbolic link"),
    "status: malformed GITHUB_API_URL": (["cxo-status"], None, no_api_url, {"GITHUB_API_URL": "http://[::1"}, 2,
                                         "GITHUB_API_URL"),
    "run: GITHUB_API_URL with a bad port": (["cxo-run", "--issue", "{issue}"], None, no_api_url,
                                            {"GITHUB_API_URL": "http://127.0.0.1:99999"}, 2, "GITHUB_API_URL"),
    # GitHub's answers
    "run: an issue that does not exist": (["cxo-run", "--issue", "424242"], None, None, {}, 6, "424242"),
}
NEEDS_TARGET = ("cxo-run", "cxo-claim", "cxo-status", "cxo-daemon", "cxo-health")


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(case, target_repo, hub_repo, tmp_path):
    argv, stdin, setup, env, code, expected = CASES[case]
    if setup:
        setup(target_repo, hub_repo)
    number = hub_repo.api.ok("POST", f"{R}/issues", {"title": "eligible", "labels": ["agent:auto"]})["number"]
    values = {"target": str(target_repo), "issue": str(number), "tmp": str(tmp_path), "deep": str(deep_file(tmp_path)),
              "binary": str(binary_file(tmp_path))}
    if any("{shallow}" in a for a in argv):
        values["shallow"] = str(shallow_clone(target_repo, hub_repo, tmp_path))
    args = [a.format(**values) for a in argv]
    if args[0] in NEEDS_TARGET and "--target" not in args:
        args += ["--target", str(target_repo)]
    status_before = git(target_repo, "status", "--porcelain", "--ignored")
    writes = hub_repo.api.admin("GET", "/_hub/stats")["writes"]
    crash_dir = Path(os.environ["XDG_STATE_HOME"]) / "cxo" / "crash"
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run([str(BIN / args[0]), *args[1:]], input=data if data is not None else b"",
                          capture_output=True, timeout=60, cwd=tmp_path, env={**os.environ, **env})
    stderr = proc.stderr.decode()
    assert proc.returncode == code, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, lines
    assert expected in lines[0] and "Traceback" not in stderr and "internal error" not in stderr
    assert len(lines[0]) <= 700
    assert proc.stdout == b""
    assert hub_repo.api.admin("GET", "/_hub/stats")["writes"] == writes
    assert not crash_dir.exists() or not any(crash_dir.iterdir())
    assert git(target_repo, "status", "--porcelain", "--ignored") == status_before
    issue = hub_repo.api.ok("GET", f"{R}/issues/{number}")
    assert [lab["name"] for lab in issue["labels"]] == ["agent:auto"] and issue["comments"] == 0


def test_an_unknown_issue_is_not_retried(target_repo, hub_repo):
    before = hub_repo.api.admin("GET", "/_hub/stats")
    proc = subprocess.run([str(BIN / "cxo-claim"), "--issue", "777777", "--target", str(target_repo)],
                          capture_output=True, text=True, timeout=60)
    after = hub_repo.api.admin("GET", "/_hub/stats")
    assert proc.returncode == 6 and len(proc.stderr.splitlines()) == 1
    ops = {op: n - before["by_op"].get(op, 0) for op, n in after["by_op"].items()}
    assert after["writes"] == before["writes"] and after["total"] > before["total"]
    assert max(ops.values()) == 1, ops  # the 404 is an answer: asked once, never retried


def test_a_single_gate_leaves_no_temporary_folder_and_a_missing_reviewer_is_one_line(git_repo, tmp_path):
    (git_repo / ".codex-orchestrator").mkdir()
    (git_repo / ".codex-orchestrator" / "config.yaml").write_text(
        "agent:\n  isolation: none\nreviewGates:\n  reviewer:\n    command: codex-not-installed-here\n    args: []\n")
    (git_repo / "app" / "calc.py").write_text("def add(a, b):\n    return b + a\n")
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    for gate in ("safety", "review"):
        proc = subprocess.run([str(BIN / "cxo-gate"), gate, "--worktree", str(git_repo), "--base", "HEAD"],
                              capture_output=True, text=True, timeout=120, env=env)
        assert "Traceback" not in proc.stderr
        if gate == "review":
            assert proc.returncode == 1
            summary = json.loads(proc.stdout)["summary"]
            assert summary.startswith("codex-not-installed-here not found on PATH") and "\n" not in summary
        assert not list(scratch.glob("cxo-gate-*")), gate
