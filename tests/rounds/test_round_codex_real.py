"""One feedback round done by the REAL Codex CLI (pinned), through the scripted Responses-API server."""

import json
import sys

from cxo.rounds.run import run_pull
from tests.agents.test_codex_cli_real import (
    codex_policy,
    tmp_path,  # noqa: F401  (outside /tmp: see its docstring)
)
from tests.rounds.test_round_run import (
    R,
    changes_requested,
    first_pr,
    labels_of,
    round_reports,
    runner,  # noqa: F401  (fixture)
)
from tests.support.agent_clis import required
from tests.support.fake_model_server import ScriptedModelServer, through_proxy
from tests.support.git_fixtures import GOOD_REPORT, reviewer_policy, write_policy

pytestmark = required("codex", "Codex CLI", "scripts/install-codex.sh")


def test_real_codex_performs_one_feedback_round(runner, hub_repo, tmp_path):  # noqa: F811
    api = hub_repo.api
    issue, pull, sha = first_pr(hub_repo, runner, tmp_path)
    review = changes_requested(api, pull, sha)
    ids = sorted(c["id"] for c in api.ok("GET", f"{R}/pulls/{pull}/comments"))
    report = json.dumps({**GOOD_REPORT, "summary": "product added, negative case tested",
                         "feedback": [{"id": ids[0], "addressed": True, "note": "added product"},
                                      {"id": ids[1], "addressed": True, "note": "tested -1 * 2"},
                                      {"id": review["id"], "addressed": True}]})
    server = ScriptedModelServer([
        [{"shell": "printf '\\n\\nproduct = multiply\\n' >> app/calc.py"}],
        [{"shell": "printf '\\n\\ndef test_negative():\\n    assert multiply(-1, 2) == -2\\n' "
                   ">> tests/test_multiply.py"}],
        [{"shell": f"cat > \"$CODEX_ORCHESTRATOR_REPORT_FILE\" <<'JSON'\n{report}\nJSON"}],
        [{"message": "Round done."}],
    ]).start()
    try:
        write_policy(runner, {"github": {"owner": "acme", "repo": "widgets", "apiUrl": hub_repo.url},
                              "codex": codex_policy(server), "agent": through_proxy(server), "checks": [
                                  {"name": "tests", "command": f"{sys.executable} -m pytest -q -p no:cacheprovider"}],
                              "reviewGates": {"reviewer": reviewer_policy("approve")}})
        env = run_pull(runner, pull)
    finally:
        server.stop()
    assert env["status"] == "ok", env.get("blocked")
    assert env["codex"]["agent"] == "codex" and env["codex"]["isolation"] == "bubblewrap"
    # Codex got the reviewers' words in its prompt, and said what it spent.
    prompt = server.requests[0]["body"]["input"][-1]["content"][0]["text"]
    assert "call it `product`" in prompt and "test a negative number too" in prompt
    assert env["codex"]["usage"]["total_tokens"] > 0
    commits = [c["sha"] for c in api.ok("GET", f"{R}/pulls/{pull}/commits")]
    assert commits[0] == sha and commits[-1] == env["publish"]["pushed_sha"] and len(commits) == 2
    replies = [c for c in api.ok("GET", f"{R}/pulls/{pull}/comments") if c.get("in_reply_to_id")]
    assert sorted(c["in_reply_to_id"] for c in replies) == ids
    [rep] = round_reports(api, pull)
    assert "tokens" in rep["body"] and "✅ pass" in rep["body"]
    assert labels_of(api, issue) == ["agent:auto", "agent:review"]
