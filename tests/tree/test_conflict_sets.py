"""Computed conflict sets (lib/cxo/tree/conflicts.py): a child's declared scope widened by the files it changed and
their Python import cone; a child that meets a sibling merged since it started is brought onto the integration
head before its gates. Pure parts on texts, the re-base on real git, and a tree run on the hub."""

import json
import subprocess

from cxo import policy as policy_mod
from cxo.runner import run_issue
from cxo.tree import conflicts
from tests.tree.test_tree_run import child_issues, node, open_parent, tree_agent

R = "/repos/acme/widgets"


def test_the_import_cone_follows_absolute_and_relative_imports_inside_the_repository():
    known = {"pkg/__init__.py", "pkg/core/__init__.py", "pkg/core/m.py", "pkg/util.py", "src/lib2/x.py", "other.py"}
    texts = {"pkg/app/use.py": "import os\nfrom pkg.core import m\nfrom ..util import helper\nimport lib2.x\n",
             "pkg/app/broken.py": "def (:\n"}
    cone = conflicts.import_cone(sorted(texts), texts.get, known)
    assert cone == {"pkg/core/__init__.py", "pkg/core/m.py", "pkg/util.py", "src/lib2/x.py"}
    widened = conflicts.widened(["pkg/app/use.py", "README.md"], texts.get, known)
    assert conflicts.meet(widened, {"pkg/core/m.py", "docs/x.md"}) == ["pkg/core/m.py"]
    assert conflicts.meet({"a.py"}, {"b.py"}) == []


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def repo(tmp_path):
    work = tmp_path / "repo"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    git(work, "config", "user.name", "t")
    git(work, "config", "user.email", "t@t")
    (work / "shared.txt").write_text("one\ntwo\nthree\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "base")
    return work


def test_rebase_lays_the_work_over_the_new_head_or_names_the_conflicts(tmp_path):
    work = repo(tmp_path)
    start = git(work, "rev-parse", "HEAD")
    git(work, "checkout", "-qb", "sibling")
    (work / "shared.txt").write_text("one\ntwo\nthree\nfour\n")
    git(work, "commit", "-qam", "sibling adds four")
    sibling = git(work, "rev-parse", "HEAD")
    git(work, "checkout", "-q", "main")
    # The child's work: one committed change, one uncommitted, one new file.
    (work / "shared.txt").write_text("ONE\ntwo\nthree\n")
    git(work, "commit", "-qam", "child edits one")
    (work / "new.txt").write_text("new\n")
    ok, files = conflicts.rebase(work, sibling)
    assert ok and files == []
    assert git(work, "rev-parse", "HEAD") == sibling
    assert (work / "shared.txt").read_text() == "ONE\ntwo\nthree\nfour\n" and (work / "new.txt").exists()
    assert set(git(work, "status", "--porcelain").split()) >= {"M", "shared.txt", "??", "new.txt"}
    # A conflict: nothing moves.
    git(work, "checkout", "-q", "-f", "-B", "again", start)
    (work / "shared.txt").write_text("one\ntwo\nthree\nFOUR?\n")
    ok, files = conflicts.rebase(work, sibling)
    assert not ok and files == ["shared.txt"]
    assert git(work, "rev-parse", "HEAD") == start and (work / "shared.txt").read_text().endswith("FOUR?\n")


CHILDREN = [{"sh": "n=$CODEX_ORCHESTRATOR_ISSUE_NUMBER\n"
                   "if [ $n = 2 ]; then mkdir -p core && printf 'def f():\\n    return 2\\n' > core/m.py; fi\n"
                   "if [ $n = 3 ]; then sleep 4; mkdir -p feature && "
                   "printf 'from core import m\\n\\nVALUE = m.f()\\n' > feature/use.py; fi\n"},
            {"report": {"status": "completed", "summary": "done", "changes": [], "validation": []}}]


def test_a_child_that_builds_on_a_sibling_merged_meanwhile_is_brought_onto_the_integration_head(
        target_repo, hub_repo, tmp_path):
    # Declared scopes apart (core/**, feature/**), no dependency: both start at once. The feature child imports the
    # module the core child writes; the core child merges while the feature child's agent still works.
    tree_agent(target_repo, tmp_path, [node("p", "core/**"), node("q", "feature/**")], child=CHILDREN,
               checks=[], concurrency={"children": 2})
    parent = open_parent(hub_repo, "Build core and feature.")
    final = run_issue(target_repo, parent)
    assert final["status"] == "ok", final.get("blocked")
    kids = child_issues(hub_repo, parent)
    assert [kids[s]["number"] for s in ("p", "q")] == [2, 3]
    state_dir = policy_mod.load(target_repo).state_dir
    gates = [json.loads(p.read_text()) for p in state_dir.glob("runs/**/*-gate.json")]
    [q_env] = [e for e in gates if e["issue"]["number"] == 3]
    section = q_env["tree"]["conflict_set"]
    assert section["rebased"] and section["meets"] == ["core/m.py"] and section["declared"] == ["feature/**"]
    assert "core/m.py" in section["computed"] and "feature/use.py" in section["computed"]
    # Its gates checked only its own change, on the new head.
    assert q_env["gate"]["changes"]["base"] == section["to"] != section["from"]
    assert sorted(set(q_env["gate"]["changes"]["untracked"])) == ["feature/use.py"]
    branch = final["worktree"]["branch"]
    check = tmp_path / "check"
    git(tmp_path, "clone", "-q", "-b", branch, hub_repo.clone_url, str(check))
    assert (check / "core" / "m.py").exists() and (check / "feature" / "use.py").exists()
