"""Recovery: every accepted run ends, whatever was lost on the way.

History is the record of what must run; recovery compares it with the clock and rings the doorbell
again where a message, a process or a gather went missing:

- **lost attempts**: a ``running`` run whose heartbeat stopped goes back to ``queued`` and is sent
  again (or fails, when it cannot be rebuilt from history or died too often);
- **overdue runs**: a ``queued`` or ``retrying`` run still not started ``redeliver_after`` seconds
  after it was due (a publish that failed, a countdown message lost, a batch that died) is sent
  again; the claim drops a second delivery, so a doorbell too many costs nothing;
- **expired runs**: a due run that never started and whose expiry passed is recorded ``expired``
  instead (it is not sent again: a late occurrence is not run);
- **stalled fan-outs**: a parent whose members all ended but whose gather never came is gathered;
- **retention**: finished runs and occurrences older than the retention period go, in small batches.

Run by ``harvester beat`` and by every worker's main process, so it does not depend on where beat
runs or which queues a worker consumes; its writes are guarded, so several at once are harmless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from harvester.execution.dispatcher import Dispatcher, DispatchError
from harvester.history.engine import utcnow
from harvester.history.store import MAX_LOST_ATTEMPTS, Ended, Outcome, Store
from harvester.registry import Registry
from harvester.request import RunRequest

log = logging.getLogger(__name__)

#: A due run that recovery cannot send again (secret params, unknown collector) is failed only when
#: it was queued this long ago: until then its own message may well be waiting in a busy queue.
GIVE_UP_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class RecoveryConfig:
    lost_after: float = 60.0
    redeliver_after: float = 120.0
    retention_days: float = 90.0  # 0 keeps everything
    prune_every: float = 3600.0
    batch: int = 500


@dataclass
class RecoveryReport:
    lost: int = 0  # lost attempts closed (re-sent or failed)
    resent: int = 0  # overdue runs sent again
    regathered: int = 0  # stalled fan-outs gathered
    failed: int = 0  # runs that could not be sent again and were failed
    pruned: int = 0  # runs deleted by retention
    expired: int = 0  # due runs that never started by their expiry, recorded expired

    @property
    def total(self) -> int:
        return self.lost + self.resent + self.regathered + self.failed + self.expired


class Recovery:
    def __init__(self, registry: Registry, store: Store, dispatcher: Dispatcher, config: RecoveryConfig) -> None:
        self.registry = registry
        self.store = store
        self.dispatcher = dispatcher
        self.config = config
        self._pruned_at: datetime | None = None

    def run(self, now: datetime | None = None) -> RecoveryReport:
        """One pass: lost attempts, then overdue runs, then stalled fan-outs, then retention if due."""
        now = now or utcnow()
        report = RecoveryReport()
        self.reap_lost(now, report)
        self.expire(now, report)
        self.sweep_overdue(now, report)
        self.regather(now, report)
        self.prune_if_due(now, report)
        if report.total:
            log.info(
                "recovery: %d lost, %d re-sent, %d gathered, %d failed, %d expired",
                report.lost,
                report.resent,
                report.regathered,
                report.failed,
                report.expired,
            )
        return report

    # -- lost attempts -----------------------------------------------------------------------

    def reap_lost(self, now: datetime, report: RecoveryReport) -> None:
        stale_before = now - timedelta(seconds=self.config.lost_after)
        for run in self.store.lost_runs(stale_before):
            if run["members"] is not None:  # its gathering process died: waiting again, regathered below
                if self.store.release_gather(run["id"], stale_before):
                    report.lost += 1
                    self._give_up_gathering(run)
                continue
            why = self.cannot_resend(run)
            if why is None and self.store.lost_attempts(run["id"]) + 1 >= MAX_LOST_ATTEMPTS:
                why = f"worker lost {MAX_LOST_ATTEMPTS} times"
            if why is not None:
                ended = self.store.mark_lost(
                    run["id"],
                    run["attempt"],
                    requeue=False,
                    message=f"worker lost; not re-enqueued: {why}",
                    heartbeat_seen=run["heartbeat_at"],
                )
                report.lost += int(ended.recorded)
                self._after_member(run, ended)
                continue
            requeued = self.store.mark_lost(
                run["id"],
                run["attempt"],
                requeue=True,
                message="worker lost; re-enqueued",
                heartbeat_seen=run["heartbeat_at"],
            )
            if requeued.recorded:
                report.lost += 1
                log.warning("run %s of %s lost its worker; re-enqueued", run["id"], run["collector"])
                self._publish([RunRequest.from_history(run)])

    def _give_up_gathering(self, parent: dict[str, Any]) -> None:
        """A gather that kills its process every time (out of memory, a hard time limit) must not
        loop forever: after MAX_LOST_ATTEMPTS lost gathers the flow fails."""
        if self.store.lost_attempts(parent["id"]) < MAX_LOST_ATTEMPTS:
            return
        message = f"fan-out not gathered: its gather was lost {MAX_LOST_ATTEMPTS} times"
        outcome = Outcome("failed", error_category="unknown", error_phase="gather", error_message=message)
        self.store.abandon(parent["id"], outcome)
        log.error("fan-out run %s of %s failed: %s", parent["id"], parent["collector"], message)

    # -- expired runs ------------------------------------------------------------------------

    def expire(self, now: datetime, report: RecoveryReport) -> None:
        for _ in range(20):  # at most 20 batches a pass, like the overdue sweep
            rows = self.store.expire_due(now, self.config.batch)
            for run in rows:
                log.info("run %s of %s expired: not started by its expiry", run["id"], run["collector"])
                self._after_member(run, Ended(True, run["parent_done"]))
            report.expired += len(rows)
            if len(rows) < self.config.batch:
                return

    # -- overdue runs ------------------------------------------------------------------------

    def sweep_overdue(self, now: datetime, report: RecoveryReport) -> None:
        overdue_before = now - timedelta(seconds=self.config.redeliver_after)
        for _ in range(20):  # at most 20 batches a pass: the next pass takes the rest
            rows = self.store.claim_overdue(overdue_before, now, self.config.batch)
            requests = []
            for run in rows:
                why = self.cannot_resend(run)
                if why is None:
                    requests.append(RunRequest.from_history(run))
                elif run["queued_at"] < now - GIVE_UP_AFTER:
                    # its own message may well be waiting in a busy queue: only a day later is it given up
                    message = f"not started within a day and cannot be sent again: {why}"
                    outcome = Outcome("failed", error_category="unknown", error_phase="validate", error_message=message)
                    ended = self.store.abandon(run["id"], outcome, run["parent_run_id"], pending_only=True)
                    report.failed += int(ended.recorded)
                    self._after_member(run, ended)
            if requests and self._publish(requests):
                report.resent += len(requests)
                log.warning("%d run(s) overdue by %.0f s sent again", len(requests), self.config.redeliver_after)
            if len(rows) < self.config.batch:
                return

    # -- stalled fan-outs --------------------------------------------------------------------

    def regather(self, now: datetime, report: RecoveryReport) -> None:
        for parent in self.store.stalled_fanouts(now - timedelta(seconds=self.config.lost_after)):
            why = self.cannot_resend(parent)
            if why is not None:
                message = f"fan-out not gathered: {why}"
                outcome = Outcome("failed", error_category="unknown", error_phase="gather", error_message=message)
                report.failed += int(self.store.abandon(parent["id"], outcome).recorded)
                continue
            if self._publish_gather(RunRequest.from_history(parent)):
                report.regathered += 1
                log.warning("fan-out run %s of %s: gather sent again by recovery", parent["id"], parent["collector"])

    # -- retention ---------------------------------------------------------------------------

    def prune_if_due(self, now: datetime, report: RecoveryReport) -> None:
        days = self.config.retention_days
        if days <= 0:
            return
        if self._pruned_at is not None and (now - self._pruned_at).total_seconds() < self.config.prune_every:
            return
        self._pruned_at = now
        cutoff = now - timedelta(days=days)
        report.pruned = self.store.prune(cutoff, self.config.batch)
        self.store.prune_occurrences(cutoff, self.config.batch)

    # -- helpers -----------------------------------------------------------------------------

    def cannot_resend(self, run: dict[str, Any]) -> str | None:
        """Why a run cannot be rebuilt from history, or None when it can."""
        if run["collector"] not in self.registry:
            return "collector no longer registered"
        if self.registry.get(run["collector"]).masked_secrets(run["params"]):
            return "its params hold secret values, which history does not keep"
        return None

    def _after_member(self, run: dict[str, Any], ended: Ended) -> None:
        if ended.parent_done and run["parent_run_id"] is not None:
            parent = self.store.get_run(run["parent_run_id"])
            if parent is not None and self.cannot_resend(parent) is None:
                self._publish_gather(RunRequest.from_history(parent))

    def _publish(self, requests: list[RunRequest]) -> bool:
        try:
            self.dispatcher.publish(requests)
        except DispatchError as exc:
            log.warning("recovery could not send %d run(s): %s; the next pass tries again", len(requests), exc)
            return False
        return True

    def _publish_gather(self, parent: RunRequest) -> bool:
        try:
            self.dispatcher.publish_gather(parent)
        except DispatchError as exc:
            log.warning("recovery could not send the gather of run %s: %s", parent.run_id, exc)
            return False
        return True
