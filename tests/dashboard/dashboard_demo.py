"""A day of realistic history for the dashboard's tests and screenshots: several collectors on
different schedules, successes, a retried run, a failing collector gone stale, a fan-out run with
children, one never run. Rows are written straight into the tables so their times lie in the past."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field, SecretStr

from harvester import Collector, Harvester, Settings
from harvester.dashboard import mount
from harvester.history.models import records, run_attempts, run_logs, runs
from harvester.registry import Registry
from harvester.request import new_batch_id
from harvester.schedule.freshness import entry_key
from harvester.schedule.overview import read_schedule_file


class GithubStars(Collector):
    name = "github_stars"
    description = "Stars, forks and open issues of the tracked GitHub repositories."

    class Params(BaseModel):
        org: str = "python"


class ExchangeRates(Collector):
    name = "exchange_rates"
    description = "ECB reference rates for 30 currencies, published once a working day."

    class Params(BaseModel):
        base: str = "EUR"


class Invoices(Collector):
    name = "invoices"
    description = "Open invoices from the billing API, one subcollector per customer."


class CustomerInvoices(Collector):
    name = "customer_invoices"
    description = "Invoices of one customer (a subcollector of invoices)."

    class Params(BaseModel):
        customer: str


class WeatherStations(Collector):
    name = "weather_stations"
    description = "Latest observations of 40 weather stations."
    retries = 0

    class Params(BaseModel):
        region: str = "alps"
        api_key: SecretStr = Field(SecretStr("demo-key"), description="Weather API key.")

    def collect(self) -> None:
        raise ConnectionError("upstream answered 503 Service Unavailable")


class SearchIndexSync(Collector):
    name = "search_index_sync"
    description = "Pushes changed records into the search index."

    class Params(BaseModel):
        index: str


class SitemapCrawl(Collector):
    name = "sitemap_crawl"
    description = "Crawls the public sitemap for new and removed pages."


COLLECTORS: list[type[Collector]] = [
    GithubStars,
    ExchangeRates,
    Invoices,
    CustomerInvoices,
    WeatherStations,
    SearchIndexSync,
    SitemapCrawl,
]

SCHEDULE = """\
timezone: UTC
groups:
  sources:
    tasks:
      - collector: github_stars
        schedule: hourly
      - collector: exchange_rates
        schedule: daily
        at: "16:30"
      - collector: weather_stations
        schedule: every 10m
  billing:
    tasks:
      - collector: invoices
        schedule: every 15m
  maintenance:
    tasks:
      - collector: sitemap_crawl
        schedule: weekly
        on: sunday
        at: "03:00"
"""

WORKERS = ("harvest-01:2817", "harvest-01:2818", "harvest-02:1290")


def dashboard_app(hv: Harvester) -> FastAPI:
    """The dashboard alone on a bare app, so these tests do not depend on the API's details."""
    app = FastAPI()
    mount(app, hv)
    return app


def make_harvester(folder: Path, schedule: str = SCHEDULE) -> Harvester:
    """A Harvester over the demo collectors, with a migrated SQLite history in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schedule.yaml").write_text(schedule)
    settings = Settings(data_dir=folder / "data", schedule_file=folder / "schedule.yaml", retries=0)
    hv = Harvester(settings, registry=Registry(COLLECTORS))
    hv.store.upgrade()
    return hv


@dataclass
class Seeder:
    """Writes runs with chosen times; ``runs`` and ``attempts`` are flushed by :meth:`save`."""

    hv: Harvester
    now: datetime
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    runs: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def run(
        self,
        collector: str,
        ago: timedelta,
        status: str = "succeeded",
        *,
        params: dict[str, Any] | None = None,
        duration: float | None = None,
        **extra: Any,
    ) -> str:
        instance = self.hv.registry.get(collector)(**(params or {}))
        queued = self.now - ago
        started = queued + timedelta(seconds=self.rng.uniform(0.05, 0.4))
        if duration is None and status in ("succeeded", "failed"):
            duration = round(self.rng.uniform(0.3, 2.5), 3)
        done = status in ("succeeded", "failed", "skipped")
        run_id = str(uuid.uuid4())
        row = {
            "id": run_id,
            "collector": collector,
            "params": instance.redacted_params(),
            "params_key": instance.params_key(),
            "trigger": "schedule",
            "status": status,
            "attempt": 0 if status == "queued" else 1,
            "queued_at": queued,
            "started_at": None if status == "queued" else started,
            "attempt_started_at": None if status == "queued" else started,
            "finished_at": started + timedelta(seconds=duration or 0) if done else None,
            "duration": duration,
            "records": 0,
            "result": None,
            "error_category": None,
            "error_phase": None,
            "error_message": None,
            "error_traceback": None,
            "task_id": run_id,
            "parent_run_id": None,
            "worker": None if status == "queued" else self.rng.choice(WORKERS),
            "progress_done": None,
            "progress_total": None,
            "members": None,
            "member_index": None,
            **self.scheduled(collector, instance.params_key(), queued),
        }
        row.update(extra)
        self.runs.append(row)
        return run_id

    def scheduled(self, collector: str, params_key: str, queued: datetime) -> dict[str, Any]:
        """A run of the schedule entry with this collector and params: its entry, group and a batch of its own."""
        schedule = read_schedule_file(self.hv.settings.schedule_file, self.hv.registry).schedule
        for entry in schedule.enabled if schedule is not None else ():
            if (
                entry.collector == collector
                and self.hv.registry.get(collector)(**entry.params).params_key() == params_key
            ):
                key = entry_key(entry, self.hv.registry)
                return {"schedule_group": entry.group, "entry_key": key, "batch_id": new_batch_id(queued)}
        return {"schedule_group": None, "entry_key": None, "batch_id": None}

    def attempt(
        self,
        run_id: str,
        attempt: int,
        message: str,
        *,
        at: float,
        took: float,
        retry_in: float | None = None,
        category: str = "network",
    ) -> None:
        """A closed (retried) attempt ``at`` seconds after the run was queued; moves the run's current
        attempt after it."""
        row = next(r for r in self.runs if r["id"] == run_id)
        start = row["queued_at"] + timedelta(seconds=at)
        self.attempts.append(
            {
                "run_id": run_id,
                "attempt": attempt,
                "status": "retrying",
                "started_at": start,
                "finished_at": start + timedelta(seconds=took),
                "worker": row["worker"],
                "error_category": category,
                "error_message": message,
                "retry_in": retry_in,
            }
        )
        current = start + timedelta(seconds=took + (retry_in or 0) + 0.1)
        row.update(
            attempt=attempt + 1, attempt_started_at=current, finished_at=current + timedelta(seconds=row["duration"])
        )
        if attempt == 1:
            row["started_at"] = start

    def save(self) -> None:
        with self.hv.store.engine.begin() as conn:
            if self.runs:
                conn.execute(runs.insert(), self.runs)
            if self.attempts:
                conn.execute(run_attempts.insert(), self.attempts)
        self.runs, self.attempts = [], []


WEATHER_ERROR = (
    "upstream answered 503 Service Unavailable (GET https://api.weather.example/v2/observations?region=alps)"
)
WEATHER_TRACEBACK = """Traceback (most recent call last):
  File "/srv/collectors/weather.py", line 58, in collect
    page = self.fetch(region)
  File "/srv/collectors/weather.py", line 91, in fetch
    response.raise_for_status()
harvester.errors.TransientError: upstream answered 503 Service Unavailable
"""


def seed(hv: Harvester, now: datetime) -> dict[str, str]:
    """A day of history; returns the ids of the runs worth a look (``failed``, ``retried``, ``parent``)."""
    s = Seeder(hv, now)
    minutes = timedelta(minutes=1)
    for hour in range(1, 25):
        s.run("github_stars", timedelta(hours=hour) - 2 * minutes, records=s.rng.randint(0, 12), result={"repos": 24})
    s.run("exchange_rates", timedelta(hours=3, minutes=12), duration=0.41, records=30, result={"date": "2026-11-23"})
    s.run("exchange_rates", timedelta(hours=27, minutes=12), duration=0.38, records=30)
    for n in range(1, 15):
        ok = n > 5
        s.run(
            "weather_stations",
            n * 10 * minutes,
            "succeeded" if ok else "failed",
            duration=None if ok else 30.2,
            records=40 if ok else 0,
            result={"stations": 40} if ok else None,
            error_category=None if ok else "network",
            error_phase=None if ok else "collect",
            error_message=None if ok else WEATHER_ERROR,
        )
    failed = s.run(
        "weather_stations",
        5 * minutes,
        "failed",
        duration=31.84,
        error_category="network",
        error_phase="collect",
        error_message=WEATHER_ERROR,
        error_traceback=WEATHER_TRACEBACK,
    )
    s.attempt(failed, 1, "read timed out after 30 s", at=0.3, took=30.0, retry_in=62.4, category="timeout")
    s.attempt(failed, 2, "upstream answered 503 Service Unavailable", at=92.8, took=1.7, retry_in=118.9)
    retried = first_parent = ""
    for n in range(1, 17):
        parent = s.run("invoices", n * 15 * minutes - minutes, duration=None, records=0)
        total = 0
        for index, customer in enumerate(("acme", "globex", "initech")):
            count = s.rng.randint(20, 180)
            total += count
            child = s.run(
                "customer_invoices",
                n * 15 * minutes - minutes - timedelta(seconds=1 + index),
                params={"customer": customer},
                trigger="parent",
                parent_run_id=parent,
                member_index=index,
                records=count,
                result={"customer": customer, "open_invoices": count},
            )
            if n == 2 and customer == "globex":
                retried = child
                s.runs[-1]["duration"] = 4.12
                s.attempt(
                    child,
                    1,
                    "billing API answered 429 Too Many Requests",
                    at=0.2,
                    took=0.3,
                    retry_in=2.0,
                    category="rate_limit",
                )
        parent_row = next(r for r in s.runs if r["id"] == parent)
        took = round(s.rng.uniform(3, 6), 2)
        parent_row.update(
            members=3,
            duration=took,
            finished_at=parent_row["started_at"] + timedelta(seconds=took),
            result={"customers": 3, "open_invoices": total},
        )
        first_parent = first_parent or parent
    s.run(
        "search_index_sync",
        timedelta(hours=5),
        params={"index": "products"},
        trigger="cli",
        duration=84.2,
        records=1920,
        result={"indexed": 1920, "deleted": 12},
    )
    s.run("search_index_sync", timedelta(hours=29), params={"index": "products"}, trigger="api", duration=92.7)
    s.run(
        "github_stars",
        timedelta(seconds=20),
        "running",
        duration=None,
        trigger="api",
        progress_done=9,
        progress_total=24,
    )
    s.save()
    seed_logs(hv, failed, now)
    seed_records(hv, now)
    return {"failed": failed, "retried": retried, "parent": first_parent}


WEATHER_LOGS = [
    # attempt, seconds after the run was queued, level, logger, message
    (1, 0.4, "INFO", "harvester.collector.weather_stations", "fetching observations of region alps (40 stations)"),
    (1, 0.5, "DEBUG", "urllib3.connectionpool", "Starting new HTTPS connection (1): api.weather.example:443"),
    (1, 30.3, "WARNING", "urllib3.connectionpool", "Retrying after read timeout: GET /v2/observations?region=alps"),
    (2, 92.9, "INFO", "harvester.collector.weather_stations", "fetching observations of region alps (40 stations)"),
    (2, 94.4, "WARNING", "harvester.collector.weather_stations", "upstream answered 503, giving up this attempt"),
    (3, 211.9, "INFO", "harvester.collector.weather_stations", "fetching observations of region alps (40 stations)"),
    (3, 212.3, "DEBUG", "urllib3.connectionpool", 'https://api.weather.example:443 "GET /v2/observations" 503 97'),
    (3, 212.4, "ERROR", "harvester.collector.weather_stations", "request failed\n" + WEATHER_TRACEBACK.rstrip()),
]


def seed_logs(hv: Harvester, failed: str, now: datetime) -> None:
    """What the failed weather run logged over its three attempts."""
    run = hv.store.get_run(failed)
    assert run is not None
    rows = [
        {
            "run_id": failed,
            "attempt": attempt,
            "logged_at": run["queued_at"] + timedelta(seconds=at),
            "level": level,
            "logger": logger,
            "message": message,
        }
        for attempt, at, level, logger, message in WEATHER_LOGS
    ]
    with hv.store.engine.begin() as conn:
        conn.execute(run_logs.insert(), rows)


RATES = {"USD": 1.0842, "GBP": 0.8571, "JPY": 162.31, "CHF": 0.9436, "SEK": 11.472, "NOK": 11.803, "PLN": 4.3112}


def seed_records(hv: Harvester, now: datetime) -> None:
    """Records of exchange_rates (short payloads) and github_stars (long ones, shown collapsed)."""
    rate_runs = hv.store.list_runs(collector="exchange_rates", limit=2)
    star_runs = hv.store.list_runs(collector="github_stars", status="succeeded", limit=3)
    rows: list[dict[str, Any]] = []
    for n, (currency, rate) in enumerate(RATES.items()):
        run = rate_runs[0 if n % 3 else 1]
        payload = {"currency": currency, "base": "EUR", "rate": rate, "date": "2026-11-23"}
        rows.append(_record("exchange_rates", currency, payload, run, n))
    for n, repo in enumerate(("python/cpython", "python/mypy", "python/typeshed", "pallets/flask")):
        run = star_runs[n % len(star_runs)]
        payload = {
            "repository": repo,
            "stars": 61_000 - n * 9_137,
            "forks": 29_000 - n * 4_211,
            "open_issues": 7_400 - n * 1_733,
            "topics": ["python", "programming-language", "interpreter"][: 3 - n % 2],
            "license": {"key": "psf-2.0", "name": "Python Software Foundation License 2.0"},
            "owner": {"login": repo.split("/")[0], "type": "Organization"},
            "default_branch": "main",
            "pushed_at": f"2026-11-24T07:1{n}:00Z",
        }
        rows.append(_record("github_stars", repo, payload, run, n))
    with hv.store.engine.begin() as conn:
        conn.execute(records.insert(), rows)


def _record(collector: str, key: str, payload: dict[str, Any], run: dict[str, Any], n: int) -> dict[str, Any]:
    changed = run["finished_at"] or run["queued_at"]
    return {
        "collector": collector,
        "key": key,
        "payload": payload,
        "content_hash": uuid.uuid5(uuid.NAMESPACE_OID, f"{collector}/{key}/{payload}").hex * 2,
        "first_seen": changed - timedelta(days=3 + n),
        "last_seen": changed - timedelta(seconds=n),
        "run_id": run["id"],
    }
