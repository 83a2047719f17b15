"""Path globs match like .gitignore patterns: any depth without a slash, classes, negation, anchoring."""

import pytest

from cxo import globs
from cxo import policy as policy_mod
from tests.support.git_fixtures import write

CASES = [
    # (patterns, path, matches)
    (["*.pem"], "key.pem", True),
    (["*.pem"], "certs/key.pem", True),                 # no slash: any depth
    (["*.pem"], "a/b/c/key.pem", True),
    (["*.pem"], "key.pem.txt", False),
    (["*.pem"], "certs.pem/readme", True),              # a matching directory covers what is under it
    (["docs/**"], "docs/guide/a.md", True),             # a slash anchors at the root
    (["docs/**"], "app/docs/a.md", False),
    (["/.env"], ".env", True),
    (["/.env"], "app/.env", False),                     # a leading slash: the root only
    (["build/"], "build/out.js", True),                 # a directory pattern, at any depth
    (["build/"], "app/build/out.js", True),
    (["build/"], "build", False),                       # ... but not a file of that name
    (["**/fixtures/*.json"], "fixtures/a.json", True),
    (["**/fixtures/*.json"], "a/b/fixtures/a.json", True),
    (["src/*.py"], "src/a/b.py", False),                # `*` stays inside one directory
    (["key[0-9].txt"], "keys/key7.txt", True),          # character classes
    (["key[0-9].txt"], "keyx.txt", False),
    (["key[!0-9].txt"], "keyx.txt", True),
    (["id_rsa?"], "home/id_rsa2", True),
    (["id_rsa?"], "home/id_rsa", False),
    (["*.pem", "!keep.pem"], "keep.pem", False),        # negation re-includes
    (["*.pem", "!keep.pem"], "certs/keep.pem", False),
    (["*.pem", "!keep.pem"], "certs/other.pem", True),
    (["!keep.pem", "*.pem"], "keep.pem", True),         # the last matching pattern wins
    (["*.pem", "!certs/public/*.pem"], "certs/public/ca.pem", False),
    (["*.pem", "!certs/public/*.pem"], "certs/private/ca.pem", True),
    ([], "anything.py", False),
]


@pytest.mark.parametrize(("patterns", "path", "expected"), CASES)
def test_gitignore_semantics(patterns, path, expected):
    assert globs.match(path, patterns) is expected


def test_matching_keeps_order_and_filters():
    paths = ["a.pem", "keep.pem", "x/b.pem", "c.txt"]
    assert globs.matching(paths, ["*.pem", "!keep.pem"]) == ["a.pem", "x/b.pem"]


DEFAULT_MEANING = {
    # deny.paths: secrets at any depth, not look-alikes
    "deny": {".env": True, "app/.env": True, ".env.local": True, "a/b/.env.prod": True, ".envrc": False,
             "key.pem": True, "ops/tls/key.pem": True, "tls.key": True, "a/tls.key": True, "keys.md": False,
             "home/id_rsa": True, "id_rsa.pub": True, "a/id_ed25519": True, "a/.npmrc": True, ".pypirc": True,
             "credentials.json": True, "cfg/secrets.yaml": True, "secretsanta.py": False, "app/main.py": False},
    "testChangedPathGlobs": {"tests/test_a.py": True, "test/x.js": True, "app/test_a.py": True,
                             "pkg/a_test.go": True, "web/a.spec.ts": True, "web/__tests__/a.js": True,
                             "app/calc.py": False, "contest.py": False},
    "runtimeChangedPathGlobs": {"calc.py": True, "app/calc.py": True, "web/a.tsx": True, "README.md": False},
    "exemptPathGlobs": {"docs/a.py": True, "README.md": True, "a/b/c.yaml": True, ".codex-orchestrator/x": True,
                        "app/docs/a.py": False, "app/calc.py": False},
    "uiChangedPathGlobs": {"web/app.css": True, "index.html": True, "a/b.vue": True, "app.py": False},
}


def test_the_default_globs_keep_their_meaning():
    d = policy_mod.defaults()
    lists = {"deny": d["deny"]["paths"], "uiChangedPathGlobs": d["reviewGates"]["visualProof"]["uiChangedPathGlobs"],
             **{k: d["reviewGates"]["quality"][k] for k in ("testChangedPathGlobs", "runtimeChangedPathGlobs",
                                                            "exemptPathGlobs")}}
    for name, cases in DEFAULT_MEANING.items():
        for path, expected in cases.items():
            assert globs.match(path, lists[name]) is expected, (name, path)


def test_the_safety_gate_denies_a_nested_match_and_honours_negation(git_repo):
    from cxo.gates.base import GateContext, run_one
    from cxo.gates.safety import SafetyGate
    from cxo.gitutil import collect_changes
    from tests.support.git_fixtures import git, write_policy

    write_policy(git_repo, {"deny": {"paths": ["*.crt", "!public/*.crt"]}})
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "policy")
    base = git(git_repo, "rev-parse", "HEAD").strip()

    def verdict():
        pol = policy_mod.load(git_repo, infer_repo=False)
        ctx = GateContext(worktree=git_repo, base=base, head=None, policy=pol,
                          changes=collect_changes(git_repo, base, "HEAD"), run_dir=git_repo.parent / "run",
                          say=lambda m: None)
        return run_one(SafetyGate(), ctx)

    write(git_repo, "public/ca.crt", "public certificate\n")
    assert verdict()["verdict"] == "pass"
    write(git_repo, "deploy/tls/server.crt", "server certificate\n")
    result = verdict()
    assert result["verdict"] == "fail"
    assert any(f["file"] == "deploy/tls/server.crt" for f in result["findings"]), result
