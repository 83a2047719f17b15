"""Token usage as agents report it (lib/cxo/usage.py): stdout lines and Codex's session token_count events."""

import json

from cxo import usage


def test_stdout_usage_lines_add_up_and_other_lines_do_not_count():
    meter = usage.Meter(limit=1000)
    meter.feed(json.dumps({"type": "turn.completed", "usage": {"input_tokens": 300, "cached_input_tokens": 100,
                                                               "output_tokens": 50}}) + "\n")
    meter.feed("plain text mentioning \"usage\"\n")
    meter.feed(json.dumps({"usage": "not an object"}))
    meter.feed(json.dumps({"type": "item.completed", "item": {"text": "no usage here"}}))
    assert meter.usage() == {"input_tokens": 300, "cached_input_tokens": 100, "output_tokens": 50,
                             "total_tokens": 350}
    assert not meter.exhausted()
    meter.feed(json.dumps({"total_tokens": 700}))  # a command agent that only knows its total
    assert meter.usage()["total_tokens"] == 1050 and meter.exhausted()


def test_negative_or_non_integer_figures_are_ignored():
    assert usage.reported(json.dumps({"usage": {"input_tokens": -5, "output_tokens": "9", "total_tokens": True}})) \
        is None


def test_codex_session_token_count_lines_are_read_as_they_are_appended(tmp_path):
    session = tmp_path / "sessions" / "2026" / "01" / "02" / "rollout-x.jsonl"
    session.parent.mkdir(parents=True)

    def token_count(inp, cached, out):
        return json.dumps({"type": "event_msg", "payload": {"type": "token_count", "info": {"total_token_usage": {
            "input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out,
            "reasoning_output_tokens": 0, "total_tokens": inp + out}}}})

    meter = usage.Meter(limit=2000, codex_home=tmp_path)
    meter.poll()
    assert meter.usage()["total_tokens"] == 0
    with open(session, "w") as handle:
        handle.write(json.dumps({"type": "session_meta"}) + "\n" + token_count(1000, 200, 50) + "\n")
        handle.write(token_count(2000, 400, 100)[:40])  # a line still being written
    meter.poll()
    assert meter.usage() == {"input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": 50,
                             "total_tokens": 1050}
    with open(session, "a") as handle:
        handle.write(token_count(2000, 400, 100)[40:] + "\n")
    meter.poll()
    assert meter.usage()["total_tokens"] == 2100 and meter.exhausted()  # a running total, not added up
    # The final turn.completed on stdout (no total_tokens) agrees; the larger figure per key wins.
    meter.feed(json.dumps({"type": "turn.completed", "usage": {"input_tokens": 2000, "cached_input_tokens": 400,
                                                               "output_tokens": 100}}))
    assert meter.usage() == {"input_tokens": 2000, "cached_input_tokens": 400, "output_tokens": 100,
                             "total_tokens": 2100}


def test_without_a_limit_nothing_is_ever_exhausted():
    meter = usage.Meter()
    meter.feed(json.dumps({"total_tokens": 10**9}))
    assert not meter.exhausted()
