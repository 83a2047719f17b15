"""The agent's own git repository over its work tree, and taking its work back the way one takes an untrusted remote's.

The runner makes each work tree as a linked worktree of the target repository (its
branch, index and HEAD live in the runner's `.git/worktrees/<name>`, which no
sandbox shows) and then puts a repository of the agent's own at `<tree>/.git`: its
own refs, config, hooks, `info/` and a writable object directory, borrowing the
runner's objects read-only through `objects/info/alternates`. Every runner git
command in the tree runs with the runner's git directory (gitutil.runner_view), so
nothing the agent writes is ever read by one.

After the agent, `ingest` fetches only the agent's HEAD into the runner's repository
(git-upload-pack runs inside the sandbox, in the agent's repository; the runner's
side checks every object, `transfer.fsckObjects`), verifies that it descends from
where the run started, that no commit carries a runner-reserved trailer or the
runner's identity, and only then moves the run's branch there.
"""

import os
import re
import shlex
import shutil
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import CxoError
from ..gitutil import SIDECAR, config_env, git, is_ancestor, rev_parse

# Trailers only the runner writes: feedback rounds and budgets find cxo's own commits by them.
RESERVED_TRAILER = re.compile(r"^Cxo-[A-Za-z-]+:", re.M)
AGENT_NAME, AGENT_EMAIL = "cxo agent", "agent@cxo.invalid"


def sidecar(path: Path) -> Path:
    return Path(path).parent / SIDECAR.format(Path(path).name)


def is_agent_tree(path: Path) -> bool:
    return sidecar(path).is_file()


def create(target: Path, path: Path, branch: str | None, start: str, *, reset_branch: bool = False) -> None:
    """`path` as a work tree of `target` on a new `branch` at `start` (`reset_branch`: the branch may exist and is
    moved there; None: detached), with the agent's own repository at `path/.git`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    how = ["--detach"] if branch is None else ["-B" if reset_branch else "-b", branch]
    git(target, "worktree", "add", "--quiet", *how, "--", str(path), start)
    adopt(path)


def adopt(path: Path) -> None:
    """Turn a runner-made linked worktree into an agent tree: the runner's git directory recorded beside it, the
    agent's repository put in its `.git`."""
    path = Path(path)
    admin = Path(git(path, "rev-parse", "--path-format=absolute", "--git-dir").strip())
    common = Path(git(path, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())
    fmt = git(path, "rev-parse", "--show-object-format", retcode=None).strip() or "sha1"
    branch = git(path, "symbolic-ref", "--quiet", "HEAD", retcode=None).strip()
    head = rev_parse(path, "HEAD")
    sidecar(path).write_text(str(admin) + "\n")
    (path / ".git").unlink()
    _init(path, common / "objects", fmt, branch or None, head)
    shutil.copyfile(admin / "index", path / ".git" / "index")  # the same tree, checked out a moment ago


def fresh(path: Path) -> None:
    """A new agent repository at the runner's HEAD before each agent run: nothing an earlier agent left in its
    repository (config, hooks, refs, objects) reaches the next one."""
    path = Path(path)
    if not is_agent_tree(path):
        adopt(path)
        return
    common = Path(git(path, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())
    admin = Path(git(path, "rev-parse", "--path-format=absolute", "--git-dir").strip())
    fmt = git(path, "rev-parse", "--show-object-format", retcode=None).strip() or "sha1"
    branch = git(path, "symbolic-ref", "--quiet", "HEAD", retcode=None).strip()
    head = rev_parse(path, "HEAD")
    dotgit = path / ".git"
    if dotgit.is_dir() and not dotgit.is_symlink():
        shutil.rmtree(dotgit)
    elif os.path.lexists(dotgit):
        dotgit.unlink()
    _init(path, common / "objects", fmt, branch or None, head)
    git(path, "update-index", "--refresh", "-q", retcode=None)
    shutil.copyfile(admin / "index", dotgit / "index")


def _init(path: Path, objects: Path, fmt: str, branch: str | None, head: str) -> None:
    gitdir = path / ".git"
    outside = path.parent  # never inside the tree: the runner's view would apply there
    git(outside, "init", "--quiet", "--template=", f"--object-format={fmt}", "--", str(path))
    (gitdir / "objects" / "info").mkdir(parents=True, exist_ok=True)
    (gitdir / "objects" / "info" / "alternates").write_text(f"{objects}\n")
    own = ["--git-dir", str(gitdir)]
    if branch:
        git(outside, *own, "update-ref", branch, head)
        git(outside, *own, "symbolic-ref", "HEAD", branch)
    else:
        git(outside, *own, "update-ref", "--no-deref", "HEAD", head)


def remove(target: Path, path: Path) -> None:
    """The work tree, the agent's repository in it and the runner's registration of it."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
    sidecar(path).unlink(missing_ok=True)
    git(target, "worktree", "prune", retcode=None)


@dataclass
class Ingested:
    head: str
    start: str
    commits: list[str] = field(default_factory=list)
    problem: str | None = None
    setid: list[str] = field(default_factory=list)


def upload_pack(box) -> str:
    """The `--upload-pack` command: git-upload-pack in the agent's repository, inside the sandbox (with an empty
    environment), so the agent's configuration is read only where the agent already is."""
    if box is None or box.kind == "none":
        argv = ["git-upload-pack"]
    else:  # the same view, no network: git-upload-pack needs none (and no egress proxy is started for it)
        argv = type(box)(replace(box.scope, network="none")).wrap(["git", "upload-pack"], Path("/"))
    path = os.environ.get("PATH", os.defpath)
    return shlex.join(["env", "-i", f"PATH={path}", "GIT_CONFIG_NOSYSTEM=1", "HOME=/nonexistent", *argv])


def ingest(policy, tree: Path, box, runner_name: str, runner_email: str) -> Ingested:
    """Take the agent's commits: fetched, checked, then the run's branch moved to them and the runner's index
    reset to that commit (the work tree stays as the agent left it: the rest of the change set)."""
    from .sandbox import strip_setid

    start = rev_parse(tree, "HEAD")
    done = Ingested(head=start, start=start)
    done.setid = strip_setid([tree])
    ref = f"refs/cxo/ingest/{uuid.uuid4().hex}"
    target = policy.target
    fsck = [("transfer.fsckObjects", "true"), ("fetch.fsckObjects", "true"), ("fetch.recurseSubmodules", "false"),
            ("protocol.file.allow", "always"), ("uploadpack.allowAnySHA1InWant", "false")]
    env = config_env(fsck)
    try:
        git(target, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-auto-gc",
            "--upload-pack", upload_pack(box), "--", str(Path(tree) / ".git"), f"+HEAD:{ref}", env=env)
    except CxoError as exc:
        done.problem = ("cannot take the agent's commits from its repository (its HEAD is missing, or an object "
                        f"failed git's checks): {exc.message}")
        return done
    try:
        head = rev_parse(target, ref)
    finally:
        git(target, "update-ref", "-d", ref, retcode=None)
    if not head:
        done.problem = "the agent's HEAD is not a commit"
        return done
    if head != start and not is_ancestor(target, start, head):
        done.problem = (f"the agent's HEAD {head[:12]} does not descend from {start[:12]}, where its run started "
                        "(history was rewritten): nothing of it is taken")
        return done
    if head != start:
        log = git(target, "log", "--format=%H%x00%an%x00%ae%x00%cn%x00%ce%x00%B%x01", f"{start}..{head}")
        for entry in filter(None, (e.strip("\n") for e in log.split("\x01"))):
            sha, an, ae, cn, ce, body = entry.split("\x00", 5)
            done.commits.append(sha)
            if RESERVED_TRAILER.search(body):
                done.problem = (f"agent commit {sha[:12]} carries a runner-reserved trailer (Cxo-…): the runner's "
                                "words are the runner's; nothing was taken")
            elif (an, ae) == (runner_name, runner_email) or (cn, ce) == (runner_name, runner_email):
                done.problem = (f"agent commit {sha[:12]} is signed with the runner's identity ({runner_name} "
                                f"<{runner_email}>): nothing was taken")
            if done.problem:
                return done
        git(tree, "update-ref", "HEAD", head, start)
    done.head = head
    git(tree, "reset", "--quiet")  # the runner's index at the agent's commit; the work tree untouched
    return done
