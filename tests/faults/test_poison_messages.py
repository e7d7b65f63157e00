"""A dozen malformed messages on the queue of a running worker: it stays up, moves each one to the
dead-letter queue (reason in its headers, content never logged) and still runs the next valid run."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from kombu import Exchange, Queue

from harvester.dispatch.quarantine import DEAD_LETTER_QUEUE

pytestmark = [pytest.mark.slow, pytest.mark.services]

SECRET = "s3cret-in-a-poison-message"


def task_message(app, name: str, args, kwargs=None):
    """A well-formed Celery message of ``name`` (headers, properties, body), to corrupt."""
    message = app.amqp.as_task_v2(str(uuid.uuid4()), name, args=args, kwargs=kwargs or {})
    return dict(message.headers), dict(message.properties), message.body


def poison(app) -> list[tuple[str, dict]]:
    """(what is wrong, publish() keyword arguments) of each malformed message."""
    run_headers, run_properties, _ = task_message(app, "harvester.run", [{"collector": "ok", "run_id": "x"}])
    base = {"headers": run_headers, **{k: v for k, v in run_properties.items() if k in ("correlation_id",)}}
    raw = {"content_type": "application/json", "content_encoding": "utf-8"}
    return [
        ("invalid JSON", {**base, **raw, "body": b'[[{"collector": "ok", "params": {"key": "' + SECRET.encode()}),
        ("not UTF-8", {**base, **raw, "body": b"\xff\xfe\xfa" * 10}),
        (
            "pickle content",
            {
                **base,
                "body": b"\x80\x04K\x01.",
                "content_type": "application/x-python-serialize",
                "content_encoding": "binary",
            },
        ),
        ("no task header", {"headers": {}, **raw, "body": json.dumps({"hello": SECRET}).encode()}),
        (
            "unknown task",
            {"headers": {**run_headers, "task": "harvester.nope"}, **raw, "body": json.dumps([[], {}, {}]).encode()},
        ),
        (
            "malformed headers",
            {
                "headers": {"task": "harvester.run", "id": 5, "timelimit": "soon", "eta": "never"},
                **raw,
                "body": json.dumps([[{}], {}, {}]).encode(),
            },
        ),
        ("body not a run", {**base, **raw, "body": json.dumps([["a string"], {}, {}]).encode()}),
        ("wrong field types", {**base, **raw, "body": json.dumps([[{"collector": 1, "run_id": []}], {}, {}]).encode()}),
        (
            "unknown fields",
            {**base, **raw, "body": json.dumps([[{"collector": "ok", "run_id": "r", "key": SECRET}], {}, {}]).encode()},
        ),
        ("no arguments", {**base, **raw, "body": json.dumps([[], {}, {}]).encode()}),
        (
            "batch not a list",
            {
                "headers": {**run_headers, "task": "harvester.batch"},
                **raw,
                "body": json.dumps([[{"runs": "x"}], {}, {}]).encode(),
            },
        ),
        (
            "keyword arguments",
            {
                "headers": {**run_headers, "task": "harvester.gather"},
                **raw,
                "body": json.dumps([[], {"body": {}}, {}]).encode(),
            },
        ),
        (
            "oversized",
            {
                **base,
                **raw,
                "body": json.dumps(
                    [[{"collector": "ok", "run_id": "r", "params": {"x": "y" * 2_000_000}}], {}, {}]
                ).encode(),
            },
        ),
        ("body not a list", {**base, **raw, "body": json.dumps({"args": 1}).encode()}),
    ]


def test_poison_messages_are_moved_aside_and_the_worker_goes_on(stack, caplog):
    app = stack.hv.celery
    worker = stack.worker()
    exchange = Exchange("harvester", type="direct")
    queue = Queue("harvester", exchange, routing_key="harvester")
    cases = poison(app)
    with app.connection_for_write() as conn:
        producer = conn.Producer()
        for _what, message in cases:
            kwargs = dict(message)
            body = kwargs.pop("body")
            producer.publish(body, exchange=exchange, routing_key="harvester", declare=[queue], **kwargs)
    valid = stack.trigger("ok", token="after-poison", value=7)
    row = stack.wait(valid, timeout=60)
    assert row["status"] == "succeeded"
    assert worker.proc.poll() is None  # still up

    letters = []
    deadline = time.monotonic() + 30
    with app.connection_for_read() as conn:
        dead = conn.SimpleQueue(Queue(DEAD_LETTER_QUEUE, routing_key=DEAD_LETTER_QUEUE))
        while len(letters) < len(cases) and time.monotonic() < deadline:
            try:
                message = dead.get(timeout=1)
            except dead.Empty:
                continue
            letters.append(message.headers.get("x-harvester-dead-reason"))
            message.ack()
        dead.close()
    assert len(letters) == len(cases), ("\n".join(map(str, letters)), worker.output()[-6000:])
    assert all(letters), letters
    assert SECRET not in worker.output()  # logged without content
