"""`@cxo run` / `@cxo plan` in issue comments, on the hub: trusted, untrusted, bots, the runner, handled once."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cxo.connect import tracker_for
from cxo.daemon import Daemon
from cxo.github.commands import apply_issue_commands, author_kind, parse_command
from tests.feedback.conftest import RUNNER

BIN = Path(sys.executable).parent
R = "/repos/acme/widgets"


def issue_with(api, comments, labels=()):
    number = api.ok("POST", f"{R}/issues", {"title": "t", "labels": list(labels)})["number"]
    ids = [api.ok("POST", f"{R}/issues/{number}/comments", {"body": body}, token=token)["id"]
           for token, body in comments]
    return number, ids


def labels_of(api, number):
    return sorted(lab["name"] for lab in api.ok("GET", f"{R}/issues/{number}")["labels"])


def test_parse_command():
    assert parse_command("please @cxo run", "@cxo") == "run"
    assert parse_command("@CXO Plan this", "@cxo") == "plan"
    assert parse_command("> @cxo run\nquoted only", "@cxo") is None
    assert parse_command("`@cxo run` is how", "@cxo") is None
    assert parse_command("@cxotic run", "@cxo") is None
    assert parse_command("mail me@cxo run", "@cxo") is None
    assert parse_command("@cxo running late", "@cxo") is None
    assert parse_command("!go run", "!go") == "run"


def test_bot_logins_and_types():
    comment = {"id": 1, "body": "@cxo run", "user": {"login": "renovate", "type": "Bot"},
               "author_association": "COLLABORATOR"}
    assert author_kind(comment, {"COLLABORATOR"}, set()) == "bot"
    assert author_kind(dict(comment, user={"login": "x[bot]", "type": "User"}), {"COLLABORATOR"}, set()) == "bot"
    assert author_kind(dict(comment, user={"login": "carol", "type": "User"}), {"COLLABORATOR"}, set()) == "trusted"
    assert author_kind(dict(comment, user={"login": "Carol"}), {"COLLABORATOR"}, {"carol"}) == "runner"


def test_trusted_untrusted_bot_and_runner(runner_env, hub_repo, hub):
    pol, tracker = runner_env
    api = hub_repo.api
    owner_run, _ = issue_with(api, [("as:acme", "@cxo run")])
    collab_plan, _ = issue_with(api, [("as:carol", "looks scoped. @cxo plan")])
    stranger, [stranger_comment] = issue_with(api, [("as:mallory", "@cxo run")])
    api.ok("PUT", f"{R}/collaborators/renovate", {})
    bot, _ = issue_with(api, [("as:renovate", "@cxo run")])
    # A GitHub App's comments come from a user of type Bot (its login ends in [bot], which the hub's login rules
    # refuse in tokens): the hub's user row is switched to that type.
    hub.hub.store.run("UPDATE users SET type = 'Bot' WHERE login = 'renovate'")
    runner_own, _ = issue_with(api, [(RUNNER, "@cxo run")])
    already, _ = issue_with(api, [("as:acme", "@cxo run")], labels=["agent:plan-auto"])
    issues = tracker.list_issues()

    planned = apply_issue_commands(pol, tracker, issues, apply=False)
    by_issue = {c["issue"]: c["action"] for c in planned}
    assert by_issue == {owner_run: "add-label", collab_plan: "add-label", stranger: "ignore-untrusted",
                        bot: "ignore-bot", runner_own: "ignore-runner"}
    assert labels_of(api, owner_run) == [] and labels_of(api, stranger) == []  # apply=False wrote nothing

    done = apply_issue_commands(pol, tracker, tracker.list_issues())
    assert {c["issue"] for c in done if c["done"]} == {owner_run, collab_plan}
    assert labels_of(api, owner_run) == ["agent:auto"]
    assert labels_of(api, collab_plan) == ["agent:plan-auto"]
    assert labels_of(api, stranger) == [] and labels_of(api, runner_own) == [] and labels_of(api, bot) == []
    assert labels_of(api, already) == ["agent:plan-auto"]
    reactions = api.ok("GET", f"{R}/issues/comments/{stranger_comment}")["reactions"]
    assert reactions["eyes"] == 1 and reactions["+1"] == 0  # acknowledged, never executed
    marker = api.ok("GET", f"{R}/issues/{owner_run}/comments")[-1]
    assert marker["user"]["login"] == "cxo-runner" and "<!-- cxo:command comment=" in marker["body"]
    assert "@cxo" not in marker["body"]  # the runner's note is no command itself


def test_a_command_is_handled_once_and_a_removed_label_is_not_re_added(runner_env, hub_repo):
    pol, tracker = runner_env
    api = hub_repo.api
    number, [cid] = issue_with(api, [("as:acme", "@cxo run")])
    assert [c["done"] for c in apply_issue_commands(pol, tracker, tracker.list_issues())] == [True]
    api.ok("DELETE", f"{R}/issues/{number}/labels/agent:auto")  # the maintainer takes it back
    # A second host (fresh tracker, same runner login) sees the marker: nothing to do.
    other = tracker_for(pol)
    assert apply_issue_commands(pol, other, other.list_issues()) == []
    assert labels_of(api, number) == []
    assert api.ok("GET", f"{R}/issues/comments/{cid}")["reactions"]["+1"] == 1
    assert len(api.ok("GET", f"{R}/issues/{number}/comments")) == 2  # the command and one marker


def test_a_command_older_than_a_label_removal_is_stale(runner_env, hub_repo):
    pol, tracker = runner_env
    api = hub_repo.api
    number, _ = issue_with(api, [("as:acme", "@cxo run")])
    # The label was added and removed by hand after the command (events are stamped to the second).
    time.sleep(1.1)
    api.ok("POST", f"{R}/issues/{number}/labels", {"labels": ["agent:auto"]})
    api.ok("DELETE", f"{R}/issues/{number}/labels/agent:auto")
    [item] = apply_issue_commands(pol, tracker, tracker.list_issues())
    assert item["action"] == "stale" and not item["done"] and labels_of(api, number) == []


def test_daemon_cycle_applies_commands_and_status_only_lists_them(runner_env, hub_repo, target_repo):
    pol, tracker = runner_env
    api = hub_repo.api
    number, _ = issue_with(api, [("as:mallory", "@cxo run"), ("as:acme", "@cxo plan")])
    env = {**os.environ, "GITHUB_TOKEN": RUNNER}  # the tracker took it out of this process's environment
    status = subprocess.run([str(BIN / "cxo-status"), "--target", str(target_repo), "--json"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert status.returncode == 0, status.stderr
    listed = {c["author"]: c["action"] for c in json.loads(status.stdout)["commands"]}
    assert listed == {"mallory": "ignore-untrusted", "acme": "add-label"}
    text = subprocess.run([str(BIN / "cxo-status"), "--target", str(target_repo)], capture_output=True, text=True,
                          timeout=60, env=env)
    assert "would add agent:plan-auto" in text.stdout
    assert labels_of(api, number) == []  # status is read-only
    daemon = Daemon(pol, tracker, say=lambda m: None, run_command=["true"])
    result = daemon.cycle(max_runs=0)
    assert [c["done"] for c in result["commands"] if c["action"] == "add-label"] == [True]
    assert labels_of(api, number) == ["agent:plan-auto"]
    assert daemon.cycle(max_runs=0)["commands"] == []  # labelled now: not looked at again
