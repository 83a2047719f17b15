"""The evaluation's numbers and the test-outcome reader, against known values."""

import pytest

from cxo.evaluate import stats, testrun
from cxo.evaluate.build import closed_by, title_then
from cxo.evaluate.run import cost


def test_wilson_interval_matches_published_values():
    # Wilson (1927) / Newcombe (1998) example: 81 of 263 -> [0.2553, 0.3662].
    assert stats.wilson(81, 263) == pytest.approx([0.2553, 0.3662], abs=1e-4)
    assert stats.wilson(0, 2) == pytest.approx([0.0, 0.6576], abs=1e-4)
    assert stats.wilson(2, 2) == pytest.approx([0.3424, 1.0], abs=1e-4)
    assert stats.wilson(0, 0) == [0.0, 1.0]


def test_mcnemar_exact_is_the_two_sided_binomial_tail():
    assert stats.mcnemar_exact(0, 0) == 1.0
    assert stats.mcnemar_exact(2, 0) == 0.5
    assert stats.mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    assert stats.mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)
    assert stats.mcnemar_exact(5, 5) == 1.0


def test_percentiles_interpolate():
    assert stats.percentile([], 50) is None
    assert stats.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert stats.percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 90) == pytest.approx(9.1)


def test_cost_uses_the_price_table_per_million_tokens():
    tokens = {"input_tokens": 1_000_000, "cached_input_tokens": 400_000, "output_tokens": 100_000}
    assert cost(tokens, None) is None
    assert cost(tokens, {"input": 1.25, "cachedInput": 0.125, "output": 10.0}) == pytest.approx(
        0.6 * 1.25 + 0.4 * 0.125 + 0.1 * 10.0)
    assert cost(tokens, {"input": 1.0, "output": 0.0}) == pytest.approx(1.0)


def test_outcomes_are_read_from_the_test_runners_own_lines():
    log = "\n".join([
        "PASSED tests/test_a.py::test_one", "FAILED tests/test_a.py::test_two - assert 1 == 2",
        "ERROR tests/test_b.py::test_three - fixture", "SKIPPED [1] tests/test_b.py:3: later",
        "test_x (tests.test_c.C.test_x) ... ok", "test_y (tests.test_c.C.test_y) ... FAIL",
        "--- PASS: TestGo (0.00s)", "--- FAIL: TestGone (0.01s)", "PASSED tests/test_a.py::test_two",
    ])
    assert testrun.outcomes(log) == {
        "tests/test_a.py::test_one": True, "tests/test_a.py::test_two": False,
        "tests/test_b.py::test_three": False, "test_x (tests.test_c.C.test_x)": True,
        "test_y (tests.test_c.C.test_y)": False, "TestGo": True, "TestGone": False}


def test_patch_files_name_both_sides_once():
    patch = ("diff --git a/tests/t.py b/tests/t.py\n--- a/tests/t.py\n+++ b/tests/t.py\n"
             "diff --git a/tests/new.py b/tests/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/tests/new.py\n")
    assert testrun.patch_files(patch) == ["tests/t.py", "tests/new.py"]
    assert testrun.command_for("python -m pytest ${tests}", ["a b.py", "c.py"]) == "python -m pytest 'a b.py' c.py"


def test_the_title_is_the_one_the_issue_had_when_the_fix_began():
    events = [  # GitHub's `renamed` issue events (GET /repos/{owner}/{repo}/issues/{n}/events)
        {"event": "labeled", "created_at": "2025-01-01T00:00:00Z"},
        {"event": "renamed", "created_at": "2025-01-02T00:00:00Z", "rename": {"from": "first", "to": "second"}},
        {"event": "renamed", "created_at": "2025-01-05T00:00:00Z", "rename": {"from": "second", "to": "third"}},
        {"event": "renamed", "created_at": "2025-01-07T00:00:00Z", "rename": {"from": "third", "to": "now"}},
    ]
    assert title_then("now", events, "2025-01-03T00:00:00Z") == "second"
    assert title_then("now", events, "2025-01-01T12:00:00Z") == "first"
    assert title_then("now", events, "2025-02-01T00:00:00Z") == "now"


def test_closing_keywords_link_the_latest_merged_pull():
    merged = {"pull_request": {"merged_at": "2025-01-03T00:00:00Z"}}  # as GitHub's issue listing has it
    pulls = [{"number": 5, "title": "x", "body": "Fixes #1 and closes: #2", "merged_at": "2025-01-02"},
             {"number": 6, "title": "Resolve #1", "body": None, **merged},
             {"number": 7, "title": "y", "body": "see #3, refs #4, other/repo#8, prefix#9", "merged_at": "2025-01-04"},
             {"number": 8, "title": "Fix #2 again", "body": "", "pull_request": {"merged_at": None}}]  # closed unmerged
    assert {n: p["number"] for n, p in closed_by(pulls).items()} == {1: 6, 2: 5}


def test_a_best_of_n_runs_tokens_are_every_attempts_not_only_the_winners():
    from cxo.evaluate.run import _tokens

    one = {"input_tokens": 100, "cached_input_tokens": 0, "output_tokens": 20, "total_tokens": 120}
    single = {"codex": {"usage": one}}
    assert _tokens(single)["total_tokens"] == 120
    best_of_three = {"codex": {"usage": one}, "attempts": {"items": [{"usage": one}, {"usage": one}, {"usage": None}]}}
    assert _tokens(best_of_three)["total_tokens"] == 240 and _tokens(best_of_three)["input_tokens"] == 200
