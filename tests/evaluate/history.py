"""A generated repository with a known history for cxo-eval's tests: `fn_K` bugs, their issues and fix PRs."""

import json
import subprocess
import sys
from pathlib import Path

from tests.support.git_fixtures import commit_all, git, write

AGENT = Path(__file__).with_name("eval_agent.py")


def module(k: int, fixed: bool) -> str:
    return f"def fn_{k}(x):\n    return x{f' + {k}' if fixed else ''}\n"


def hidden_test(k: int) -> str:
    return f"from app.m_{k} import fn_{k}\n\n\ndef test_fn_{k}():\n    assert fn_{k}(2) == {2 + k}\n"


def issue_text(k: int) -> tuple[str, str]:
    return f"fn_{k} is wrong", f"fn_{k} should return x + {k}, it returns x.\n"


def seed(root: Path, count: int, generated: bool = False) -> None:
    """The initial project: app/base.py with its passing test, and `count` buggy modules app/m_K.py.
    `generated`: app/base.py needs app/generated.py, which is git-ignored and made by the policy's `setup`."""
    write(root, "README.md", "# shop\n")
    write(root, "app/__init__.py", "")
    if generated:
        write(root, ".gitignore", "app/generated.py\n")
        write(root, "app/base.py", "from app.generated import FACTOR\n\n\ndef double(x):\n    return FACTOR * x\n")
    else:
        write(root, "app/base.py", "def double(x):\n    return 2 * x\n")
    write(root, "tests/__init__.py", "")
    write(root, "tests/test_base.py", "from app.base import double\n\n\ndef test_double():\n"
                                      "    assert double(4) == 8\n")
    for k in range(1, count + 1):
        write(root, f"app/m_{k}.py", module(k, False))


def local_history(root: Path, count: int, generated: bool = False, policy: dict | None = None) -> list[dict]:
    """A plain repository where fix K (module and its test) follows fix K-1; SWE-bench tasks for each, as a
    dataset would hold them (no hub: base_commit, test_patch, FAIL_TO_PASS, PASS_TO_PASS)."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    seed(root, count, generated)
    if policy:  # the repository's own cxo policy
        import yaml

        write(root, ".codex-orchestrator/config.yaml", yaml.safe_dump(policy))
    commit_all(root, "initial")
    tasks = []
    for k in range(1, count + 1):
        base = git(root, "rev-parse", "HEAD").strip()
        write(root, f"app/m_{k}.py", module(k, True))
        write(root, f"tests/test_m_{k}.py", hidden_test(k))
        commit_all(root, f"Fix fn_{k}")
        title, body = issue_text(k)
        earlier = [f"tests/test_m_{j}.py::test_fn_{j}" for j in range(1, k)]
        tasks.append({
            "instance_id": f"acme__shop-{k}", "repo": "acme/shop", "base_commit": base,
            "problem_statement": f"{title}\n{body}",
            "test_patch": git(root, "diff", base, "HEAD", "--", "tests"),
            "FAIL_TO_PASS": json.dumps([f"tests/test_m_{k}.py::test_fn_{k}"]),  # as SWE-bench's dataset has it
            "PASS_TO_PASS": json.dumps(sorted(["tests/test_base.py::test_double", *earlier])),
            "repo_path": str(root)})
    return tasks


def eval_policy(path: Path, mode: str, sleep: float | None = None, pause: tuple[int, Path] | None = None) -> Path:
    """The --policy file: the scripted agent in `mode`, an approving reviewer, the test suite as a check, prices."""
    import yaml

    from tests.support.git_fixtures import reviewer_policy

    args = [str(AGENT), "--mode", mode] + (["--sleep", str(sleep)] if sleep else [])
    args += ["--pause-once", str(pause[0]), str(pause[1])] if pause else []
    policy = {"codex": {"command": sys.executable, "args": args},
              "reviewGates": {"reviewer": reviewer_policy("approve")},
              "checks": [{"name": "tests", "command": "python -m pytest -q -p no:cacheprovider"}],
              "runner": {"prices": {"input": 2.0, "output": 10.0, "currency": "USD"}}}
    if pause:  # the marker's directory, writable from the sandbox
        policy["agent"] = {"writePaths": [str(pause[1].parent)]}
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


def cxo_eval(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(Path(sys.executable).with_name("cxo-eval")), *args], capture_output=True, text=True)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def hub_history(hub, work: Path, solved: int) -> dict:
    """acme/shop on the hub with `solved` issues each fixed by a merged PR that changed app/m_K.py and added
    tests/test_m_K.py (in turn, each PR from the main its predecessor's merge left), and issues that must not
    become tasks. Returns {"clone", "solved": {issue: K}, "decoys": {issue: why}, "labelled": [issues]}."""
    import yaml

    from tests.support.hub_fixtures import Api, push_dir

    api = Api(hub.url, token="as:acme", admin_token=hub.admin_token)
    repo = api.ok("POST", "/user/repos", {"name": "shop"})
    url, base = repo["clone_url"], "/repos/acme/shop"
    local = work / "shop-dev"
    local.mkdir(parents=True)
    git(local, "init", "-q", "-b", "main")
    seed(local, solved + 1)
    write(local, ".codex-orchestrator/config.yaml", yaml.safe_dump(
        {"github": {"owner": "acme", "repo": "shop", "apiUrl": hub.url}}))
    commit_all(local, "initial")
    push_dir(local, url, token="as:acme")

    def pull_request(branch: str, files: dict, title: str, body: str, merge: bool = True) -> dict:
        from tests.support.hub_fixtures import token_git_env

        subprocess.run(["git", "fetch", "-q", url, "main"], cwd=local, check=True, env=token_git_env("as:acme"))
        git(local, "checkout", "-q", "-B", branch, "FETCH_HEAD")
        for rel, text in files.items():
            write(local, rel, text)
        commit_all(local, title)
        push_dir(local, url, token="as:acme", branch=branch)
        pull = api.ok("POST", f"{base}/pulls", {"title": title, "head": branch, "base": "main", "body": body})
        if merge:
            api.ok("PUT", f"{base}/pulls/{pull['number']}/merge", {})
        return pull

    def issue(title: str, body: str, labels=()) -> int:
        return api.ok("POST", f"{base}/issues", {"title": title, "body": body, "labels": list(labels)})["number"]

    def close(number: int, reason: str = "completed") -> None:
        api.ok("PATCH", f"{base}/issues/{number}", {"state": "closed", "state_reason": reason})

    found = {"clone": None, "solved": {}, "decoys": {}, "labelled": []}
    for k in range(1, solved + 1):
        title, body = issue_text(k)
        labels = ["bug"] if k % 3 == 0 else []
        number = issue(title, body, labels)
        pull_request(f"fix-{k}", {f"app/m_{k}.py": module(k, True), f"tests/test_m_{k}.py": hidden_test(k)},
                     f"Fix fn_{k}", f"Fixes #{number}.")
        close(number)
        found["solved"][number] = k
        if labels:
            found["labelled"].append(number)
    # Issues that are no task: closed without a fix, fixed with no test change (docs, code), fixed by a PR that
    # was closed unmerged, fixed but still open, and a merged test change that names no issue.
    wontfix = issue("Support Python 2", "Please.")
    close(wontfix, "not_planned")
    docs = issue("Document double", "README should mention double().")
    pull_request("docs", {"README.md": "# shop\n\ndouble(x) doubles.\n"}, "Docs", f"Closes #{docs}")
    close(docs)
    code = issue("double: add a docstring", "")
    pull_request("docstring", {"app/base.py": 'def double(x):\n    """Twice x."""\n    return 2 * x\n'},
                 "Docstring", f"Resolves #{code}")
    close(code)
    k = solved + 1
    unmerged = issue(*issue_text(k))
    abandoned = pull_request(f"fix-{k}-try", {f"app/m_{k}.py": module(k, True), f"tests/test_m_{k}.py":
                                              hidden_test(k)}, f"Fix fn_{k}", f"Fixes #{unmerged}", merge=False)
    api.ok("PATCH", f"{base}/pulls/{abandoned['number']}", {"state": "closed"})
    close(unmerged)
    still_open = issue("double(0) is slow", "")
    pull_request("speed", {"tests/test_speed.py": "from app.base import double\n\n\ndef test_zero():\n"
                                                  "    assert double(0) == 0\n"}, "Zero test", f"Fixes #{still_open}")
    pull_request("more-tests", {"tests/test_more.py": "from app.base import double\n\n\ndef test_one():\n"
                                                      "    assert double(1) == 2\n"}, "More tests", "No issue.")
    found["decoys"] = {wontfix: "closed without a fix", docs: "no test change (docs)",
                       code: "no test change (code)", unmerged: "its PR was not merged",
                       still_open: "still open"}
    clone = work / "shop"
    git(work, "clone", "-q", url, str(clone))
    found["clone"] = clone
    return found
