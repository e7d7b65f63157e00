"""What a run logs: one line per outcome that names the collector and the run; a retried attempt at
WARNING, a final failure at ERROR once, never a secret."""

from __future__ import annotations

import logging


def runner_lines(caplog) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "harvester.execution.runner"]


def test_retried_attempts_warn_and_the_final_failure_is_one_error(hv, caplog):
    with caplog.at_level(logging.DEBUG):
        result = hv.run_inline(hv.request("retry_fail"))
    lines = runner_lines(caplog)
    assert [level for level, _ in lines] == [logging.WARNING, logging.WARNING, logging.ERROR]
    assert all(f"run {result.run_id} of retry_fail" in text for _, text in lines)
    assert "attempt 1 failed (network in collect)" in lines[0][1]
    assert "retry in" in lines[0][1]
    assert "failed (network in collect): ConnectionRefusedError" in lines[-1][1]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name != "harvester.execution.runner"]


def test_success_is_one_info_line_and_secrets_never_appear(hv, caplog):
    with caplog.at_level(logging.DEBUG):
        ok = hv.run_inline(hv.request("ok", {"value": 2}))
        failed = hv.run_inline(hv.request("wrong_header", {"api_key": "sk-live-555555"}))
    lines = runner_lines(caplog)
    assert lines[0][0] == logging.INFO
    assert lines[0][1].startswith(f"run {ok.run_id} of ok succeeded in ")
    assert any(level == logging.ERROR and failed.run_id in text for level, text in lines)
    assert "sk-live-555555" not in caplog.text
