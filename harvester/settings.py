"""Settings: the one reader of the environment (``HARVESTER_*`` variables and ``.env``).

Sources, strongest first: arguments, environment variables, ``.env``, the project's
``[tool.harvester]`` table (:mod:`harvester.project`), defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from harvester.alerts.config import TargetConfig, check_target_names
from harvester.project import ProjectSettingsSource

EMBEDDED_BROKER = "filesystem://localhost//"


class Settings(BaseSettings):
    """Every knob harvester has. Unset URLs mean the embedded one-machine default."""

    model_config = SettingsConfigDict(env_prefix="HARVESTER_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        Path(".harvester"),
        description="Folder for the embedded default: SQLite database, broker messages, results.",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the run history; default: SQLite file in data_dir."
    )
    broker_url: str | None = Field(
        None, description="Celery broker URL (redis://, amqp://); default: embedded filesystem broker in data_dir."
    )
    result_backend: str | None = Field(
        None,
        description="Celery result backend (harvester stores no task results; for your own tasks); "
        "default: derived from the broker.",
    )
    collectors: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["harvester.examples"],
        description="Comma-separated modules whose Collector subclasses are registered.",
    )
    schedule_file: Path = Field(Path("schedule.yaml"), description="The schedule file (YAML).")
    schedule_strict: bool = Field(
        True, description="Any invalid schedule entry stops start-up; false skips and reports it."
    )
    concurrency: int = Field(2, ge=1, description="Worker processes per `harvester worker`.")
    prefetch_multiplier: int = Field(1, ge=1, description="Messages each worker process reserves ahead.")
    max_tasks_per_child: int | None = Field(
        None,
        ge=1,
        description="Tasks a worker process runs before it is replaced; unset: replaced by memory only "
        "(see max_memory_per_child).",
    )
    max_memory_per_child: int = Field(
        512,
        ge=0,
        description="MiB of resident memory after which a worker process is replaced (once its run ends); 0: never.",
    )
    task_time_limit: int = Field(
        1800, ge=1, description="Time limit of one run, seconds: it then fails as `timeout` (hard kill 30 s later)."
    )
    retries: int = Field(3, ge=0, description="Default retries of a retryable failure.")
    retry_delay: float = Field(60.0, ge=0, description="Base of the exponential retry backoff, seconds.")
    retry_max_delay: float = Field(3600.0, ge=0, description="Upper bound of one retry delay, seconds.")
    heartbeat_interval: float = Field(
        10.0, gt=0, description="Seconds between heartbeats of running runs (and overlap lock renewals)."
    )
    lost_after: float = Field(
        60.0, gt=0, description="A running run without heartbeat for this many seconds is lost: re-enqueued or failed."
    )
    redeliver_after: float = Field(
        120.0,
        gt=0,
        description="A queued or retrying run not started this many seconds after it was due is sent again "
        "(its message was lost: a failed publish, a broker restart, a batch that died).",
    )
    retention_days: float = Field(
        90.0, ge=0, description="Finished runs and schedule occurrences older than this are pruned; 0 keeps all."
    )
    run_log_lines: int = Field(
        1000, ge=0, description="Log lines a run's attempt keeps in history (more are counted, not kept); 0 keeps none."
    )
    lock_ttl: float = Field(
        60.0, gt=0, description="Seconds after a dead holder's last heartbeat that its overlap lock is free."
    )
    visibility_timeout: int = Field(
        3600, ge=1, description="Redis broker: seconds before an unacknowledged message is redelivered."
    )
    api_token: SecretStr | None = Field(
        None,
        description="Token every route but the public ones needs (bearer or dashboard login); "
        "unset: open, loopback Host names only.",
    )
    api_public_paths: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["/health", "/metrics"],
        description="Comma-separated paths (each with everything under it) open without the token.",
    )
    api_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated Host names the API answers besides loopback ones; "
        "without a token only these and loopback, with one any while empty.",
    )
    api_session_hours: float = Field(12.0, gt=0, description="Hours a dashboard login lasts.")
    api_sync_timeout: float = Field(
        30.0, gt=0, description="Seconds a synchronous API trigger waits for its run before answering 202."
    )
    health_enforce_freshness: bool = Field(
        False, description="A stale or never-run scheduled entry makes /health answer 503."
    )
    health_timeout: float = Field(2.0, gt=0, description="Seconds each /health check may take before it fails.")
    check_timeout: float = Field(
        30.0, gt=0, description="Seconds a collector's check() may take (harvester check, scheduled checks)."
    )
    check_ttl: float = Field(
        300.0,
        gt=0,
        description="Seconds a stored check result stays fresh for /health?checks=collectors, which runs "
        "older ones again (within HARVESTER_HEALTH_TIMEOUT).",
    )
    alert_targets: dict[str, TargetConfig] = Field(
        default_factory=dict,
        description="Alert targets as JSON: name -> {kind: webhook|slack|email, ...} (docs/alerts.md).",
    )
    alert_default_targets: Annotated[list[str] | None, NoDecode] = Field(
        None, description="Comma-separated targets of alerts no `alerts:` key routes; unset: every target."
    )
    alert_interval: float = Field(
        15.0, gt=0, description="Seconds between two alert evaluations (and delivery passes) in the scheduler."
    )
    alert_timeout: float = Field(10.0, gt=0, description="Seconds one alert delivery attempt may take.")
    alert_retry_delay: float = Field(
        30.0, gt=0, description="Base of the exponential backoff of alert deliveries, seconds."
    )
    alert_retry_max_delay: float = Field(
        3600.0, gt=0, description="Upper bound of one alert delivery's retry delay, seconds."
    )
    alert_max_attempts: int = Field(10, ge=1, description="Attempts to deliver one alert before it is given up.")
    alert_worker_grace: float = Field(
        120.0, gt=0, description="Seconds a worker may not answer pings before it is alerted as gone."
    )
    log_format: Literal["text", "json"] = Field("text", description="Log line format.")
    log_level: str = Field("INFO", description="Log level of harvester's processes.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        project = ProjectSettingsSource(settings_cls)
        return init_settings, env_settings, dotenv_settings, project, file_secret_settings

    @field_validator("collectors", "api_public_paths", "api_allowed_hosts", "alert_default_targets", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("alert_targets")
    @classmethod
    def _target_names(cls, value: dict[str, TargetConfig]) -> dict[str, TargetConfig]:
        check_target_names(dict(value))
        return value

    @field_validator("api_public_paths")
    @classmethod
    def _absolute_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.startswith("/"):
                raise ValueError(f"{path!r} is not a path: public paths start with / (e.g. /health)")
        return [path.rstrip("/") or "/" for path in value]

    @field_validator("api_allowed_hosts")
    @classmethod
    def _lower_hosts(cls, value: list[str]) -> list[str]:
        return [host.lower() for host in value]

    @field_validator("api_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        # `HARVESTER_API_TOKEN=` must not become a token everyone knows (the empty string).
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def embedded(self) -> bool:
        """True when the broker is the embedded filesystem transport."""
        return self.effective_broker_url.startswith("filesystem:")

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'harvester.db'}"

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or EMBEDDED_BROKER

    @property
    def effective_result_backend(self) -> str:
        if self.result_backend:
            return self.result_backend
        broker = self.effective_broker_url
        if broker.startswith(("redis://", "rediss://")):
            return broker
        if broker.startswith("filesystem:"):
            return f"file://{self.data_dir.resolve() / 'results'}"
        database = self.effective_database_url
        if database.startswith(("postgresql://", "postgres://")):
            database = "postgresql+psycopg://" + database.split("://", 1)[1]  # the driver harvester ships
        return f"db+{database}"


def setting_sources() -> dict[str, str]:
    """Where each setting's value comes from: ``env``, ``.env``, ``project`` or ``default``."""
    found = {name: "default" for name in Settings.model_fields}
    layers = (
        ("project", ProjectSettingsSource(Settings)()),
        (".env", DotEnvSettingsSource(Settings)()),
        ("env", EnvSettingsSource(Settings)()),
    )
    for label, values in layers:  # weakest first: a stronger source overwrites the label
        for name in values:
            if name in found:
                found[name] = label
    return found
