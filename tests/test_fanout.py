"""Fan-out without workers: the plain ``run()``, ``run_inline`` with history, the store's fan-out rows."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from harvester import Collector, ConfigError, Harvester, Settings
from harvester.collector import LocalContext, SubcollectorResult
from harvester.errors import FailureCategory, MemberFailed, classify_failure
from harvester.examples.topic import Topic, TopicSource
from harvester.execution.requests import new_run
from harvester.history.engine import utcnow
from harvester.history.store import Claim
from harvester.registry import Registry
from harvester.request import RunRequest


class Piece(Collector):
    name = "piece"

    class Params(BaseModel):
        n: int
        fail: str = ""

    def collect(self) -> int:
        if self.params.fail == "config":
            raise ConfigError("bad piece")
        if self.params.fail:
            raise ValueError(f"piece {self.params.n} is broken")
        return self.params.n


class Pieces(Collector):
    name = "pieces"
    steps = ("double", "label")

    class Params(BaseModel):
        fails: list[int] = []
        count: int = 3

    def subcollectors(self) -> list[Collector]:
        return [Piece(n=i, fail="yes" if i in self.params.fails else "") for i in range(1, self.params.count + 1)]

    def double(self, values: list[int]) -> list[int]:
        return [v * 2 for v in values]

    def label(self, values: list[int]) -> dict[str, Any]:
        return {"values": values, "flow": self.run_id}


class AllPieces(Pieces):
    name = "all_pieces"
    require_all = True


class SlowPiece(Piece):
    name = "slow_piece"
    queue = "slow"


class MixedPieces(Pieces):
    """Members of two queues: even ones on the default queue, odd ones on ``slow``."""

    name = "mixed_pieces"

    def subcollectors(self) -> list[Collector]:
        return [(SlowPiece if i % 2 else Piece)(n=i) for i in range(1, self.params.count + 1)]


class Stranger(Collector):  # not registered
    name = "stranger"

    def collect(self) -> int:
        return 1


class Invites(Collector):
    name = "invites"

    class Params(BaseModel):
        who: str = "stranger"

    def subcollectors(self) -> list[Collector]:
        return [Stranger()] if self.params.who == "stranger" else [Pieces()]


@pytest.fixture
def hv(tmp_path):
    registry = Registry([Piece, Pieces, AllPieces, Invites, Topic, TopicSource, SlowPiece, MixedPieces])
    made = Harvester(Settings(data_dir=tmp_path / "data"), registry=registry)
    made.store.upgrade()
    yield made
    made.close()


def test_plain_run_is_the_whole_flow_in_process():
    collector = Pieces(fails=[2])
    context = LocalContext()
    collector.bind(context)
    assert collector.run() == {"values": [2, 6], "flow": None}
    assert context.phases == ["validate", "collect", "gather", "after_run"]
    assert Topic(topic="x").run()["item_count"] == len(
        [i for s in (1, 2, 3) for i in TopicSource(topic="x", source=s).run() if 0 <= i < 100]
    )


def test_plain_run_with_require_all_names_the_member_and_its_category():
    with pytest.raises(MemberFailed, match="member piece") as info:
        AllPieces(fails=[1]).run()
    assert classify_failure(info.value) is FailureCategory.VALIDATION


def test_steps_must_name_methods():
    with pytest.raises(TypeError, match="nope"):

        class Broken(Collector):
            name = "broken"
            steps = ("nope",)

            def subcollectors(self) -> list[Collector]:
                return []


def test_run_inline_records_each_member_in_order_and_ties_the_flow(hv):
    seen: list[tuple[int, int | None]] = []
    result = hv.run_inline(hv.request("pieces", {"count": 4}), on_progress=lambda d, t: seen.append((d, t)))
    assert result.status == "succeeded"
    assert result.result == {"values": [2, 4, 6, 8], "flow": result.run_id}
    members = hv.store.members(result.run_id)
    assert [m["params"]["n"] for m in members] == [1, 2, 3, 4]
    assert {m["parent_run_id"] for m in members} == {result.run_id}
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    parent = hv.store.get_run(result.run_id)
    assert (parent["members"], parent["progress_done"], parent["progress_total"]) == (4, 4, 4)
    assert parent["status"] == "succeeded"


def test_failed_member_reaches_gather_with_its_error(hv):
    class Spy(Pieces):
        name = "spy"
        seen: list[SubcollectorResult] = []

        def gather(self, results: list[SubcollectorResult]) -> list[int]:
            type(self).seen = results
            return super().gather(results)

    hv.registry.add(Spy)
    result = hv.run_inline(hv.request("spy", {"fails": [2]}))
    assert result.status == "succeeded"
    broken = Spy.seen[1]
    assert (broken.ok, broken.status, broken.error.category) == (False, "failed", "validation")
    assert "piece 2 is broken" in broken.error.message
    assert broken.run_id == hv.store.members(result.run_id)[1]["id"]
    assert result.result["values"] == [2, 6]


def test_require_all_fails_the_parent_in_gather(hv):
    result = hv.run_inline(hv.request("all_pieces", {"fails": [3]}))
    assert result.status == "failed"
    row = hv.store.get_run(result.run_id)
    assert (row["error_category"], row["error_phase"]) == ("validation", "gather")
    assert row["attempt"] == 2  # the fan-out, then one gather: gather is not retried, its members were


def test_member_must_be_registered_and_must_not_fan_out(hv):
    stranger = hv.run_inline(hv.request("invites"))
    assert stranger.status == "failed"
    assert "not a registered collector" in hv.store.get_run(stranger.run_id)["error_message"]
    nested = hv.run_inline(hv.request("invites", {"who": "pieces"}))
    assert "fan-outs do not nest" in hv.store.get_run(nested.run_id)["error_message"]
    assert stranger.exit_code == 2


class Doorbells:
    """Stands in for the Celery dispatcher: which runs and gathers were sent."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.gathers: list[str] = []
        self.revoked: list[str] = []
        self.batches: list[list[tuple[str, str]]] = []

    def publish(self, requests, *, countdown=None) -> None:
        self.runs.extend(r.run_id for r in requests)

    def publish_batches(self, batches) -> None:
        self.batches.extend([(r.run_id, self.queue_of(r)) for r in requests] for requests in batches)

    def queue_of(self, request) -> str:
        return request.queue or ("slow" if request.collector == "slow_piece" else "default")

    def publish_gather(self, parent) -> None:
        self.gathers.append(parent.run_id)

    def revoke(self, run_ids) -> None:
        self.revoked.extend(run_ids)


@pytest.fixture
def bells(hv) -> Doorbells:
    made = Doorbells()
    hv.__dict__["dispatcher"] = made  # before the runner and recovery are built
    return made


def _waiting_parent(hv: Harvester, **params: Any) -> tuple[str, list[str]]:
    """A parent fanned out on a 'worker' (members recorded and sent, nothing run yet)."""
    request = hv.request("pieces", params)
    hv.store.create_runs([new_run(hv.registry, request)])
    result = hv.runner.execute(request)
    assert result.status == "fanout"
    return request.run_id, [m.run_id for m in result.members]


def _member_request(hv: Harvester, parent: str, run_id: str) -> RunRequest:
    return RunRequest.from_history(hv.store.get_run(run_id))


def test_waiting_parent_is_never_restarted_nor_heartbeaten(hv, bells):
    parent, members = _waiting_parent(hv)
    assert bells.runs == members  # recorded first, then sent
    assert hv.store.get_run(parent)["status"] == "waiting"
    claim, _ = hv.store.claim(parent, stale_before=utcnow())
    assert claim is Claim.FINISHED  # a late duplicate of the parent's message must not fan out again
    hv.store.heartbeat([parent])
    assert hv.store.get_run(parent)["heartbeat_at"] is None
    assert hv.store.lost_runs(utcnow() + timedelta(hours=1)) == []


def test_second_fanout_of_same_params_is_skipped_while_the_first_waits(hv, bells):
    _waiting_parent(hv, count=2)
    second = hv.run_inline(hv.request("pieces", {"count": 2}))
    assert second.status == "skipped"
    assert "already running" in hv.store.get_run(second.run_id)["error_message"]


def test_the_member_that_completes_the_count_sends_the_gather_once(hv, bells):
    parent, members = _waiting_parent(hv, count=2)
    first = _member_request(hv, parent, members[0])
    assert hv.runner.execute(first).status == "succeeded"
    assert bells.gathers == []
    assert hv.runner.execute(first).status == "duplicate"  # a second delivery counts nothing
    assert hv.store.get_run(parent)["progress_done"] == 1
    assert hv.runner.execute(_member_request(hv, parent, members[1])).status == "succeeded"
    assert bells.gathers == [parent]
    request = RunRequest.from_history(hv.store.get_run(parent))
    assert hv.runner.gather(request).status == "succeeded"
    assert hv.runner.gather(request).status == "duplicate"  # recovery's backstop, arriving late
    assert hv.store.get_run(parent)["status"] == "succeeded"


def test_a_skipped_or_refused_member_counts_too(hv, bells):
    parent, members = _waiting_parent(hv, count=2)
    hv.store.skip(members[0], "skipped: test", parent)
    refused = replace(_member_request(hv, parent, members[1]), collector="no_such_collector")
    assert hv.runner.execute(refused).status == "failed"
    assert bells.gathers == [parent]


def test_recovery_gathers_a_fanout_whose_gather_was_lost(hv, bells):
    parent, members = _waiting_parent(hv, count=2)
    later = utcnow() + timedelta(hours=1)
    assert hv.recovery.run(later).regathered == 0  # members still queued: nothing to gather yet
    for run_id in members:
        assert hv.runner.execute(_member_request(hv, parent, run_id)).status == "succeeded"
    bells.gathers.clear()  # the gather message was lost
    assert hv.recovery.run(utcnow() + timedelta(hours=1)).regathered == 1
    assert bells.gathers == [parent]


def test_recovery_regathers_when_the_gathering_process_died(hv, bells):
    parent, members = _waiting_parent(hv, count=1)
    hv.runner.execute(_member_request(hv, parent, members[0]))
    assert hv.store.claim_gather(parent, "elsewhere:1")[0] == 2  # a gather started, then its process died
    assert hv.store.claim_gather(parent) is None
    bells.gathers.clear()
    report = hv.recovery.run(utcnow() + timedelta(hours=1))
    assert report.regathered == 1
    assert bells.gathers == [parent]
    assert hv.store.get_run(parent)["status"] == "waiting"  # waiting again, for the resent gather


def test_cli_runs_the_example_flow_and_shows_its_members(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from harvester.cli import cli

    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    ran = runner.invoke(cli, ["run", "topic", "--topic", "rain"], catch_exceptions=False)
    assert ran.exit_code == 0, ran.output
    parent = json.loads(runner.invoke(cli, ["runs", "--collector", "topic", "--json"]).output)[0]
    assert parent["result"]["item_count"] == Topic(topic="rain").run()["item_count"]
    shown = runner.invoke(cli, ["runs", "show", parent["run_id"]], catch_exceptions=False)
    assert shown.output.count("topic_source") == 3
    as_json = json.loads(runner.invoke(cli, ["runs", "show", parent["run_id"], "--json"]).output)
    assert [m["member_index"] for m in as_json["member_runs"]] == [0, 1, 2]


class SecretPieces(Pieces):
    name = "secret_pieces"

    class Params(BaseModel):
        fails: list[int] = []
        count: int = 1
        key: SecretStr = SecretStr("")


def test_a_parent_with_secrets_is_gathered_with_them_never_with_the_masks(hv, bells):
    hv.registry.add(SecretPieces)
    request = hv.request("secret_pieces", {"key": "s3cret"})
    hv.store.create_runs([new_run(hv.registry, request)])
    (member,) = hv.runner.execute(request).members
    assert member.parent_params == {"fails": [], "count": 1, "key": "s3cret"}  # history keeps it masked
    assert hv.runner.execute(member).status == "succeeded"
    assert bells.gathers == [request.run_id]

    again = hv.request("secret_pieces", {"key": "s3cret", "count": 1, "fails": [5]})
    hv.store.create_runs([new_run(hv.registry, again)])
    (resent,) = hv.runner.execute(again).members
    hv.runner.execute(replace(resent, parent_params=None))  # re-sent from history: it has no secrets
    row = hv.store.get_run(again.run_id)
    assert (row["status"], row["error_phase"]) == ("failed", "gather")
    assert "secret values" in row["error_message"]


class KeyedPiece(Piece):
    name = "keyed_piece"

    class Params(BaseModel):
        n: int
        fail: str = ""
        key: SecretStr

    def collect(self) -> int:
        return len(self.params.key.get_secret_value()) * 100 + self.params.n


class KeyedPieces(Pieces):
    name = "keyed_pieces"
    steps = ()

    class Params(BaseModel):
        key: SecretStr

    def subcollectors(self) -> list[Collector]:
        return [KeyedPiece(n=i, key=self.params.key) for i in (1, 2)]


def test_a_parents_secret_reference_travels_to_its_members_as_the_reference(hv, bells, monkeypatch):
    hv.registry.add(KeyedPiece)
    hv.registry.add(KeyedPieces)
    monkeypatch.setenv("KEYED_PIECES_KEY", "resolved-on-the-worker")
    request = hv.request("keyed_pieces", {"key": "${KEYED_PIECES_KEY}"})
    hv.store.create_runs([new_run(hv.registry, request)])
    members = hv.runner.execute(request).members
    for member in members:
        assert member.params["key"] == "${KEYED_PIECES_KEY}"  # the message, never the value
        assert member.parent_params is None  # history keeps the reference: the gather needs nothing more
        assert hv.store.get_run(member.run_id)["params"]["key"] == "${KEYED_PIECES_KEY}"
    assert [hv.runner.execute(m).result for m in members] == [2201, 2202]  # each resolved it again
    assert bells.gathers == [request.run_id]
    gathered = hv.runner.gather(RunRequest.from_history(hv.store.get_run(request.run_id)))
    assert (gathered.status, gathered.result) == ("succeeded", [2201, 2202])


def test_cancelling_the_last_open_member_sends_the_gather_and_the_parent_sees_it_cancelled(hv, bells):
    parent, (first, second, third) = _waiting_parent(hv)
    for member in (first, second):
        assert hv.runner.execute(_member_request(hv, parent, member)).status == "succeeded"
    assert bells.gathers == []
    cancelled = hv.cancel(third)
    assert (cancelled.recorded, bells.revoked, bells.gathers) == (True, [third], [parent])
    gathered = hv.runner.gather(RunRequest.from_history(hv.store.get_run(parent)))
    assert gathered.status == "succeeded"
    members = {m["id"]: m["status"] for m in hv.store.members(parent)}
    assert members[third] == "cancelled"


def test_cancelling_a_parent_revokes_it_and_its_open_members(hv, bells):
    parent, members = _waiting_parent(hv)
    cancelled = hv.cancel(parent)
    assert cancelled.was == "waiting"
    assert bells.revoked == [parent, *members]
    assert hv.runner.execute(_member_request(hv, parent, members[0])).status == "duplicate"
    assert not hv.cancel(parent).recorded


def test_a_big_fan_out_sends_its_members_as_chunks_each_of_one_queue(hv, bells, monkeypatch):
    """Beyond MEMBER_MESSAGES members, a fan-out sends that many messages, each a chunk of members
    of one queue; a worker runs a chunk one member after another, and the last one sends the gather."""
    from harvester.execution import runner

    monkeypatch.setattr(runner, "MEMBER_MESSAGES", 10)
    small = hv.request("mixed_pieces", {"count": 10})
    hv.store.create_runs([new_run(hv.registry, small)])
    assert hv.runner.execute(small).status == "fanout"
    assert len(bells.runs) == 10
    assert bells.batches == []

    bells.runs.clear()
    parent = hv.request("mixed_pieces", {"count": 45})
    hv.store.create_runs([new_run(hv.registry, parent)])
    members = [m.run_id for m in hv.runner.execute(parent).members]
    assert bells.runs == []
    assert len(bells.batches) == 10  # 23 + 22 members of two queues, in chunks of 5
    assert all(len({queue for _, queue in chunk}) == 1 for chunk in bells.batches)
    assert sorted(run_id for chunk in bells.batches for run_id, _ in chunk) == sorted(members)
    for chunk in bells.batches:
        results = hv.runner.execute_batch([_member_request(hv, parent.run_id, run_id) for run_id, _ in chunk])
        assert {r.status for r in results} == {"succeeded"}
    assert bells.gathers == [parent.run_id]
    hv.runner.gather(replace(parent))
    assert hv.store.get_run(parent.run_id)["status"] == "succeeded"


def test_chunks_the_broker_refused_are_sent_by_recovery_and_the_flow_ends(hv, bells, monkeypatch):
    """The members are recorded before their chunks go: a broker that refuses the chunks leaves
    them queued, recovery sends each once overdue, and the flow still gathers."""
    from harvester.execution import runner
    from harvester.execution.dispatcher import DispatchError

    monkeypatch.setattr(runner, "MEMBER_MESSAGES", 4)

    def refused(batches):
        raise DispatchError("broker down")

    monkeypatch.setattr(bells, "publish_batches", refused)
    parent = hv.request("pieces", {"count": 12})
    hv.store.create_runs([new_run(hv.registry, parent)])
    result = hv.runner.execute(parent)
    assert result.status == "fanout"
    assert bells.runs == []  # nothing went out
    members = [m.run_id for m in result.members]
    assert {hv.store.get_run(m)["status"] for m in members} == {"queued"}
    assert hv.recovery.run(utcnow() + timedelta(hours=1)).resent == 12
    assert sorted(bells.runs) == sorted(members)
    for member in members:
        assert hv.runner.execute(_member_request(hv, parent.run_id, member)).status == "succeeded"
    assert bells.gathers == [parent.run_id]
