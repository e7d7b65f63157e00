"""The embedded broker's transport: a consumer polling while others publish never reads half a message."""

from __future__ import annotations

import threading

from kombu import Connection

from harvester.dispatch.celery_app import file_broker_options
from harvester.dispatch.embedded import SCHEME, celery_url


def test_only_the_filesystem_url_is_rewritten():
    assert celery_url("filesystem://") == f"{SCHEME}://"
    assert celery_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_concurrent_publish_and_consume_loses_and_breaks_nothing(tmp_path):
    options = file_broker_options(tmp_path)
    total, received, errors = 400, [], []

    def publish() -> None:
        with Connection(celery_url("filesystem://"), transport_options=options) as conn:
            queue = conn.SimpleQueue("q")
            for i in range(total):
                queue.put({"i": i, "pad": "x" * 2000})
            queue.close()

    with Connection(celery_url("filesystem://"), transport_options=options) as conn:
        queue = conn.SimpleQueue("q")  # the queue and its binding exist before anyone publishes
        threads = [threading.Thread(target=publish) for _ in range(2)]
        for t in threads:
            t.start()
        while len(received) < 2 * total:
            try:
                message = queue.get(timeout=30)
            except Exception as exc:  # a decode error here is the bug this transport fixes
                errors.append(exc)
                break
            received.append(message.payload["i"])
            message.ack()
        queue.close()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(received) == sorted(list(range(total)) * 2)
    assert not [p for p in (tmp_path / "queue").iterdir() if p.name.endswith(".part")]
