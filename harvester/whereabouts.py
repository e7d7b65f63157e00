"""Whereabouts: the data folder and servers a process uses, in one line with credentials masked.

Every process says it at start, and a run no worker takes is explained with it: two processes
started from different folders (or with different settings) otherwise share nothing, silently.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from harvester.failure_text import MASK
from harvester.settings import Settings

#: Seconds a waited-for run may stay queued before the waiter asks whether any worker consumes its
#: queue (the question itself takes about 2 s more: the time workers get to answer).
NO_CONSUMER_AFTER = 3.0
#: Query parameters whose values are credentials (``?password=...`` in some database URLs).
_SECRET_QUERY = ("password", "passwd", "secret", "token", "key")


def mask_url(url: str) -> str:
    """``url`` with its password (and any credential-like query value) replaced by the mask; the
    rest as written (``sqlite:////abs/path`` stays whole)."""
    parts = urlsplit(url)
    masked = url
    userinfo, at, host = parts.netloc.rpartition("@")
    user, has_password, _password = userinfo.partition(":")
    if at and has_password:
        masked = masked.replace(parts.netloc, f"{user}:{MASK}@{host}", 1)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        hidden = [(k, MASK if any(word in k.lower() for word in _SECRET_QUERY) else v) for k, v in pairs]
        masked = masked.replace(f"?{parts.query}", f"?{urlencode(hidden, safe='*/:')}", 1)
    return masked


def uses(settings: Settings) -> str:
    """``data folder /abs/.harvester (history and broker)`` or the servers: what this process shares
    with the others, and so what another process must use too to see its runs."""
    folder = settings.data_dir.resolve()
    inside = [
        what for what, local in (("history", settings.database_url is None), ("broker", settings.embedded)) if local
    ]
    parts = [f"data folder {folder} ({' and '.join(inside)})"] if inside else []
    if not settings.embedded:
        parts.append(f"broker {mask_url(settings.effective_broker_url)}")
    if settings.database_url is not None:
        parts.append(f"history {mask_url(settings.database_url)}")
    return "; ".join(parts)


def no_consumer(queue: str, settings: Settings) -> str:
    """What to say when no worker consumes ``queue``: the fix, and where this process looks."""
    same = "HARVESTER_DATA_DIR" if settings.embedded else "HARVESTER_BROKER_URL"
    return (
        f"no worker consumes queue '{queue}': start one with `harvester worker --queues {queue}` in the same "
        f"project, with the same {same}; this process uses {uses(settings)}"
    )
