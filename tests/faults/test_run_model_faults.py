"""Faults at each step of the run lifecycle, in process, on SQLite and on PostgreSQL behind a proxy.

Each test injects one fault (a doorbell the broker would not take, a database that went away, an
attempt whose process died), lets it clear, and checks the history invariants afterwards. The
dispatcher is a stand-in that can refuse messages; recovery runs with time passed in.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from invariants import check_history
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from harvester import Harvester, Settings
from harvester.execution.dispatcher import DispatchError
from harvester.execution.requests import new_run
from harvester.history.data import StateWrite
from harvester.history.engine import utcnow
from harvester.history.models import runs
from harvester.history.store import Claim, Outcome
from harvester.request import RunRequest

GRACE = 120.0  # HARVESTER_REDELIVER_AFTER's default


class Broker:
    """Stands in for the Celery dispatcher; ``down`` makes every publish fail like an unreachable broker."""

    def __init__(self) -> None:
        self.down = False
        self.sent: list[tuple[RunRequest, float | None]] = []
        self.gathers: list[RunRequest] = []

    def publish(self, requests, *, countdown=None) -> None:
        if self.down:
            raise DispatchError("broker unreachable at redis://127.0.0.1:1/0: ConnectionRefusedError")
        self.sent.extend((r, countdown) for r in requests)

    def publish_gather(self, parent) -> None:
        if self.down:
            raise DispatchError("broker unreachable")
        self.gathers.append(parent)

    def take(self) -> list[RunRequest]:
        sent, self.sent = [r for r, _ in self.sent], []
        return sent


@pytest.fixture(params=["sqlite", "postgresql"])
def hv(request, tmp_path):
    settings = {"data_dir": tmp_path / "data", "collectors": ["sample_collectors", "fanout_collectors"]}
    if request.param == "postgresql":
        proxy = request.getfixturevalue("pg_proxy")
        url = request.getfixturevalue("postgres_url")
        settings["database_url"] = proxy.url_for(url)
    made = Harvester(Settings(**settings, retry_delay=1.0))
    made.store.upgrade()
    with made.store.engine.begin() as conn:  # the test run's PostgreSQL database is shared by its tests
        for table in ("run_attempts", "runs", "collector_state", "records", "occurrences"):
            conn.execute(text(f"DELETE FROM {table}"))
    made.__dict__["dispatcher"] = Broker()
    made.proxy = request.getfixturevalue("pg_proxy") if request.param == "postgresql" else None
    yield made
    made.close()


def later(seconds: float = GRACE + 1):
    return utcnow() + timedelta(seconds=seconds)


def submit(hv, name="ok", **params) -> RunRequest:
    request = hv.request(name, {"token": uuid.uuid4().hex[:8], **params}, trigger="api")
    hv.store.create_runs([new_run(hv.registry, request)])
    return request


def fan(hv, count: int, token: str | None = None) -> RunRequest:
    members = [{"collector": "ok", "params": {"value": i}} for i in range(count)]
    return submit(hv, "fan", members=members, **({"token": token} if token else {}))


def members_ended(hv) -> RunRequest:
    """A fan-out of one member whose member has ended: its gather is due (and was sent)."""
    parent = fan(hv, 1)
    hv.runner.execute(parent)
    (member,) = hv.dispatcher.take()
    hv.runner.execute(member)
    return parent


def test_a_run_whose_publish_failed_is_sent_by_recovery(hv):
    broker = hv.dispatcher
    broker.down = True
    request = hv.request("ok", {"token": "t"}, trigger="cli")
    with pytest.raises(DispatchError, match="broker unreachable"):
        hv.submit([request])
    assert hv.store.get_run(request.run_id)["status"] == "queued"  # recorded all the same
    assert hv.recovery.run(later()).resent == 0  # still down: nothing sent, nothing lost
    broker.down = False
    assert hv.recovery.run(later()).resent == 0  # that pass made it due again: overdue a grace period later
    assert hv.recovery.run(later(2 * GRACE + 2)).resent == 1
    (resent,) = broker.take()
    assert resent.run_id == request.run_id
    assert hv.runner.execute(resent).status == "succeeded"
    check_history(hv.store, grace=GRACE)


def test_a_lost_retry_message_is_sent_again_once_overdue(hv):
    broker = hv.dispatcher
    request = submit(hv, "retry_fail")
    broker.down = True  # the retry's countdown message cannot be sent
    result = hv.runner.execute(request)
    assert result.status == "retrying"
    row = hv.store.get_run(request.run_id)
    assert row["next_attempt_at"] > utcnow()  # due after the backoff
    broker.down = False
    assert hv.recovery.run(utcnow()).resent == 0
    assert hv.recovery.run(row["next_attempt_at"] + timedelta(seconds=GRACE + 1)).resent == 1
    assert [r.run_id for r in broker.take()] == [request.run_id]
    check_history(hv.store, grace=GRACE)


def test_a_requeue_whose_publish_failed_is_sent_again(hv):
    broker = hv.dispatcher
    request = submit(hv)
    assert hv.store.claim(request.run_id, stale_before=utcnow(), worker="elsewhere:1")[0] is Claim.CLAIMED
    broker.down = True
    assert hv.recovery.run(later(61)).lost == 1  # requeued, but its message could not go
    assert hv.store.get_run(request.run_id)["status"] == "queued"
    broker.down = False
    assert hv.recovery.run(later(61 + GRACE + 1)).resent == 1
    assert hv.runner.execute(broker.take()[0]).status == "succeeded"
    assert [a["status"] for a in hv.store.attempts(request.run_id)] == ["lost", "succeeded"]
    check_history(hv.store, grace=GRACE)


def test_a_stranded_member_is_sent_and_its_parent_ends_and_frees_its_lock(hv):
    broker = hv.dispatcher
    parent = fan(hv, 3)
    broker.down = True  # the members' messages are lost
    assert hv.runner.execute(parent).status == "fanout"
    assert hv.store.get_run(parent.run_id)["status"] == "waiting"
    broker.down = False
    assert hv.recovery.run(later()).resent == 3
    for member in broker.take():
        hv.runner.execute(member)
    (gather,) = broker.gathers  # the member that completed the count sent it
    assert hv.runner.gather(gather).status == "succeeded"
    row = hv.store.get_run(parent.run_id)
    assert (row["status"], row["progress_done"]) == ("succeeded", 3)
    again = hv.runner.execute(fan(hv, 3, token=parent.params["token"]))
    assert again.status == "fanout"  # the lock is free: not skipped
    check_history(hv.store, grace=GRACE)


def test_a_batch_that_died_part_way_leaves_its_rest_to_recovery(hv, monkeypatch):
    broker = hv.dispatcher
    batch = [submit(hv), submit(hv), submit(hv)]
    real = hv.runner.execute
    calls = []

    def dies_on_second(request, on_progress=None):
        calls.append(request.run_id)
        if len(calls) == 2:
            raise SystemExit("worker process killed")  # what kill -9 looks like from the batch's side
        return real(request, on_progress)

    monkeypatch.setattr(hv.runner, "execute", dies_on_second)
    with pytest.raises(SystemExit):
        hv.runner.execute_batch(batch)
    monkeypatch.undo()
    assert [hv.store.get_run(r.run_id)["status"] for r in batch] == ["succeeded", "queued", "queued"]
    assert hv.recovery.run(later()).resent == 2
    for request in broker.take():
        hv.runner.execute(request)
    assert [hv.store.get_run(r.run_id)["status"] for r in batch] == ["succeeded"] * 3
    check_history(hv.store, grace=GRACE)


def test_a_batch_never_sleeps_a_retry_goes_back_with_its_due_time(hv):
    broker = hv.dispatcher
    batch = [submit(hv, "retry_fail"), submit(hv)]
    results = hv.runner.execute_batch(batch)
    assert [r.status for r in results] == ["retrying", "succeeded"]
    ((retry, countdown),) = broker.sent
    assert retry.run_id == batch[0].run_id
    assert 0 < countdown <= 0.4  # the collector's retry_backoff, with jitter


def test_a_takeover_after_a_freed_stale_lock_does_not_run_beside_the_new_holder(hv):
    old = submit(hv, "ok", token="same")
    stale = utcnow() - timedelta(seconds=600)
    assert hv.store.claim(old.run_id, stale_before=stale, worker="elsewhere:1", lock_key="ok:k")[0] is Claim.CLAIMED
    with hv.store.engine.begin() as conn:  # its worker stopped beating ten minutes ago
        conn.execute(update(runs).where(runs.c.id == old.run_id).values(heartbeat_at=stale))
    new = submit(hv, "ok", token="same")
    assert (
        hv.store.claim(new.run_id, stale_before=utcnow() - timedelta(seconds=60), lock_key="ok:k")[0] is Claim.CLAIMED
    )
    # the old run's message is redelivered: its attempt is lost, and taking it over must take the lock
    claim, _ = hv.store.claim(old.run_id, stale_before=utcnow() - timedelta(seconds=60), lock_key="ok:k")
    assert claim is Claim.LOCKED
    assert hv.store.get_run(old.run_id)["status"] == "queued"  # closed as lost, waiting for the lock
    assert hv.store.lock_holder("ok:k") == new.run_id
    check_history(hv.store, grace=GRACE)


def test_a_zombie_attempt_finishing_late_writes_nothing(hv):
    request = submit(hv, "stateful")
    stale = utcnow() - timedelta(seconds=600)
    assert hv.store.claim(request.run_id, stale_before=stale, worker="elsewhere:1")[1] == 1
    with hv.store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == request.run_id).values(heartbeat_at=stale))
    claim, attempt = hv.store.claim(request.run_id, stale_before=utcnow() - timedelta(seconds=60))
    assert (claim, attempt) == (Claim.CLAIMED, 2)  # taken over
    key = hv.store.get_run(request.run_id)["params_key"]
    zombie = hv.store.finish(
        request.run_id, 1, Outcome("succeeded", result="zombie"), state=StateWrite("stateful", key, {"n": 1}, None)
    )
    assert not zombie.recorded
    assert hv.store.load_state("stateful", key) == ({}, None)  # its state rolled back with it
    assert hv.store.get_run(request.run_id)["status"] == "running"
    live = hv.store.finish(
        request.run_id, 2, Outcome("succeeded", result="live"), state=StateWrite("stateful", key, {"n": 2}, None)
    )
    assert live.recorded
    assert hv.store.load_state("stateful", key) == ({"n": 2}, 1)
    assert hv.store.get_run(request.run_id)["result"] == "live"
    assert not hv.store.finish(request.run_id, 2, Outcome("failed"))  # a duplicate finish changes nothing
    check_history(hv.store, grace=GRACE)


def test_a_duplicate_member_finish_counts_once(hv):
    parent = fan(hv, 2)
    hv.runner.execute(parent)
    first, second = hv.dispatcher.take()
    _claim, attempt = hv.store.claim(first.run_id, stale_before=utcnow())
    assert hv.store.finish(first.run_id, attempt, Outcome("succeeded"), parent_run_id=parent.run_id)
    assert not hv.store.finish(first.run_id, attempt, Outcome("succeeded"), parent_run_id=parent.run_id)
    assert hv.store.get_run(parent.run_id)["progress_done"] == 1
    assert hv.runner.execute(second).status == "succeeded"
    assert len(hv.dispatcher.gathers) == 1


def test_mark_lost_and_retrying_are_guarded_on_the_attempt(hv):
    request = submit(hv)
    hv.store.claim(request.run_id, stale_before=utcnow(), worker="elsewhere:1")
    assert hv.store.mark_lost(request.run_id, 1, requeue=True, message="lost")
    assert not hv.store.mark_lost(request.run_id, 1, requeue=False, message="lost again")  # moved on
    assert hv.store.claim(request.run_id, stale_before=utcnow())[1] == 2
    assert not hv.store.finish(request.run_id, 1, Outcome("retrying", retry_in=1))  # attempt 1 is gone
    assert hv.store.finish(request.run_id, 2, Outcome("retrying", retry_in=1))
    assert [a["status"] for a in hv.store.attempts(request.run_id)] == ["lost", "retrying"]


@pytest.mark.parametrize("hv", ["postgresql"], indirect=True)  # the proxy sits in front of PostgreSQL
def test_database_unreachable_at_claim_and_finish_raises_and_loses_nothing(hv):
    request = submit(hv)
    hv.proxy.refuse()
    with pytest.raises(DBAPIError):
        hv.runner.execute(request)  # the Celery task retries this delivery with backoff
    hv.proxy.forward()
    assert hv.store.get_run(request.run_id)["status"] == "queued"
    real = hv.store.finish

    def finish_after_outage(*args, **kwargs):
        hv.proxy.drop()
        hv.proxy.refuse()
        try:
            return real(*args, **kwargs)
        finally:
            hv.proxy.forward()

    hv.store.finish = finish_after_outage
    with pytest.raises(DBAPIError):
        hv.runner.execute(request)
    del hv.store.finish
    row = hv.store.get_run(request.run_id)
    assert row["status"] == "running"  # recovery's: its heartbeat stopped
    report = hv.recovery.run(later(61))
    assert report.lost == 1
    (resent,) = hv.dispatcher.take()
    assert hv.runner.execute(resent).status == "succeeded"
    assert [a["status"] for a in hv.store.attempts(request.run_id)] == ["lost", "succeeded"]
    check_history(hv.store, grace=GRACE)


def test_retention_never_takes_part_of_a_running_flow(hv):
    parent = fan(hv, 2)
    hv.runner.execute(parent)
    first, _second = hv.dispatcher.take()
    hv.runner.execute(first)
    assert hv.store.prune(later(10)) == 0  # the finished member of a waiting parent stays
    done = submit(hv)
    hv.runner.execute(done)
    assert hv.store.prune(later(10), batch=1) == 1  # a finished run on its own goes
    assert hv.store.get_run(first.run_id) is not None


def test_retention_keeps_each_entrys_latest_occurrence(hv):
    now = utcnow()
    for minutes in (30, 20, 10):
        hv.store.dispatch_occurrence("g:ok:k", now - timedelta(minutes=minutes), lambda: ([], None))
    assert hv.store.prune_occurrences(now, batch=1) == 2
    assert [o["due_at"] for o in hv.store.occurrences()] == [now - timedelta(minutes=10)]
    assert hv.store.last_occurrences() == {"g:ok:k": now - timedelta(minutes=10)}


def test_recovery_prunes_by_itself_once_an_hour(hv):
    request = submit(hv)
    hv.runner.execute(request)
    hv.recovery = replace_recovery(hv, retention_days=1)
    assert hv.recovery.run(later(3 * 86400)).pruned == 1
    assert hv.store.get_run(request.run_id) is None


def replace_recovery(hv, **config):
    from harvester.execution.recovery import Recovery

    return Recovery(hv.registry, hv.store, hv.dispatcher, replace(hv.recovery.config, **config))


@pytest.mark.parametrize("hv", ["postgresql"], indirect=True)
def test_database_unreachable_at_occurrence_claim_loses_no_occurrence(hv, tmp_path):
    from datetime import UTC, datetime

    from harvester.dispatch.scheduler import ScheduleDispatcher

    t0 = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
    path = tmp_path / "schedule.yaml"
    path.write_text("groups:\n  g:\n    tasks:\n      - collector: ok\n        schedule: every 10s\n")
    sent: list[list[str]] = []
    scheduler = ScheduleDispatcher(
        hv.registry, hv.store, path, strict=True, submit=lambda rs: sent.append([r.run_id for r in rs])
    )
    scheduler.tick(t0 + timedelta(seconds=1))
    hv.proxy.refuse()
    scheduler.tick(t0 + timedelta(seconds=10))  # the claim cannot be written: nothing recorded, nothing sent
    hv.proxy.forward()
    assert sent == []
    scheduler.tick(t0 + timedelta(seconds=11))  # the same occurrence, now
    assert len(sent) == 1
    assert [o["due_at"] for o in hv.store.occurrences()] == [t0 + timedelta(seconds=10)]
    assert [r["id"] for r in hv.store.list_runs()] == sent[0]
    check_history(hv.store, grace=GRACE, now=t0)


def test_a_runs_duration_is_its_whole_life_and_each_attempt_has_its_own(hv):
    request = submit(hv, "retry_fail")
    first_start = utcnow() - timedelta(seconds=12)
    hv.store.claim(request.run_id, stale_before=utcnow())
    with hv.store.engine.begin() as conn:  # its first attempt started 12 s ago
        conn.execute(update(runs).where(runs.c.id == request.run_id).values(started_at=first_start))
    hv.store.finish(request.run_id, 1, Outcome("retrying", retry_in=0.1, duration=0.01))
    hv.store.claim(request.run_id, stale_before=utcnow())
    hv.store.finish(request.run_id, 2, Outcome("failed", duration=0.01))
    row = hv.store.get_run(request.run_id)
    assert 12 <= row["duration"] < 14  # "after 12 s, 2 attempts", not "after 0.01 s"
    attempts = hv.store.attempts(request.run_id)
    assert [a["status"] for a in attempts] == ["retrying", "failed"]
    assert all(a["duration"] is not None and a["duration"] < 12 for a in attempts)


def test_an_overdue_run_with_secrets_waits_a_day_before_recovery_gives_up(hv):
    request = hv.request("secretive", {"api_key": "sk-live-424242"}, trigger="api")
    hv.store.create_runs([new_run(hv.registry, request)])
    assert hv.recovery.run(later()).failed == 0  # its message may well be queued behind others
    assert hv.store.get_run(request.run_id)["status"] == "queued"
    report = hv.recovery.run(utcnow() + timedelta(days=1, minutes=5))
    assert report.failed == 1
    row = hv.store.get_run(request.run_id)
    assert row["status"] == "failed"
    assert "secret values" in row["error_message"]


def test_a_released_gatherer_can_no_longer_finish_the_parent(hv):
    parent = members_ended(hv)
    stalled_attempt, _ = hv.store.claim_gather(parent.run_id, "elsewhere:1")
    assert hv.store.release_gather(parent.run_id, utcnow() + timedelta(seconds=1))
    live_attempt, _ = hv.store.claim_gather(parent.run_id)
    assert live_attempt == stalled_attempt + 1
    assert not hv.store.finish(parent.run_id, stalled_attempt, Outcome("succeeded", result="stale"))
    assert hv.store.finish(parent.run_id, live_attempt, Outcome("succeeded", result="live"))
    assert hv.store.get_run(parent.run_id)["result"] == "live"


def test_a_gather_that_can_never_run_ends_the_flow(hv):
    parent = members_ended(hv)
    (gather,) = hv.dispatcher.gathers
    broken = replace(gather, params={"members": "not a list"})  # its Params changed since
    assert hv.runner.gather(broken).status == "failed"
    row = hv.store.get_run(parent.run_id)
    assert (row["status"], row["error_category"], row["error_phase"]) == ("failed", "config", "gather")


def test_a_lost_attempt_that_beat_meanwhile_is_not_closed(hv):
    request = submit(hv)
    hv.store.claim(request.run_id, stale_before=utcnow(), worker="elsewhere:1")
    seen = hv.store.get_run(request.run_id)["heartbeat_at"]
    hv.store.heartbeat([request.run_id])  # it beat after recovery read it
    assert not hv.store.mark_lost(request.run_id, 1, requeue=True, message="lost", heartbeat_seen=seen)
    assert hv.store.get_run(request.run_id)["status"] == "running"


def test_a_gather_lost_three_times_fails_the_flow_instead_of_looping(hv):
    parent = members_ended(hv)
    for lost in range(1, 4):
        assert hv.store.claim_gather(parent.run_id, "elsewhere:1") is not None  # a gather starts, then dies
        hv.recovery.run(later(61 * lost))
    row = hv.store.get_run(parent.run_id)
    assert row["status"] == "failed"
    assert "gather was lost 3 times" in row["error_message"]
    assert [a["status"] for a in hv.store.attempts(parent.run_id)][:3] == ["lost"] * 3
    check_history(hv.store, grace=GRACE)


def test_runs_a_live_batch_holds_are_not_sent_again_until_it_dies(hv):
    held, loose = submit(hv), submit(hv)
    long_ago = utcnow() - timedelta(minutes=10)  # both queued in a batch that has run for ten minutes
    with hv.store.engine.begin() as conn:
        conn.execute(update(runs).values(next_attempt_at=long_ago))
    hv.heartbeat.hold([held.run_id])
    hv.heartbeat.beat()  # what the heartbeat thread does every interval while the batch runs
    assert hv.recovery.run(utcnow()).resent == 1
    assert [r.run_id for r in hv.dispatcher.take()] == [loose.run_id]
    hv.heartbeat.release(held.run_id)  # the batch died: its runs are no longer held
    hv.recovery.run(later())
    assert held.run_id in {r.run_id for r in hv.dispatcher.take()}


def test_an_overdue_run_whose_secret_is_a_reference_is_sent_again(hv):
    request = hv.request("secretive", {"api_key": "${SECRETIVE_API_KEY}"}, trigger="api")
    hv.store.create_runs([new_run(hv.registry, request)])  # recorded; its message was lost
    report = hv.recovery.run(later())
    assert (report.resent, report.failed) == (1, 0)
    assert hv.store.get_run(request.run_id)["params"]["api_key"] == "${SECRETIVE_API_KEY}"
