"""cxo-setup: write `.codex-orchestrator/` policy and prompts; --prepare-labels creates missing labels."""

import json
import sys

from .common import add_target, parser, progress, run


def main(argv=None) -> int:
    p = parser("cxo-setup", "Write the repository policy (.codex-orchestrator/config.yaml) and the package prompts "
               "into the target repository, inferring owner/repo from the origin remote. Files you edited are kept "
               "unless you ask for them to be replaced.")
    add_target(p)
    p.add_argument("--github-owner", help="override the owner inferred from origin")
    p.add_argument("--github-repo", help="override the repository inferred from origin")
    p.add_argument("--api-url", help="API base URL to record in the committed policy (GitHub Enterprise, the hub); "
                   "GITHUB_API_URL wins over it in GitHub Actions; to keep an address local, set GITHUB_API_URL "
                   "instead")
    p.add_argument("--prepare-labels", action="store_true", help="create the missing runner labels")
    p.add_argument("--dry-run", action="store_true", help="print the plan; write nothing, create nothing")
    p.add_argument("--force", action="store_true", help="overwrite an edited config.yaml")
    p.add_argument("--replace-package-skills", action="store_true", help="refresh edited package prompt files")
    p.add_argument("--skills-root", help="accepted for compatibility with the seed; prompts come from the package")
    p.add_argument("--json", action="store_true", help="print the plan/result as JSON on stdout")
    p.add_argument("--migrate", action="store_true", help="write the seed's .codex-orchestrator/config.json as the "
                   "equivalent config.yaml and print what changed (config.json is left in place; config.yaml wins)")
    p.add_argument("--actions", action="store_true",
                   help="write the GitHub Actions workflows .github/workflows/cxo.yml (issues -> cxo-run) and "
                        "cxo-gates.yml (safety and tdd gates on every PR) instead; with --dry-run print them")
    args = p.parse_args(argv)

    def say(message):
        progress("cxo-setup", message)

    def body():
        from pathlib import Path

        from .. import policy as policy_mod
        from .. import setup_repo
        from ..errors import UsageError
        from ..gitutil import is_repo

        target = Path(args.target).resolve()
        if not target.is_dir() or not is_repo(target):
            raise UsageError(f"--target {target}: not a git repository: run setup inside a clone of your repository")
        if args.actions:
            return write_workflows(target, args.dry_run, args.force, say)
        if args.migrate:
            from ..policy.migrate import migrate

            yaml_text, lines = migrate(target)
            for line in lines:
                sys.stdout.write(line + "\n")
            if not args.dry_run:
                (target / policy_mod.POLICY_DIR / "config.yaml").write_text(yaml_text)
                policy_mod.load(target, working_copy=True)  # what was written must load
            say(f"{'would write' if args.dry_run else 'wrote'} .codex-orchestrator/config.yaml")
            return
        result = setup_repo.plan(target, args.github_owner, args.github_repo, args.api_url, args.force,
                                 args.replace_package_skills)
        if args.prepare_labels:
            from ..connect import tracker_for

            overrides = {"github": {k: v for k, v in (("owner", result.owner), ("repo", result.repo),
                                                      ("apiUrl", args.api_url)) if v}}
            pol = policy_mod.load(target, overrides=overrides)
            tracker = tracker_for(pol)
            setup_repo.plan_labels(tracker, pol.labels, result)
        prefix = "would " if args.dry_run else ""
        for rel in result.write:
            say(f"{prefix}write .codex-orchestrator/{rel}")
        for rel in result.kept:
            flag = "--force" if rel == "config.yaml" else "--replace-package-skills"
            say(f"kept your edits in .codex-orchestrator/{rel} (use {flag} to overwrite)")
        for name in result.labels_to_create:
            say(f"{prefix}create label {name}")
        if not args.dry_run:
            setup_repo.apply(target, result, args.api_url)
            if args.prepare_labels:
                setup_repo.create_labels(tracker, pol.labels, result, say, pol.label_meta)
            policy_mod.load(target)  # what was written must load
        if args.api_url and "config.yaml" in result.write:
            say(f"warning: --api-url is {'to be ' if args.dry_run else ''}recorded as github.apiUrl in "
                ".codex-orchestrator/config.yaml, which you commit: it applies wherever the policy is read, except "
                "in GitHub Actions (GITHUB_ACTIONS=true), where GITHUB_API_URL wins; leave --api-url out and set "
                "GITHUB_API_URL instead to keep the address local")
        if args.json:
            sys.stdout.write(json.dumps({"dry_run": args.dry_run, **result.to_json()}, indent=2) + "\n")
        if not result.owner:
            say("note: no GitHub owner/repo found (no origin remote?): set github.owner and github.repo")

    return run("cxo-setup", body)


def write_workflows(target, dry_run: bool, force: bool, say) -> int:
    """The two workflows; max-parallel is the policy's concurrency.children. An edited file is kept unless
    --force."""
    from .. import policy as policy_mod
    from .. import workflows
    from ..errors import CxoError

    try:
        children = policy_mod.load(target, working_copy=True, infer_repo=False)["concurrency"]["children"]
    except CxoError as exc:
        say(f"note: the policy does not load ({exc.message}): max-parallel 2")
        children = 2
    for rel, text in workflows.files(children).items():
        path = target / rel
        if dry_run:
            sys.stdout.write(f"# --- {rel}\n{text}")
            continue
        if path.exists() and path.read_text(errors="replace") != text and not force:
            say(f"kept your edits in {rel} (use --force to overwrite)")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        say(f"wrote {rel}")
    return 0
