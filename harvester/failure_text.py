"""How a failure is written down: its message and traceback, bounded, with secrets masked."""

from __future__ import annotations

import traceback
from collections.abc import Iterable

#: What a masked secret looks like (pydantic's own mask).
MASK = "**********"
#: A traceback keeps its last this many characters (the raise site is at the end).
TRACEBACK_LIMIT = 16_000
#: Shorter secrets are not masked in text: masking "ab" everywhere would garble it and reveal little.
MIN_SECRET_LENGTH = 4


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret value replaced by the mask."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def failure_message(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """``Type: message``, as history and every surface show it."""
    return redact(f"{type(exc).__name__}: {exc}", secrets)


def failure_traceback(exc: BaseException, secrets: Iterable[str] = (), limit: int = TRACEBACK_LIMIT) -> str:
    """The formatted traceback (with its causes), secrets masked, cut from the front to ``limit``."""
    text = redact("".join(traceback.format_exception(exc)), secrets)
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    return f"[{cut} characters cut]\n" + text[cut:]
