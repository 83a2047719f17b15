"""visual: UI work passes only with screenshots the runner itself saw being made.

The runner runs the policy's proof command (or the built-in `cxo-proof`) from the
worktree after the agent, with the seed's environment; it passes only if the
command exits 0 AND at least `minScreenshots` screenshots were created or updated
in the proof dir. Screenshots anywhere else do not count and fail the gate.
"""

import hashlib
import re
import shlex
import sys
from pathlib import Path

from ..agents import environment
from ..globs import match
from ..policy import render
from ..untrusted import one_line
from .base import Gate, verdict
from .checks import tail

IMAGES = (".png", ".jpg", ".jpeg", ".webp")


def visual_policy(policy) -> dict:
    return policy["reviewGates"]["visualProof"]


def snapshot(proof_dir: Path) -> dict[str, str]:
    if not proof_dir.is_dir():
        return {}
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(proof_dir.rglob("*"))
            if p.is_file() and not p.is_symlink() and p.suffix.lower() in IMAGES}


class VisualGate(Gate):
    name = "visual"

    def applies(self, ctx):
        v = visual_policy(ctx.policy)
        if not v["enabled"]:
            return False, "visual proof is turned off by policy"
        ui = [p for p in ctx.changes.files if match(p, v["uiChangedPathGlobs"])]
        labels = {label.lower() for label in (ctx.issue or {}).get("labels", [])}
        issue = ctx.issue or {}
        text = f"{issue.get('title') or ''}\n{issue.get('body') or ''}"
        wording = [p for p in v.get("issueTextPatterns") or [] if re.search(p, text, re.I)]
        if not ui and not labels & {label.lower() for label in v["uiLabels"]} and not wording:
            return False, "no UI files changed, no UI label on the issue and no UI wording in it"
        return True, ""

    def command(self, ctx, v: dict, number) -> str | None:
        if v["runnerValidationCommand"]:
            return render(v["runnerValidationCommand"], {"issueNumber": number},
                          "reviewGates.visualProof.runnerValidationCommand")
        if v["devServer"] and v["urls"]:
            server = v["devServer"]
            parts = [str(Path(sys.executable).parent / "cxo-proof"), "--worktree", str(ctx.worktree),
                     "--server", server["command"], "--ready-url", server["url"],
                     "--timeout", str(server.get("readyTimeoutSeconds", 60))]
            for url in v["urls"]:
                parts += ["--url", url]
            return shlex.join(parts)
        return None

    def run(self, ctx) -> dict:
        v = visual_policy(ctx.policy)
        number = (ctx.issue or {}).get("number", 0)
        command = self.command(ctx, v, number)
        if command is None:
            return verdict(self.name, "fail", "UI change needs visual proof: configure "
                           "reviewGates.visualProof.runnerValidationCommand (or devServer and urls)")
        worktree = Path(ctx.worktree).resolve()
        rel_dir = render(v["artifactDir"], {"issueNumber": number}, "reviewGates.visualProof.artifactDir")
        proof_dir = (worktree / rel_dir).resolve()
        if worktree not in proof_dir.parents:
            return verdict(self.name, "fail", f"artifactDir {rel_dir} leaves the worktree")
        proof_dir.mkdir(parents=True, exist_ok=True)
        run_dir = Path(ctx.run_dir) / "visual"
        before = snapshot(proof_dir)
        env = environment.build(run_dir / "home", v["envPassthrough"])
        env.update({
            "CODEX_ORCHESTRATOR_ISSUE_NUMBER": str(number), "CODEX_ORCHESTRATOR_ARTIFACT_DIR": str(proof_dir),
            "CODEX_ORCHESTRATOR_PROOF_DIR": str(proof_dir), "CODEX_ORCHESTRATOR_WORKTREE_PATH": str(worktree),
            # Browser state stays out of the worktree, so it is never committed.
            "CODEX_ORCHESTRATOR_PLAYWRIGHT_PROFILE_DIR": str(run_dir / "playwright-profile"),
            "PLAYWRIGHT_BROWSERS_PATH": str(run_dir / "playwright-browsers"),
            "CODEX_ORCHESTRATOR_CHANGED_FILES": "\n".join(ctx.changes.files),
        })
        log = run_dir / "proof.log"
        ctx.say(f"visual: running {one_line(command, 100)}")
        from .. import proc
        from ..agents import sandbox as sandboxes

        scope = sandboxes.worktree_scope(ctx.policy, worktree, run_dir / "scratch",
                                         writable=[run_dir / "home", run_dir / "playwright-profile"], git_write=False)
        (run_dir / "playwright-profile").mkdir(parents=True, exist_ok=True)
        box = sandboxes.make(ctx.policy, scope)
        code, timed_out = proc.run_command(command, worktree, log, v["runnerTimeoutMs"] / 1000, env, box)
        findings = self._escapes(ctx, proof_dir, worktree)
        after = snapshot(proof_dir)
        fresh = [p for p, digest in after.items() if before.get(p) != digest]
        evidence = [{"screenshot": str(Path(p).relative_to(worktree)), "sha256": after[p],
                     "bytes": Path(p).stat().st_size} for p in fresh]
        if timed_out:
            return verdict(self.name, "fail", f"proof command timed out after {v['runnerTimeoutMs']} ms", evidence,
                           findings, [log])
        if code != 0:
            return verdict(self.name, "fail", f"proof command exited with status {code}: {tail(log, 3)[-200:]}",
                           evidence, findings, [log])
        if findings:
            return verdict(self.name, "fail", findings[0]["message"], evidence, findings, [log])
        if len(fresh) < v["minScreenshots"]:
            return verdict(self.name, "fail", f"proof command exited 0 but made {len(fresh)} new screenshot(s) in "
                           f"{rel_dir} (at least {v['minScreenshots']} needed): a skipped browser run proves nothing",
                           evidence, logs=[log])
        return verdict(self.name, "pass", f"{len(fresh)} screenshot(s) made by the runner's proof command",
                       evidence, logs=[log])

    def _escapes(self, ctx, proof_dir: Path, worktree: Path) -> list[dict]:
        """Screenshots that claim to be proof but live outside the proof dir."""
        findings = []
        for path in proof_dir.rglob("*"):
            if path.is_symlink() and proof_dir not in path.resolve().parents:
                findings.append({"file": str(path.relative_to(worktree)), "line": None, "severity": "blocker",
                                 "message": f"screenshot {path.name} links outside the proof dir"})
        for artifact in (ctx.report or {}).get("artifacts") or []:
            target = (worktree / artifact["path"]).resolve()
            if target.suffix.lower() in IMAGES and proof_dir not in target.parents:
                findings.append({"file": artifact["path"], "line": None, "severity": "blocker",
                                 "message": f"screenshot {artifact['path']} is outside the proof dir "
                                            f"{proof_dir.relative_to(worktree)}"})
        return findings
