"""The embedded broker: kombu's ``filesystem://`` transport, with every message written atomically.

kombu's own channel creates the message file under its final name and then writes it, so a
consumer polling the folder can move and read the file before the bytes are there; its worker
then dies on a JSON decode error. That shows as soon as a worker publishes while it consumes
(a fan-out's chord). Here a message is written under a hidden temporary name and renamed into
place, which is atomic on one filesystem: a consumer sees a whole message or none. Message files
are readable by their owner only (0600): a run's params travel in them.

The exchange table (which queue a routing key goes to) has the same gap once, when its file is
first created: a reader can find it empty. A read that finds it empty tries again.
"""

from __future__ import annotations

import os
import time
import uuid
from time import monotonic
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.json import dumps

#: Scheme of the embedded broker's URL as the Celery app sees it (``filesystem://`` in settings).
SCHEME = "harvester-fs"


class Channel(filesystem.Channel):
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")  # never matches a queue's pattern
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(dumps(payload).encode())  # type: ignore[no-untyped-call]
        os.replace(partial, final)

    def get_table(self, exchange: Any) -> Any:
        for _ in range(100):
            try:
                return super().get_table(exchange)  # type: ignore[no-untyped-call]
            except ValueError:  # the file exists but its creator has not written it yet
                time.sleep(0.01)
        return super().get_table(exchange)  # type: ignore[no-untyped-call]


class Transport(filesystem.Transport):
    Channel = Channel


def celery_url(broker_url: str) -> str:
    """The URL to give Celery: ``filesystem://...`` becomes this transport, anything else is unchanged."""
    if broker_url.startswith("filesystem:"):
        TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")
        return SCHEME + broker_url[len("filesystem") :]
    return broker_url
