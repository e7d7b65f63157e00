"""LogCapture: what a run logs, kept per attempt in history (``harvester runs logs``, the run page).

A handler on the root logger for the duration of one attempt takes the records of the thread
that runs the collector: its ``self.logger`` and the libraries it calls, at the level logging is
configured for. harvester's own loggers are left out (their lines are about the run, in the
process log). Lines reach the store in batches, at most every ``flush_every`` seconds while the
run logs and once at its end, so a run that logs nothing costs no write and a live run can be
followed: lines a run logs before it goes quiet (waits on a slow call) are flushed by a timer
``flush_every`` seconds later, not held until its next line. Messages are cut to ``MAX_LINE``
characters, secrets masked, and an attempt keeps at most ``limit`` lines, then one line saying
how many more were dropped. Capture is best effort: a store that cannot take the lines never
fails the run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from harvester.failure_text import redact
from harvester.history.run_logs import LogLine

#: A longer message is cut (the marker says by how much).
MAX_LINE = 8_000
#: Loggers whose lines are not the run's own: harvester's machinery and the worker's.
_MACHINERY = ("harvester.", "celery", "kombu", "amqp", "sqlalchemy", "alembic")
_COLLECTORS = "harvester.collector."

Sink = Callable[[Sequence[LogLine]], None]


class LogCapture(logging.Handler):
    def __init__(
        self,
        sink: Sink,
        *,
        limit: int,
        secrets: Callable[[], Sequence[str]],
        flush_every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(logging.NOTSET)
        self.sink, self.limit, self.secrets = sink, limit, secrets
        self.flush_every, self.clock = flush_every, clock
        self.thread = threading.get_ident()
        self.pending: list[LogLine] = []
        self.kept = self.dropped = 0
        self._flushed_at = clock()
        self._flushing = False  # the run's thread is in the sink: what it logs there is not the run's
        self._lock = threading.Lock()  # one flush at a time: the run's thread or the quiet timer
        self._timer: threading.Timer | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread or self._flushing or not _is_run_line(record.name):
            return
        if self.kept >= self.limit:
            self.dropped += 1
            return
        message = record.getMessage()
        if record.exc_text:
            message += "\n" + record.exc_text
        elif record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        if len(message) > MAX_LINE:
            message = message[:MAX_LINE] + f" [{len(message) - MAX_LINE} characters cut]"
        when = datetime.fromtimestamp(record.created, UTC)
        line = LogLine(when, record.levelname, record.name, redact(message, self.secrets()))
        with self._lock:  # not into a batch the timer is handing to the sink
            self.pending.append(line)
        self.kept += 1
        if self.clock() - self._flushed_at >= self.flush_every:
            self.flush()
        elif self._timer is None:
            self._timer = threading.Timer(self.flush_every, self._flush_quiet)
            self._timer.daemon = True
            self._timer.start()

    def _flush_quiet(self) -> None:
        """The timer's flush: lines of a run that went quiet reach the store while it waits."""
        self._timer = None
        self._flush(in_run_thread=False)

    def flush(self) -> None:
        """Hand the pending lines to the sink (lines the sink refuses are counted as dropped)."""
        self._flush(in_run_thread=threading.get_ident() == self.thread)

    def _flush(self, *, in_run_thread: bool) -> None:
        if not self.pending or self._flushing:
            return
        with self._lock:
            lines, self.pending = self.pending, []
            if not lines:
                return
            self._flushing = in_run_thread  # what the sink logs (a driver's warning) is not the run's
            try:
                self.sink(lines)
            except Exception:
                self.dropped += len(lines)
            finally:
                self._flushing = False
                self._flushed_at = self.clock()

    def close(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        super().close()

    def finish(self) -> None:
        """The attempt ended: say what was dropped, and store the rest."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if self.dropped:
            marker = f"[log truncated: {self.dropped} more lines not kept (limit {self.limit} per attempt)]"
            self.pending.append(LogLine(datetime.now(UTC), "WARNING", "harvester", marker))
            self.dropped = 0
        self.flush()


def _is_run_line(name: str) -> bool:
    return name.startswith(_COLLECTORS) or not name.startswith(_MACHINERY)


class Redactor(logging.Filter):
    """Masks the run's secret values in the records of its thread before any handler writes them:
    the process log (stderr, a file) must not show what a collector logged with its key in it."""

    def __init__(self, secrets: Callable[[], Sequence[str]]) -> None:
        super().__init__()
        self.secrets = secrets
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread != self.thread or getattr(record, "harvester_redacted", False):
            return True
        values = self.secrets()
        if values:
            message = record.getMessage()
            masked = redact(message, values)
            if masked != message:
                record.msg, record.args = masked, None
            if record.exc_info and not record.exc_text:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info), values)
        record.harvester_redacted = True  # once per record, however many handlers it passes
        return True


@contextmanager
def captured(sink: Sink, *, limit: int, secrets: Callable[[], Sequence[str]]) -> Iterator[LogCapture | None]:
    """While the block runs: mask the run's secrets in what this thread logs, wherever it goes,
    and capture its lines into history (not when ``limit`` is 0)."""
    root = logging.getLogger()
    redactor = Redactor(secrets)
    handlers = list(root.handlers)
    for handler in handlers:
        handler.addFilter(redactor)
    capture = LogCapture(sink, limit=limit, secrets=secrets) if limit > 0 else None
    if capture is not None:
        capture.addFilter(redactor)
        root.addHandler(capture)
    try:
        yield capture
    finally:
        for handler in handlers:
            handler.removeFilter(redactor)
        if capture is not None:
            root.removeHandler(capture)
            capture.finish()
