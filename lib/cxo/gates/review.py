"""review: an independent reviewer agent judges the change, read-only, without the implementer's transcript.

The reviewer runs through the same adapter as the implementer (the Codex CLI with
a read-only sandbox, or the policy's command) in a scratch copy of the result. Its
answer must match schema/review-verdict.schema.json. The copy is fingerprinted
before and after: a reviewer that wrote to it is caught, whatever its sandbox.
"""

import hashlib
import json
import os
import stat
from pathlib import Path

from .. import agents, jsonin
from ..agents import environment
from ..agents import sandbox as sandboxes
from ..agents.base import AgentSpec
from ..policy import render
from ..prepare import failure, run_setup
from ..resources import schema_text
from ..schemas import errors as schema_errors
from ..untrusted import clean, fence, one_line
from .base import Gate, verdict
from .paths import lay, quality, runtime_files
from .tdd import Scratch

DIFF_LIMIT = 200_000
DEFAULT_FOCUS = ("Correctness against the issue, missed edge cases, security problems (injection, secrets, "
                 "unsafe file or network access), tests that do not exercise the change, and behaviour the "
                 "issue did not ask for.")


def fingerprint(root: Path) -> str:
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name == ".git" and path.is_file():
                continue
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(os.readlink(path).encode() if path.is_symlink() else path.read_bytes())
    return digest.hexdigest()


def set_writable(root: Path, writable: bool) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            path.chmod(mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    mode = root.stat().st_mode
    root.chmod(mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


# Real content whatever the attributes say: no "Binary files differ", no textconv or external diff drivers.
DIFF_FLAGS = ("--no-color", "--text", "--no-textconv", "--no-ext-diff")


def attribute_files(ctx) -> list[str]:
    """Changed `.gitattributes` files: they steer how git shows, diffs and converts everything else."""
    return [p for p in ctx.changes.files if p.rsplit("/", 1)[-1] == ".gitattributes"]


def attributes_note(ctx) -> str:
    files = attribute_files(ctx)
    if not files:
        return ""
    return ("NOTE FROM THE RUNNER: this change edits git attributes files: " + ", ".join(files) + ". Attributes "
            "decide how git diffs, converts and merges files (`-diff` or `binary` hide content from diffs, "
            "`filter`/`eol`/`working-tree-encoding` rewrite it). Check why the change needs them. The diff below "
            "is shown with attributes ignored.\n\n")


def full_diff(ctx) -> str:
    from .content import git_bytes

    args = ["diff", *DIFF_FLAGS, ctx.base] + ([ctx.head] if ctx.head else [])
    raw = git_bytes(ctx.worktree, *args)
    if ctx.head is None:
        for path in ctx.changes.untracked:
            raw += git_bytes(ctx.worktree, "diff", *DIFF_FLAGS, "--no-index", "--", "/dev/null", path, check=False)
    text = raw.decode(errors="replace").replace("\0", "\\0")
    return text if len(text) <= DIFF_LIMIT else text[:DIFF_LIMIT] + "\n… (diff truncated)\n"


class ReviewGate(Gate):
    name = "review"
    role = "review"  # CODEX_ORCHESTRATOR_ROLE for the reviewer

    def applies(self, ctx):
        q = quality(ctx.policy)
        if not (q["enabled"] and q["codeReview"]):
            return False, "code review is turned off by policy (reviewGates.quality.codeReview)"
        if not runtime_files(ctx):
            return False, "no runtime files changed (tests, docs or config only)"
        return True, ""

    def focus(self, ctx) -> str:
        return DEFAULT_FOCUS

    def run(self, ctx) -> dict:
        work = Path(ctx.run_dir) / self.name
        work.mkdir(parents=True, exist_ok=True)
        (work / "out").mkdir(exist_ok=True)
        report_path = work / "out" / "verdict.json"
        report_path.unlink(missing_ok=True)
        rev = ctx.head or "HEAD"
        with Scratch(Path(ctx.worktree), rev, work / "tree") as tree:
            if ctx.head is None:  # lay the uncommitted part of the change over the copy
                for path in ctx.changes.staged + ctx.changes.unstaged + ctx.changes.untracked:
                    if path in ctx.changes.deleted:
                        (tree / path).unlink(missing_ok=True)
                    else:
                        lay(ctx, path, tree)
            section = run_setup(ctx.policy, tree, work, self.name, ctx.say)  # the reviewer's copy is a fresh tree
            if failure(section):
                return verdict(self.name, "fail", failure(section), logs=[Path(s["log"]) for s in section["steps"]])
            before = fingerprint(tree)
            set_writable(tree, False)
            try:
                result, prompt_path = self._run_reviewer(ctx, tree, work, report_path)
            except FileNotFoundError as exc:
                where = ("reviewGates.reviewer.command" if ctx.policy["reviewGates"]["reviewer"]
                         else "codex.command")
                why = "not found on PATH" if exc.strerror == "not found on PATH" else "not executable"
                return verdict(self.name, "fail", f"{exc.filename} {why}: install it or set {where} in the policy")
            finally:
                set_writable(tree, True)
            changed = fingerprint(tree) != before
        logs = [work / "reviewer.log", prompt_path]
        if changed:
            return verdict(self.name, "fail", "the reviewer modified its read-only workspace: its verdict is void",
                           logs=logs)
        if result.timed_out or result.idle_timed_out:
            return verdict(self.name, "fail", "the reviewer timed out", logs=logs)
        if result.exit_code != 0:
            return verdict(self.name, "fail", f"the reviewer exited with status {result.exit_code}", logs=logs)
        if not report_path.is_file():
            return verdict(self.name, "fail", "the reviewer wrote no verdict", logs=logs)
        try:
            answer = jsonin.loads(report_path.read_bytes())
        except (ValueError, OSError) as exc:
            return verdict(self.name, "fail", f"the reviewer's verdict is not JSON ({exc})", logs=logs)
        problems = schema_errors("review-verdict", answer)
        if problems:
            return verdict(self.name, "fail", f"the reviewer's verdict is malformed at {problems[0]}", logs=logs)
        findings = [{"file": f["file"], "line": f["line"], "severity": f["severity"], "message": f["message"]}
                    for f in answer["findings"]]
        evidence = [{"reviewer_verdict": answer["verdict"], "reviewer_summary": answer["summary"]}]
        for path in attribute_files(ctx):
            findings.append({"file": path, "line": None, "severity": "info", "rule": "gitattributes",
                             "message": "the change edits git attributes (shown to the reviewer with a warning)"})
            evidence.append({"gitattributes_changed": path})
        if answer["verdict"] == "request-changes":
            return verdict(self.name, "fail", f"the reviewer requests changes: {answer['summary']}", evidence,
                           findings, logs)
        return verdict(self.name, "pass", f"approved by an independent reviewer: {answer['summary']}", evidence,
                       findings, logs)

    def _run_reviewer(self, ctx, tree: Path, work: Path, report_path: Path):
        policy = ctx.policy
        reviewer = policy["reviewGates"]["reviewer"]
        codex = dict(policy["codex"])
        if reviewer:
            codex.update(command=reviewer["command"], args=reviewer["args"],
                         timeoutSeconds=reviewer.get("timeoutSeconds", codex["timeoutSeconds"]))
        issue = ctx.issue or {"number": 0, "title": "(no issue given)", "body": ""}
        schema = json.loads(schema_text("review-verdict.schema.json"))
        gates = "\n".join(f"- {v['gate']}: {v['verdict']} - {v['summary']}" for v in ctx.verdicts) or "- (none)"
        template = policy.prompt_path("review").read_text()
        prompt = render(template, {
            "issueNumber": issue["number"],
            "issueTitle": fence(one_line(issue.get("title"), 200), "the issue title, written by its author"),
            "issueBody": fence(clean(issue.get("body")) or "(no description)", "the issue body, written by its author"),
            "gateSummaries": gates,
            "diff": attributes_note(ctx) + fence(full_diff(ctx), "the diff of the change under review, written by "
                                                 "the implementing agent"),
            "focus": self.focus(ctx), "reportPath": report_path, "verdictSchema": json.dumps(schema, indent=2),
        }, str(policy.prompt_path("review")))
        prompt_path = work / "prompt.md"
        prompt_path.write_text(prompt)
        kind = agents.kind_of(policy, codex)
        adapter, codex = agents.adapter(kind), agents.settings(policy, kind, codex)
        env = environment.build(work / "home", codex["envPassthrough"], model_keys=adapter.KEY_ENV)
        config_home = adapter.prepare_home(work / "home", codex)
        if adapter.HOME_ENV and config_home is not None:
            env[adapter.HOME_ENV] = str(config_home)
        # Read-only: the reviewer writes nothing but its verdict (and its own HOME).
        scope = sandboxes.worktree_scope(policy, tree, work / "scratch", writable=[report_path.parent, work / "home"],
                                         git_write=False, worktree_write=False, readable=[prompt_path])
        box = sandboxes.make(policy, scope)
        env["TMPDIR"] = "/tmp" if box.kind != "none" else str(scope.tmp)
        spec = AgentSpec(worktree=tree, prompt_path=prompt_path, report_path=report_path,
                         issue_number=issue["number"], branch_name="", state_dir=policy.state_dir, run_dir=work,
                         log_path=work / "reviewer.log", timeout_s=float(codex["timeoutSeconds"]),
                         idle_timeout_s=float(codex["idleTimeoutSeconds"]), env=env, sandbox=box,
                         role=self.role)
        ctx.say(f"{self.name}: running the reviewer")
        return adapter.run(codex, spec, ctx.say, read_only=True), prompt_path
