"""Poison messages: whatever a worker cannot take is moved aside, and the worker goes on.

Celery's consumer lets some malformed messages escape as an "Unrecoverable error" that stops the
worker; the message goes back to the queue, and every fresh worker dies on it again. Here every
message the worker cannot decode or that does not match harvester's tasks (invalid JSON, an
unknown task, malformed headers, a body of the wrong shape or types, an oversized one) is logged
once, without its content (it may hold secrets), copied to the dead-letter queue
``harvester.dead`` with the reason in its headers, and acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from celery import Celery
from celery.worker.consumer import Consumer
from kombu.entity import Queue

log = logging.getLogger(__name__)

DEAD_LETTER_QUEUE = "harvester.dead"
#: A message larger than this is refused before anything decodes it (a run's message is ~300 bytes).
MAX_MESSAGE_BYTES = 1024 * 1024


def dead_letter_headers(headers: Any, reason: str) -> dict[str, Any]:
    """What travels with a dead letter: the message's task, id and the reason (never its args)."""
    known = headers if isinstance(headers, Mapping) else {}
    keep = {k: known[k] for k in ("task", "id") if isinstance(known.get(k), str)}
    return {**{f"x-harvester-{k}": v for k, v in keep.items()}, "x-harvester-dead-reason": reason[:500]}


def send_to_dead_letters(
    app: Celery, body: Any, *, reason: str, headers: Any = None, content_type: str | None = None
) -> bool:
    """Publish ``body`` (raw bytes, or a decoded body) to the dead-letter queue; False if even that failed.

    Raw bytes go as they came, as ``application/data`` (their own content type, which they may not
    satisfy, is in the ``x-harvester-content-type`` header), so that reading dead letters never fails."""
    queue = Queue(DEAD_LETTER_QUEUE, routing_key=DEAD_LETTER_QUEUE)  # type: ignore[no-untyped-call]
    options: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if isinstance(body, bytes | str):
        options.update(content_type="application/data", content_encoding="binary")
        body = body.encode() if isinstance(body, str) else body
        if isinstance(content_type, str):
            extra["x-harvester-content-type"] = content_type[:100]
    else:
        options.update(serializer="json")
    try:
        with app.producer_or_acquire() as producer:
            producer.publish(
                body,
                exchange="",
                routing_key=DEAD_LETTER_QUEUE,
                declare=[queue],
                headers={**dead_letter_headers(headers, reason), **extra},
                retry=True,
                **options,
            )
    except Exception:
        log.exception("a poison message could not be moved to %s; it is dropped", DEAD_LETTER_QUEUE)
        return False
    return True


def _not_a_json_array(message: Any) -> bool:
    """A JSON task message (protocol 2: the ``task`` header) whose body cannot be ``[args, kwargs,
    options]``: told from its first character, without decoding it here (the pool decodes it)."""
    headers, body = message.headers, message.body
    if message.content_type != "application/json" or not isinstance(headers, Mapping) or "task" not in headers:
        return False
    start = body.lstrip()[:1] if isinstance(body, bytes | str) else b""
    return start not in (b"[", "[")


def _describe(message: Any) -> str:
    headers = message.headers if isinstance(message.headers, Mapping) else {}
    task, task_id = headers.get("task"), headers.get("id")
    size = len(message.body) if isinstance(message.body, bytes | str) else 0
    return f"task {task!r} id {task_id!r}, {size} bytes, content type {message.content_type!r}"


class QuarantineConsumer(Consumer):  # type: ignore[misc]
    """Celery's consumer, with every way a message can fail to become a task request ending in
    the dead-letter queue (``worker_consumer`` setting)."""

    app: Celery

    def quarantine(self, message: Any, reason: str) -> None:
        log.error("poison message moved to %s (%s): %s", DEAD_LETTER_QUEUE, _describe(message), reason)
        send_to_dead_letters(
            self.app, message.body, reason=reason, headers=message.headers, content_type=message.content_type
        )
        try:
            message.ack()
        except Exception:  # an ack can fail only with the connection, which the consumer restarts
            log.exception("could not acknowledge a poison message")

    def on_decode_error(self, message: Any, exc: BaseException) -> None:
        self.quarantine(message, f"cannot decode: {type(exc).__name__}")

    def on_unknown_message(self, body: Any, message: Any) -> None:
        self.quarantine(message, "not a task message")

    def on_unknown_task(self, body: Any, message: Any, exc: BaseException) -> None:
        self.quarantine(message, "unknown task")

    def on_invalid_task(self, body: Any, message: Any, exc: BaseException) -> None:
        self.quarantine(message, f"invalid task message: {type(exc).__name__}")

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        handle = super().create_task_handler(*args, **kwargs)

        def on_task_received(message: Any) -> Any:
            body = message.body
            if isinstance(body, bytes | str) and len(body) > MAX_MESSAGE_BYTES:
                return self.quarantine(message, f"oversized: over {MAX_MESSAGE_BYTES} bytes")
            if _not_a_json_array(message):
                return self.quarantine(message, "body is not [args, kwargs, options]")
            try:
                return handle(message)
            except Exception as exc:  # whatever Celery's own checks let through
                return self.quarantine(message, f"malformed message: {type(exc).__name__}")

        return on_task_received
