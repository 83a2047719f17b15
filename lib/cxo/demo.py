"""`make demo`: the whole `agent:auto` job offline, on this machine, with no credentials.

Starts the embedded hub on loopback, creates a sample repository and an
`agent:auto` issue on it, sets the repository up with `cxo-setup`, runs
`cxo-run` (the production pipeline, with the demo agent behind the command
adapter) and prints the draft PR, its report and the issue's labels.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from .cli.common import add_version

SAMPLE = {
    "README.md": "# sample\n\nA tiny calculator used by the cxo demo.\n",
    "calc/__init__.py": "",
    "calc/ops.py": 'def add(a, b):\n    """The sum of a and b."""\n    return a + b\n',
    "tests/__init__.py": "",
    # unittest, not pytest: the demo needs nothing beyond cxo itself, so it also runs from an installed wheel.
    "tests/test_ops.py": "import unittest\n\nfrom calc.ops import add\n\n\nclass AddTest(unittest.TestCase):\n"
                         "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n",
}
ISSUE_BODY = """Add `multiply(a, b)` to `calc/ops.py`.

Acceptance: `multiply(6, 7) == 42`; a focused test covers it.
"""
TREE_BODY = """The calculator needs `multiply(a, b)` and, built on it, `power(base, exponent)`.
"""
TOKEN = "demo-token"
GIT_ID = {
    "GIT_AUTHOR_NAME": "Demo Maintainer", "GIT_AUTHOR_EMAIL": "maintainer@example.com",
    "GIT_COMMITTER_NAME": "Demo Maintainer", "GIT_COMMITTER_EMAIL": "maintainer@example.com",
}


def say(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)


def call(api: str, method: str, path: str, body=None) -> dict:
    request = urllib.request.Request(
        api + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {TOKEN}", "Accept": "application/vnd.github+json",
                 "Content-Type": "application/json", "User-Agent": "cxo-demo"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else {}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ID})


def make_sample(root: Path, clone_url: str) -> None:
    for rel, text in SAMPLE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Sample project")
    git(root, "remote", "add", "origin", clone_url)
    from .gitutil import token_env

    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=root, check=True, capture_output=True,
                   env={**os.environ, **token_env(TOKEN)})


def write_demo_policy(target: Path) -> None:
    """Point the policy at the demo agent and let the runner run the sample's tests."""
    import yaml

    path = target / ".codex-orchestrator" / "config.yaml"
    policy = yaml.safe_load(path.read_text()) or {}
    policy["codex"] = {"command": sys.executable, "args": ["-m", "cxo.demo_agent"]}
    policy["checks"] = [{"name": "tests", "command": f"{sys.executable} -m unittest"}]
    policy.setdefault("reviewGates", {})["quality"] = {"testCommand": f"{sys.executable} -m unittest ${{tests}}"}
    # An independent reviewer pass, run read-only by the review gate.
    policy["reviewGates"]["reviewer"] = {"command": sys.executable, "args": ["-m", "cxo.demo_agent", "--review"]}
    # The demo agent and the sample's tests run on this interpreter: show its environment and cxo itself in the
    # sandbox, even from a venv under /tmp (the sandbox's /tmp is private and empty) that is not activated.
    # The worktrees live in the work directory too, so a second demo run (which recreates it) starts clean instead of
    # finding the last run's worktree under the user's state directory.
    policy.setdefault("runner", {})["workspaceRoot"] = str(target.parent / "worktrees")
    policy.setdefault("agent", {})["readPaths"] = sorted({sys.prefix, str(Path(__file__).resolve().parents[1])})
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    # cxo reads the policy from the fetched base branch: commit and push it, as a maintainer would.
    from .gitutil import token_env

    git(target, "add", ".codex-orchestrator")
    git(target, "commit", "-q", "-m", "cxo policy")
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=target, check=True, capture_output=True,
                   env={**os.environ, **GIT_ID, **token_env(TOKEN)})
    git(target, "fetch", "-q", "origin")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="make demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_version(p, "cxo.demo")
    p.add_argument("--dir", default=".demo", help="work directory, recreated on every run (default: .demo)")
    p.add_argument("--tree", action="store_true",
                   help="the agent:plan-auto part: a parent planned into two children (multiply, then power) and one "
                        "integration draft PR")
    args = p.parse_args(argv)
    try:
        return demo(Path(args.dir).resolve(), args.tree)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except Exception as exc:  # one line and a crash log, never a traceback
        from .cli.common import crash_log

        say(f"internal error: {type(exc).__name__}: the traceback is in {crash_log('cxo-demo', exc)}")
        return 70


def demo(work: Path, tree: bool = False) -> int:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    from .hub.server import HubServer

    hub = HubServer(work / "hub", port=0)
    hub.start()
    try:
        say(f"hub serving at {hub.url}")
        repo = call(hub.url, "POST", "/user/repos", {"name": "sample"})
        owner, name = repo["owner"]["login"], repo["name"]
        make_sample(work / "sample", repo["clone_url"])
        say(f"created {owner}/{name} and pushed the sample project")
        target = work / "checkout"
        subprocess.run(["git", "clone", "-q", repo["clone_url"], str(target)], check=True, capture_output=True)

        os.environ.update({"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": hub.url, "CXO_STATE_DIR": str(work / "state")})
        os.environ.pop("GH_TOKEN", None)
        from .cli import run as run_cli
        from .cli import setup as setup_cli

        if setup_cli.main(["--target", str(target), "--api-url", hub.url, "--prepare-labels"]) != 0:
            say("cxo-setup failed")
            return 1
        write_demo_policy(target)
        if tree:
            issue = call(hub.url, "POST", f"/repos/{owner}/{name}/issues",
                         {"title": "A calculator with powers", "body": TREE_BODY, "labels": ["agent:plan-auto"]})
        else:
            issue = call(hub.url, "POST", f"/repos/{owner}/{name}/issues",
                         {"title": "Add multiply to calc.ops", "body": ISSUE_BODY, "labels": ["agent:auto"]})
        say(f"opened issue #{issue['number']} with {'agent:plan-auto' if tree else 'agent:auto'}; running cxo-run")

        out_path = work / "final-envelope.json"

        def cxo_run() -> int:
            with open(out_path, "w") as out:
                saved, sys.stdout = sys.stdout, out
                try:
                    return run_cli.main(["--target", str(target), "--issue", str(issue["number"])])
                finally:
                    sys.stdout = saved

        code = cxo_run()
        waiting = (json.loads(out_path.read_text()).get("blocked") or {}).get("reason", "")
        if tree and code == 3 and waiting.startswith("plan awaits approval"):
            # planning.requireApproval (what cxo-setup writes): the plan is posted on the parent and waits. The
            # maintainer approves it with the label and takes the block off; the next run creates the children.
            say("the plan is posted on the parent and awaits approval: approving it as a maintainer would "
                "(label agent:plan-approved), then running cxo-run again")
            call(hub.url, "POST", f"/repos/{owner}/{name}/issues/{issue['number']}/labels",
                 {"labels": ["agent:plan-approved"]})
            call(hub.url, "DELETE", f"/repos/{owner}/{name}/issues/{issue['number']}/labels/agent:blocked")
            code = cxo_run()
        if code not in (0, 3):
            say(f"cxo-run failed with exit status {code} (see its error above)")
            return code
        final = json.loads(out_path.read_text())
        issue_now = call(hub.url, "GET", f"/repos/{owner}/{name}/issues/{issue['number']}")
        labels = [lab["name"] for lab in issue_now["labels"]]
        pr = (final.get("publish") or {}).get("pull_request")
        print(f"outcome:   {(final.get('publish') or {}).get('outcome', final['status'])} (cxo-run exit {code})")
        if pr:
            body = call(hub.url, "GET", f"/repos/{owner}/{name}/pulls/{pr['number']}")
            print(f"draft PR:  {body['html_url']} (draft={body['draft']}, head={body['head']['ref']})")
            print(f"labels:    {', '.join(labels)}")
            if tree:
                for child in call(hub.url, "GET", f"/repos/{owner}/{name}/issues/{issue['number']}/sub_issues"):
                    print(f"child:     #{child['number']} {child['title']} "
                          f"({', '.join(lab['name'] for lab in child['labels'])})")
            print("\n----- review report (PR body) -----\n" + body["body"])
        else:
            print(f"labels:    {', '.join(labels)}")
            print(f"blocked:   {final['blocked']['reason']}")
        print(f"\nwork dir:  {work} (hub data, checkout, run state)")
        return code
    finally:
        hub.stop()


if __name__ == "__main__":
    sys.exit(main())
