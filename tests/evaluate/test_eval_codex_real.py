"""cxo-eval run with the REAL Codex CLI (scripts/install-codex.sh) as the agent, driven by a scripted Responses
server on loopback (tests/support/fake_model_server.py): two tasks resolved, no credentials, no network."""

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.evaluate.history import cxo_eval, local_history
from tests.support.agent_clis import required
from tests.support.fake_model_server import ScriptedModelServer, codex_provider_args, through_proxy
from tests.support.git_fixtures import GOOD_REPORT, reviewer_policy

CODEX = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / ".bin" / "codex"

pytestmark = required("codex", "Codex CLI", "scripts/install-codex.sh")


@pytest.fixture
def work(request):
    """Outside /tmp, as tests/agents/test_codex_cli_real.py explains (Codex's own sandbox refuses it)."""
    import re
    import tempfile

    root = Path("/var/tmp/cxo-tests")
    root.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=re.sub(r"\W", "_", request.node.name)[:40] + "-", dir=root))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def turns(k: int) -> list[list[dict]]:
    """What the model answers for task fn_K: fix the module, add a test, write the report, finish."""
    report = json.dumps({**GOOD_REPORT, "summary": f"fn_{k} fixed", "changes": [f"app/m_{k}.py"]})
    return [
        [{"shell": f"printf 'def fn_{k}(x):\\n    return x + {k}\\n' > app/m_{k}.py"}],
        [{"shell": f"printf 'from app.m_{k} import fn_{k}\\n\\n\\ndef test_fn_{k}_five():\\n"
                   f"    assert fn_{k}(5) == {5 + k}\\n' > tests/test_codex_m_{k}.py"}],
        [{"shell": f"cat > \"$CODEX_ORCHESTRATOR_REPORT_FILE\" <<'JSON'\n{report}\nJSON"}],
        [{"message": f"Fixed fn_{k}."}],
    ]


def test_real_codex_resolves_two_eval_tasks(work):
    tasks = local_history(work / "shop", 3)[1:]  # fn_2, then fn_3 (--jobs 1 runs them in the file's order)
    tasks_file = work / "tasks.jsonl"
    tasks_file.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    usage = {"input_tokens": 300, "input_tokens_details": None, "output_tokens": 50, "output_tokens_details": None,
             "total_tokens": 350}
    server = ScriptedModelServer(turns(2) + turns(3), usage=usage).start()
    try:
        policy = work / "codex.yaml"
        policy.write_text(yaml.safe_dump({
            "codex": {"command": str(CODEX), "args": None, "extraArgs": codex_provider_args(server.url),
                      "timeoutSeconds": 120, "idleTimeoutSeconds": 60},
            "agent": through_proxy(server),
            "reviewGates": {"reviewer": reviewer_policy("approve")},
            "checks": [{"name": "tests", "command": f"{sys.executable} -m pytest -q -p no:cacheprovider"}]}))
        done = cxo_eval("run", "--tasks", str(tasks_file), "--out", str(work / "out"), "--policy", str(policy),
                        "--jobs", "1")
    finally:
        server.stop()
    summary = json.loads(done.stdout)
    assert (summary["tasks"], summary["resolved"], summary["published"], summary["false_accepts"]) == (2, 2, 2, 0)
    assert summary["tokens"]["total_tokens"] > 0  # Codex's own token_count events, as the meter read them
    for task in tasks:
        result = json.loads((work / "out" / "tasks" / f"{task['instance_id']}.json").read_text())
        assert result["resolved"] and all(result["hidden"]["FAIL_TO_PASS"].values())
        assert {g["gate"]: g["verdict"] for g in result["gates"]}["tdd"] == "pass"
    sent = [json.dumps(r["body"]) for r in server.requests]
    assert any("fn_2 should return x + 2" in body for body in sent)  # our prompts reached the model
    assert any("fn_3 should return x + 3" in body for body in sent)
