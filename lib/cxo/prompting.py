"""Build the agent's prompt from the prompt template, the issue and the repository's policy."""

import json

from .policy import render
from .resources import schema_dir

RUNNER_MARKER = "<!-- cxo:"


def trusted_comments(comments: list[dict], trusted: list[str]) -> list[dict]:
    """Comments by trusted authors, minus the runner's own claim/report comments."""
    allowed = {a.upper() for a in trusted}
    return [c for c in comments
            if (c.get("author_association") or "NONE").upper() in allowed
            and RUNNER_MARKER not in (c.get("body") or "")]


def policy_summary(policy) -> str:
    checks = policy["checks"]
    lines = ["- Checks the runner will run after you: " + (
        ", ".join(f"`{c['command']}`" for c in checks) if checks else "none configured")]
    lines.append("- Gates that will check your change: " + ", ".join(policy["reviewGates"]["order"]))
    lines.append("- Files you must not add or change (deny rules): " + ", ".join(
        f"`{p}`" for p in policy["deny"]["paths"][:12]))
    return "\n".join(lines)


def build(policy, issue: dict, comments: list[dict], report_path, branch: str) -> str:
    template = policy.prompt_path("implement").read_text()
    kept = trusted_comments(comments, policy["github"]["trustedAuthorAssociations"])
    if kept:
        shown = "\n\n".join(f"**@{c['user']['login']}** ({c.get('author_association', 'NONE').lower()}):\n"
                            f"{c.get('body') or ''}" for c in kept)
        comment_text = "## Comments from maintainers\n\n" + shown
    else:
        comment_text = ""
    commit_rule = ("You may make local commits on this branch; they are checked like the rest of the change."
                   if policy["git"]["allowLocalCommits"]
                   else "Do not commit: leave your changes uncommitted, the runner commits them.")
    schema = json.loads((schema_dir() / "completion-report.schema.json").read_text())
    values = {
        "issueNumber": issue["number"], "issueTitle": issue.get("title") or "",
        "issueBody": issue.get("body") or "(no description)", "issueComments": comment_text,
        "policySummary": policy_summary(policy), "commitRule": commit_rule, "reportPath": report_path,
        "branchName": branch, "reportSchema": json.dumps(schema, indent=2),
    }
    return render(template, values, str(policy.prompt_path("implement")))
