"""Real bare git repositories for the hub, served over smart HTTP by `git http-backend`."""

import os
import subprocess
from pathlib import Path

GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
IDENTITY = {"GIT_AUTHOR_NAME": "cxo-hub", "GIT_AUTHOR_EMAIL": "hub@localhost",
            "GIT_COMMITTER_NAME": "cxo-hub", "GIT_COMMITTER_EMAIL": "hub@localhost"}


class GitRepos:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, owner: str, name: str) -> Path:
        """<root>/<owner>/<name>.git; a second guard after the API's name rules: never a path outside root."""
        path = self.root / owner.lower() / f"{name.lower()}.git"
        if "/" in owner or "/" in name or owner in ("", ".", "..") or name in ("", ".", "..") or \
                not path.resolve().is_relative_to(self.root.resolve()):
            raise ValueError(f"repository path outside the git root: {owner!r}/{name!r}")
        return path

    def git(self, owner: str, name: str, *args: str, check: bool = True, env: dict | None = None) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=self.path(owner, name), capture_output=True, text=True,
            env={**os.environ, **GIT_ENV, **(env or {})},
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout if check else (proc.returncode, proc.stdout, proc.stderr)

    def create(self, owner: str, name: str, default_branch: str) -> None:
        path = self.path(owner, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "--bare", "-b", default_branch, str(path)], check=True,
                       capture_output=True, env={**os.environ, **GIT_ENV})
        self.git(owner, name, "config", "http.receivepack", "true")

    def init_commit(self, owner: str, name: str, branch: str, readme: str) -> None:
        """auto_init: one commit with a README on the default branch, written straight into the bare repo."""
        blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], input=readme, text=True, check=True,
                              capture_output=True, cwd=self.path(owner, name)).stdout.strip()
        tree = subprocess.run(["git", "mktree"], input=f"100644 blob {blob}\tREADME.md\n", text=True, check=True,
                              capture_output=True, cwd=self.path(owner, name)).stdout.strip()
        commit = self.git(owner, name, "commit-tree", tree, "-m", "Initial commit", env=IDENTITY).strip()
        self.git(owner, name, "update-ref", f"refs/heads/{branch}", commit)

    def ref_sha(self, owner: str, name: str, ref: str) -> str | None:
        code, out, _ = self.git(owner, name, "rev-parse", "--verify", "--quiet", ref + "^{commit}", check=False)
        return out.strip() if code == 0 else None

    def branches(self, owner: str, name: str) -> list[str]:
        out = self.git(owner, name, "for-each-ref", "--format=%(refname:short)", "refs/heads/")
        return [line for line in out.splitlines() if line]

    def refs(self, owner: str, name: str, prefix: str) -> list[tuple[str, str]]:
        """(refname, sha) for refs starting with refs/<prefix>."""
        out = self.git(owner, name, "for-each-ref", "--format=%(refname) %(objectname)", f"refs/{prefix.rstrip('/')}")
        pairs = [tuple(line.split(" ", 1)) for line in out.splitlines() if line]
        if not prefix.endswith("/"):
            # GitHub's matching-refs is a plain prefix match: heads/feature also returns featureA.
            out_all = self.git(owner, name, "for-each-ref", "--format=%(refname) %(objectname)", "refs/")
            pairs = [tuple(line.split(" ", 1)) for line in out_all.splitlines()
                     if line.startswith(f"refs/{prefix}")]
        return pairs

    def commits_between(self, owner: str, name: str, base: str, head: str) -> int:
        return int(self.git(owner, name, "rev-list", "--count", f"{base}..{head}").strip())

    def diff_stats(self, owner: str, name: str, base: str, head: str) -> dict:
        out = self.git(owner, name, "diff", "--numstat", f"{base}...{head}")
        adds = dels = files = 0
        for line in out.splitlines():
            a, d, _ = line.split("\t", 2)
            files += 1
            adds += int(a) if a.isdigit() else 0
            dels += int(d) if d.isdigit() else 0
        return {"additions": adds, "deletions": dels, "changed_files": files}

    def merge_base(self, owner: str, name: str, base: str, head: str) -> str | None:
        code, out, _ = self.git(owner, name, "merge-base", base, head, check=False)
        return out.strip() if code == 0 and out.strip() else None

    def file_diff(self, owner: str, name: str, old: str, new: str, path: str, context: int = 3) -> str:
        """The unified diff of one file between two commits (no attributes, no rename detection)."""
        return self.git(owner, name, "diff", f"-U{context}", "--no-color", "--no-ext-diff", "--no-textconv",
                        "--no-renames", old, new, "--", path)

    def changed_files(self, owner: str, name: str, old: str, new: str) -> list[dict]:
        """[{status, filename, additions, deletions, patch, sha}] between two commits, in path order.

        Renames are reported as a removal and an addition (no rename detection)."""
        statuses = {"A": "added", "D": "removed", "M": "modified", "T": "changed"}
        files = []
        numstat = self.git(owner, name, "diff", "--numstat", "--no-renames", old, new).splitlines()
        codes = self.git(owner, name, "diff", "--name-status", "--no-renames", old, new).splitlines()
        for counts, code_line in zip(numstat, codes, strict=True):
            adds, dels, filename = counts.split("\t", 2)
            code = code_line.split("\t", 1)[0][:1]
            patch = self.file_diff(owner, name, old, new, filename)
            at = patch.find("\n@@ ")
            found, out, _ = self.git(owner, name, "rev-parse", "--verify", "--quiet", f"{new}:{filename}",
                                     check=False)
            files.append({"filename": filename, "status": statuses.get(code, "modified"),
                          "additions": int(adds) if adds.isdigit() else 0,
                          "deletions": int(dels) if dels.isdigit() else 0,
                          "patch": patch[at + 1:].removesuffix("\n") if at >= 0 else "",
                          "sha": out.strip() if found == 0 else None})
        return files

    def commits(self, owner: str, name: str, base: str, head: str) -> list[dict]:
        """The commits in base..head, oldest first: sha, parents, tree, author/committer name, email, date, message."""
        fmt = "%H%x1f%P%x1f%T%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%B%x1e"
        out = self.git(owner, name, "log", "--reverse", f"--format={fmt}", f"{base}..{head}")
        commits = []
        for record in out.split("\x1e"):
            record = record.lstrip("\n")
            if not record:
                continue
            sha, parents, tree, an, ae, ad, cn, ce, cd, message = record.split("\x1f", 9)
            commits.append({"sha": sha, "parents": parents.split(), "tree": tree, "message": message.rstrip("\n"),
                            "author": {"name": an, "email": ae, "date": ad},
                            "committer": {"name": cn, "email": ce, "date": cd}})
        return commits

    def merge_tree(self, owner: str, name: str, base_sha: str, head_sha: str) -> str | None:
        """The merged tree of base and head, or None on conflicts."""
        code, out, _ = self.git(owner, name, "merge-tree", "--write-tree", base_sha, head_sha, check=False)
        return out.split()[0] if code == 0 and out.strip() else None

    def merge(self, owner: str, name: str, base_ref: str, head_sha: str, message: str) -> str | None:
        base_sha = self.ref_sha(owner, name, f"refs/heads/{base_ref}")
        tree = self.merge_tree(owner, name, base_sha, head_sha)
        if tree is None:
            return None
        commit = self.git(owner, name, "commit-tree", tree, "-p", base_sha, "-p", head_sha, "-m", message,
                          env=IDENTITY).strip()
        self.git(owner, name, "update-ref", f"refs/heads/{base_ref}", commit, base_sha)
        return commit

    def http_backend(self, method: str, path_info: str, query: str, headers, body: bytes,
                     remote_user: str | None) -> tuple[int, list[tuple[str, str]], bytes]:
        """Run `git http-backend` as CGI for one smart-HTTP request."""
        env = {
            **os.environ, **GIT_ENV, "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path_info, "QUERY_STRING": query, "REQUEST_METHOD": method,
            "CONTENT_TYPE": headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
        }
        if headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = headers["Content-Encoding"]
        if headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = headers["Git-Protocol"]
        if remote_user:
            env["REMOTE_USER"] = remote_user
        proc = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env)
        raw = proc.stdout
        head, _, payload = raw.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = raw.partition(b"\n\n")
        status, out_headers = 200, []
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                out_headers.append((key.strip(), value.strip()))
        return status, out_headers, payload
