"""safety gate: the secret scan reads raw bytes, whatever git attributes, NUL bytes or file size say."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cxo import policy as policy_mod
from cxo.gates.base import GateContext, run_one
from cxo.gates.safety import SafetyGate
from cxo.gitutil import collect_changes
from tests.support.git_fixtures import commit_all, git, write, write_policy

BIN = Path(sys.executable).parent
TOKEN = "ghp_" + "A1b2C3d4E5" * 3 + "f6G7h8"  # ghp_ + 36 alphanumerics
assert len(TOKEN) == 40


def gate(repo, **deny):
    if deny:
        write_policy(repo, {"deny": deny})
        commit_all(repo, "policy")
    base = git(repo, "rev-parse", "HEAD").strip()
    return base


def run_gate(repo, base, head=None):
    pol = policy_mod.load(repo, infer_repo=False)
    ctx = GateContext(worktree=repo, base=base, head=head, policy=pol,
                      changes=collect_changes(repo, base, head or "HEAD"), run_dir=repo.parent / "run",
                      say=lambda m: None)
    return run_one(SafetyGate(), ctx)


def secret_files(result):
    return sorted({f["file"] for f in result["findings"] if f.get("rule") == "secret"})


def hide_with_gitattributes(repo):
    write(repo, ".gitattributes", "*.dat -diff\nnotes.txt binary\n")
    write(repo, "notes.txt", "nothing to see\n")
    write(repo, "blob.dat", "config\n")
    commit_all(repo, "attributes")  # in the base: the agent's change itself looks harmless
    yield
    write(repo, "notes.txt", f"nothing to see\nkey {TOKEN}\n")
    write(repo, "blob.dat", f"config\n{TOKEN}\n")
    yield ["blob.dat", "notes.txt"]


def hide_with_info_attributes(repo):
    yield
    info = Path(git(repo, "rev-parse", "--git-path", "info/attributes").strip())
    info = info if info.is_absolute() else repo / info
    info.parent.mkdir(parents=True, exist_ok=True)
    info.write_text("* -diff -text\n")
    write(repo, "app/calc.py", f"GITHUB = '{TOKEN}'\n")  # a tracked file: git diff would show it, but for this
    yield ["app/calc.py"]


def hide_behind_a_nul(repo):
    yield
    (repo / "app" / "data.bin").write_bytes(b"\x00\x01\x02binary header\xff\xfe\n" + TOKEN.encode() + b"\n\x00")
    # UTF-16: a NUL between every character.
    (repo / "app" / "wide.txt").write_bytes(("token: " + TOKEN + "\n").encode("utf-16-le"))
    yield ["app/data.bin", "app/wide.txt"]


def hide_in_a_large_file(repo):
    yield
    filler = b"x" * 1023 + b"\n"
    with open(repo / "app" / "big.txt", "wb") as handle:
        handle.write(filler * 1023)
        # Line 1024 puts the token across the first 1 MiB chunk boundary.
        handle.write(b"y" * 1013 + b" " + TOKEN.encode() + b"\n")
        handle.write(filler * 1024)  # over 2 MiB in all
    yield ["app/big.txt"]


HIDERS = {"gitattributes": hide_with_gitattributes, "info-attributes": hide_with_info_attributes,
          "nul-byte": hide_behind_a_nul, "2-mib": hide_in_a_large_file}


def hide(repo, how):
    """(base, files): the hider's own setup is committed as the base, then the token is hidden."""
    steps = HIDERS[how](repo)
    next(steps)
    base = git(repo, "rev-parse", "HEAD").strip()
    return base, next(steps)


@pytest.mark.parametrize("how", sorted(HIDERS))
@pytest.mark.parametrize("committed", [False, True], ids=["worktree", "committed"])
def test_a_hidden_token_is_found(git_repo, how, committed):
    base, files = hide(git_repo, how)
    head = commit_all(git_repo, "agent") if committed else None
    if how.endswith("attributes"):  # git itself is fooled: its diff hides the token
        diff = git(git_repo, "diff", base, *([head] if head else []))
        assert TOKEN not in diff and "Binary files" in diff
    result = run_gate(git_repo, base, head)
    assert result["verdict"] == "fail"
    assert secret_files(result) == files
    assert TOKEN not in json.dumps(result)


def test_line_numbers_point_at_the_token(git_repo):
    base, _ = hide(git_repo, "2-mib")
    result = run_gate(git_repo, base)
    assert [f["line"] for f in result["findings"]] == [1024]


def test_a_secret_removed_by_a_later_commit_still_blocks(git_repo):
    # The pushed history holds every commit, not only the tip.
    base = gate(git_repo)
    write(git_repo, "app/keys.py", f"KEY = '{TOKEN}'\n")
    commit_all(git_repo, "add")
    write(git_repo, "app/keys.py", "KEY = None\n")
    head = commit_all(git_repo, "remove")
    result = run_gate(git_repo, base, head)
    assert result["verdict"] == "fail" and secret_files(result) == ["app/keys.py"]
    assert "commit" in result["findings"][0]["message"]


def test_a_secret_already_in_the_base_does_not_block_an_unrelated_edit(git_repo):
    write(git_repo, "tests/fixtures.py", f"FAKE = '{TOKEN}'\n")
    base = commit_all(git_repo, "fixture")
    write(git_repo, "tests/fixtures.py", f"FAKE = '{TOKEN}'\nOTHER = 1\n")
    assert run_gate(git_repo, base)["verdict"] == "pass"


def test_files_over_the_scan_limit_block_unless_allowed(git_repo):
    base = gate(git_repo, maxScanBytes=1000)
    write(git_repo, "app/huge.txt", "a" * 2000 + "\n")
    result = run_gate(git_repo, base)
    assert result["verdict"] == "fail" and [f["rule"] for f in result["findings"]] == ["unscannable"]
    write_policy(git_repo, {"deny": {"maxScanBytes": 1000, "allowUnscannable": True}})
    assert run_gate(git_repo, base)["verdict"] == "pass"


def test_the_single_gate_executable_sees_through_attributes(git_repo):
    base, _ = hide(git_repo, "info-attributes")
    proc = subprocess.run([str(BIN / "cxo-gate"), "safety", "--worktree", str(git_repo), "--base", base],
                          capture_output=True, text=True)
    verdict = json.loads(proc.stdout)
    assert proc.returncode == 1 and secret_files(verdict) == ["app/calc.py"]
