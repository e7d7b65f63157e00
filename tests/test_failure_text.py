"""A failure as history keeps it: message and traceback, bounded, secrets masked."""

from __future__ import annotations

from harvester.failure_text import MASK, failure_message, failure_traceback, redact


def boom(secret: str) -> None:
    try:
        {}["currency"]
    except KeyError as exc:
        raise ValueError(f"bad header with key {secret}") from exc


def caught(secret: str) -> BaseException:
    try:
        boom(secret)
    except ValueError as exc:
        return exc
    raise AssertionError("boom() did not raise")


def test_message_and_traceback_mask_each_secret():
    exc = caught("hunter22")
    assert failure_message(exc, ["hunter22"]) == f"ValueError: bad header with key {MASK}"
    text = failure_traceback(exc, ["hunter22"])
    assert "hunter22" not in text
    assert "KeyError: 'currency'" in text  # the cause too
    assert "test_failure_text.py" in text
    assert "in boom" in text


def test_short_secrets_are_not_masked_everywhere():
    assert redact("a cat sat", ["a"]) == "a cat sat"
    assert redact("token abcd and abcde", ["abcd", "abcde"]) == f"token {MASK} and {MASK}"  # longest first


def test_a_long_traceback_keeps_its_end():
    text = failure_traceback(caught("x" * 50), limit=200)
    assert text.startswith("[")
    assert "characters cut]" in text
    assert text.rstrip().endswith("ValueError: bad header with key " + "x" * 50)
    assert len(text) < 240
