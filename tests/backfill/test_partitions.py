"""Partition enumeration (harvester.backfill): pure functions, both bounds included, no sleeping."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from backfill_collectors import Daily, Lettered, Monthly, Numbered
from pydantic import BaseModel

from harvester import Collector
from harvester.backfill import (
    BATCH_PREFIX,
    Month,
    PartitionError,
    backfill_id,
    enumerate_partitions,
    partition_label,
    partition_param,
    partition_values,
)
from harvester.errors import RegistryError
from harvester.registry import Registry


@pytest.mark.parametrize(
    ("cls", "start", "end", "step", "expected"),
    [
        (Daily, "2026-01-30", "2026-02-02", None, ["2026-01-30", "2026-01-31", "2026-02-01", "2026-02-02"]),
        (Daily, "2026-03-01", "2026-03-01", "1d", ["2026-03-01"]),
        # across the spring DST change in Europe and the US: calendar days, none lost or doubled
        (Daily, "2026-03-07", "2026-03-30", "7d", ["2026-03-07", "2026-03-14", "2026-03-21", "2026-03-28"]),
        (Daily, "2026-10-24", "2026-10-27", "1d", ["2026-10-24", "2026-10-25", "2026-10-26", "2026-10-27"]),
        (Daily, "2024-02-27", "2024-03-01", "1d", ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"]),
        (Daily, "2026-01-01", "2026-01-20", "2w", ["2026-01-01", "2026-01-15"]),
        (Daily, "2026-01-01", "2026-01-05", "10d", ["2026-01-01"]),
        (Monthly, "2025-11", "2026-02", None, ["2025-11", "2025-12", "2026-01", "2026-02"]),
        (Monthly, "2025-01", "2025-12", "3mo", ["2025-01", "2025-04", "2025-07", "2025-10"]),
        (Numbered, "1", "10", "3", ["1", "4", "7", "10"]),
        (Numbered, "-2", "1", None, ["-2", "-1", "0", "1"]),
        (Lettered, "a", "g", "3", ["a", "d", "g"]),
    ],
)
def test_partitions_include_both_bounds(
    cls: type[Collector], start: str, end: str, step: str | None, expected: list[str]
) -> None:
    values = partition_values(cls, start, end, step)
    assert [partition_label(v) for v in values] == expected


def test_values_have_the_param_type() -> None:
    assert partition_values(Daily, "2026-01-01", "2026-01-01") == [date(2026, 1, 1)]
    months = partition_values(Monthly, "2026-01", "2026-01")
    assert months == ["2026-01"]
    assert isinstance(months[0], Month)
    assert partition_values(Numbered, "7", "7") == [7]


@pytest.mark.parametrize(
    ("cls", "step", "message"),
    [
        (Daily, "1mo", "step '1mo' does not fit a date partition: give a positive step like 1d, 7d or 2w"),
        (Daily, "0d", "step '0d' does not fit a date partition"),
        (Daily, "-1d", "step '-1d' does not fit a date partition"),
        (Daily, "1h", "step '1h' does not fit a date partition"),
        (Daily, "day", "step 'day' does not fit a date partition"),
        (Numbered, "1d", "step '1d' does not fit a int partition: give a positive step like 1 or 10"),
        (Numbered, "0", "step '0' does not fit a int partition"),
    ],
)
def test_bad_steps_say_which_fit(cls: type[Collector], step: str, message: str) -> None:
    start, end = ("2026-01-01", "2026-01-31") if cls is Daily else ("1", "9")
    with pytest.raises(PartitionError, match="^" + message.replace("(", r"\(")):
        partition_values(cls, start, end, step)


def test_month_steps() -> None:
    with pytest.raises(PartitionError, match=r"step .1d. does not fit a month partition: .* like 1mo or 3mo"):
        partition_values(Monthly, "2026-01", "2026-03", "1d")


@pytest.mark.parametrize(
    ("cls", "start", "end", "message"),
    [
        (Daily, "2026-02-01", "2026-01-01", "--to 2026-01-01 is before --from 2026-02-01"),
        (Daily, "2026-02-30", "2026-03-01", "--from '2026-02-30' is no value of partition param 'day': "),
        (Daily, "2026-01-01", "soon", "--to 'soon' is no value of partition param 'day'"),
        (Monthly, "2026-1", "2026-03", "--from '2026-1' is no month: give it as YYYY-MM, e.g. 2026-03"),
        (Monthly, "2026-01", "2026-13", "--to '2026-13' is no month"),
        (Numbered, "one", "3", "--from 'one' is no value of partition param 'page'"),
    ],
)
def test_bad_bounds_name_the_option(cls: type[Collector], start: str, end: str, message: str) -> None:
    with pytest.raises(PartitionError, match="^" + message):
        partition_values(cls, start, end)


def test_too_many_partitions_is_refused() -> None:
    with pytest.raises(PartitionError, match="36526 partitions from 1926-01-01 to 2026-01-01: more than 10000"):
        partition_values(Daily, "1926-01-01", "2026-01-01")


def test_a_collector_without_partition() -> None:
    class Plain(Collector):
        name = "plain"

    assert partition_param(Plain) is None
    with pytest.raises(PartitionError, match=r"collector 'plain' declares no partition param: set e.g. partition"):
        partition_values(Plain, "1", "2")


def test_registration_refuses_a_partition_that_names_no_param() -> None:
    class Typo(Collector):
        name = "typo"
        partition = "dya"

        class Params(BaseModel):
            day: date

    with pytest.raises(
        RegistryError, match=r"test_partitions\..*Typo\.partition = 'dya' names no param .*\(params: day\)"
    ):
        Registry([Typo])


def test_registration_refuses_a_param_it_cannot_enumerate() -> None:
    class Hourly(Collector):
        name = "hourly"
        partition = "hour"

        class Params(BaseModel):
            hour: datetime

    with pytest.raises(RegistryError, match=r"Hourly\.partition = 'hour' is a datetime param: .* partitions\(start"):
        Registry([Hourly])


def test_registration_takes_a_param_with_its_own_partitions() -> None:
    class Hourly(Collector):
        name = "hourly"
        partition = "hour"

        class Params(BaseModel):
            hour: datetime

        @classmethod
        def partitions(cls, start: Any, end: Any, step: str | None) -> list[Any]:
            return [start, end]

    assert "hourly" in Registry([Hourly])
    assert partition_values(Hourly, "2026-01-01T00:00Z", "2026-01-01T05:00Z") == [
        datetime.fromisoformat("2026-01-01T00:00+00:00"),
        datetime.fromisoformat("2026-01-01T05:00+00:00"),
    ]


def test_optional_and_month_params_are_enumerable() -> None:
    class Maybe(Collector):
        name = "maybe"
        partition = "day"

        class Params(BaseModel):
            day: date | None = None

    assert partition_param(Maybe) is not None
    assert partition_values(Maybe, "2026-01-01", "2026-01-02") == [date(2026, 1, 1), date(2026, 1, 2)]


def test_month_type_validates_its_format() -> None:
    assert Monthly(month="2026-03").params.month == "2026-03"
    with pytest.raises(Exception, match="month"):
        Monthly(month="March")
    assert Monthly.params_schema()["properties"]["month"]["pattern"].startswith("^")


def test_enumerate_is_a_function_of_its_arguments() -> None:
    assert enumerate_partitions("int", 3, 3, "5") == [3]
    assert enumerate_partitions("date", date(2026, 1, 1), date(2026, 1, 3), "1d")[-1] == date(2026, 1, 3)


def test_backfill_id_is_stable_per_command() -> None:
    one = backfill_id("daily", {"region": "eu"}, "2026-01-01", "2026-01-30", None)
    assert one.startswith(BATCH_PREFIX)
    assert len(one) <= 64  # runs.batch_id
    assert one == backfill_id("daily", {"region": "eu"}, "2026-01-01", "2026-01-30", None)
    assert one != backfill_id("daily", {"region": "us"}, "2026-01-01", "2026-01-30", None)
    assert one != backfill_id("daily", {"region": "eu"}, "2026-01-01", "2026-01-31", None)


def test_a_huge_int_range_is_refused_before_it_is_built() -> None:
    with pytest.raises(PartitionError, match="1000000000001 partitions from 0 to 1000000000000"):
        partition_values(Numbered, "0", str(10**12))
