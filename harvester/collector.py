"""Collector: the one class a user writes. Params, documented no-op hooks, a fixed ``run()``."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, get_args

from pydantic import BaseModel, ConfigDict, SecretBytes, SecretStr, ValidationError
from pydantic_core import to_jsonable_python

from harvester.errors import CollectorExit, ConfigError, FailureCategory, MemberFailed, ParamsError, classify_failure
from harvester.failure_text import MASK, redact
from harvester.ratelimit.bucket import Rate
from harvester.ratelimit.limiter import Limiter, MemoryBucket, declared_limits
from harvester.secret_refs import is_reference, resolve, unescape

Phase = Literal["validate", "collect", "gather", "after_run"]
OverlapPolicy = Literal["skip", "queue"]


class RunContext(Protocol):
    """What a running collector talks to: state, the record sink, progress, phase timings."""

    run_id: str | None

    @property
    def state(self) -> MutableMapping[str, Any]: ...

    def emit(self, records: list[Mapping[str, Any]], key: str) -> int: ...

    def progress(self, done: int, total: int | None) -> None: ...

    def enter_phase(self, phase: Phase) -> None: ...

    def limit(self, name: str, rate: Rate, tokens: int) -> float: ...


#: The buckets of collectors run outside harvester (a plain ``run()``): this process's only.
_local_limiter = Limiter(MemoryBucket())


class LocalContext:
    """In-memory context used when a collector runs outside harvester (a plain ``run()`` call)."""

    def __init__(self, state: MutableMapping[str, Any] | None = None, limiter: Limiter | None = None) -> None:
        self.run_id: str | None = None
        self.limiter = limiter if limiter is not None else _local_limiter
        self._state: MutableMapping[str, Any] = state if state is not None else {}
        self.records: dict[str, Mapping[str, Any]] = {}
        self.progress_seen: list[tuple[int, int | None]] = []
        self.phases: list[Phase] = []
        self.waiting_seen: list[str | None] = []

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._state

    def emit(self, records: list[Mapping[str, Any]], key: str) -> int:
        """The records as JSON values (what the history store would hold), by key; none when one
        has no key."""
        batch = [to_jsonable_python(dict(record)) for record in records]
        missing = [i for i, record in enumerate(batch) if record.get(key) is None]
        if missing:
            raise ValueError(f"emit(): record #{missing[0]} has no value for key field '{key}'")
        for record in batch:
            self.records[str(record[key])] = record
        return len(batch)

    def progress(self, done: int, total: int | None) -> None:
        self.progress_seen.append((done, total))

    def enter_phase(self, phase: Phase) -> None:
        self.phases.append(phase)

    def limit(self, name: str, rate: Rate, tokens: int) -> float:
        return self.limiter.acquire(name, rate, tokens, self.waiting_seen.append)


@dataclass(frozen=True)
class MemberError:
    """Why a member of a fan-out did not succeed: a FailureCategory value (or ``skipped``,
    ``cancelled``) and a message."""

    category: str
    message: str


@dataclass(frozen=True)
class SubcollectorResult:
    """One member of a fan-out as ``gather()`` sees it, in the order ``subcollectors()`` gave them."""

    name: str
    ok: bool
    value: Any = None
    error: MemberError | None = None
    run_id: str | None = None
    status: str = "succeeded"  # succeeded | failed | skipped | cancelled
    params: dict[str, Any] = field(default_factory=dict)  # redacted


class NoParams(BaseModel):
    """Params of a collector that takes none."""

    model_config = ConfigDict(extra="forbid")


def _revealed_text(value: Any) -> str | None:
    """The text of a secret param's value (None when unset)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, SecretBytes):
        return value.get_secret_value().decode(errors="replace")
    return None


def _reveal(value: Any) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_reveal(v) for v in value]
    return value


class _Adapter(logging.LoggerAdapter[logging.Logger]):
    """Merges a call's ``extra`` with the bound one (the stdlib replaces it before Python 3.13)."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


#: Params model -> the names of its secret fields (models do not change once defined).
_SECRET_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {}


def _is_secret(annotation: Any) -> bool:
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(_is_secret(arg) for arg in get_args(annotation))


def _accepted_names(model: type[BaseModel]) -> set[str]:
    names = set(model.model_fields)
    names.update(f.alias for f in model.model_fields.values() if f.alias)
    return names


def validate_params(cls: type[Collector], raw: Mapping[str, Any]) -> BaseModel:
    """Validate ``raw`` into ``cls.Params``; a failure names every bad field."""
    unknown = sorted(set(raw) - _accepted_names(cls.Params))
    if unknown and cls.Params.model_config.get("extra") != "allow":
        known = ", ".join(sorted(cls.Params.model_fields)) or "none"
        raise ParamsError(f"unknown params for collector '{cls.name}': {', '.join(unknown)} (known: {known})")
    try:
        return cls.Params.model_validate(dict(raw))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"]) or "params"
            problems.append(f"{field}: {err['msg']}")
        raise ParamsError(f"invalid params for collector '{cls.name}': " + "; ".join(problems)) from None


class Collector:
    """Base class of every collector.

    Subclass it, set ``name``, optionally nest a pydantic ``Params`` model and
    override ``collect()``. Everything else is optional. Tuning attributes
    (class level; ``None`` means the setting's default):

    - ``retries`` (int, default ``HARVESTER_RETRIES`` = 3): retries of a retryable failure.
    - ``retry_backoff`` (seconds, default ``HARVESTER_RETRY_DELAY`` = 60): base of the
      exponential backoff (``base * 2**(attempt-1)``, with jitter; ``Retry-After`` wins).
    - ``time_limit`` (seconds, default ``HARVESTER_TASK_TIME_LIMIT`` = 1800): limit of one run on a worker;
      then the run fails as ``timeout`` (the process is killed 30 s later if it ignores that).
    - ``retry_time_limit`` (bool, default False): retry a run stopped by its time limit like any
      ``timeout``; off, it fails at once (timeouts of the calls it makes are retried either way).
    - ``overlap`` (``"skip"`` | ``"queue"``, default ``"skip"``): what a run does when the same
      collector + params is already running: be recorded as ``skipped``, or wait its turn.
    - ``queue`` (str, default ``"harvester"``): the Celery queue its runs go to.
    - ``state_key`` (tuple of param names, default ``None`` = every non-secret param): the params
      that identify its ``state``. ``("folder",)`` keeps the state of a folder when an unrelated
      option is added or changed; a name that is not a param is an error at registration.
    - ``abstract`` (bool, default False): a base class meant to be subclassed, not registered. Not
      inherited: a subclass of an abstract base is a collector (and needs a ``name``) unless it says
      ``abstract = True`` itself. A subclass without ``name`` that is not abstract is an error at registration.
    - ``rate_limits`` (dict of name -> rate, default none): named limits shared by every collector
      that declares the same name, on every worker (see docs/rate_limits.md). A rate is ``"N/s"``,
      ``"N/m"``, ``"N/h"`` or ``"N/d"``, optionally ``"... burst B"`` (default burst 1: evenly spaced).
      ``self.limit(name)`` takes tokens; a bad rate is an error when the class is defined.
    - ``per_run_limits`` (tuple of limit names, default ``()``): each takes one token per run, just
      before ``collect()`` (or ``subcollectors()``); every name must be in ``rate_limits``.

    Fan-out (see docs/fanout.md): override ``subcollectors()`` and its members run in parallel
    on workers, each a run of its own; ``gather()`` then runs once with their results, followed
    by the methods named in ``steps``. ``require_all = True`` fails the parent when a member fails.

    Backfill (see docs/backfill.md): ``partition`` (str, default ``None``) names the param that
    ``harvester backfill`` steps through, a ``date``, ``Month``, ``int``, or any value the
    classmethod ``partitions()`` enumerates; a name that is not a param is an error at registration.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    partition: ClassVar[str | None] = None
    Params: ClassVar[type[BaseModel]] = NoParams
    retries: ClassVar[int | None] = None
    retry_backoff: ClassVar[float | None] = None
    time_limit: ClassVar[int | None] = None
    retry_time_limit: ClassVar[bool] = False
    overlap: ClassVar[OverlapPolicy] = "skip"
    queue: ClassVar[str | None] = None
    steps: ClassVar[tuple[str, ...]] = ()
    require_all: ClassVar[bool] = False
    state_key: ClassVar[tuple[str, ...] | None] = None
    abstract: ClassVar[bool] = True  # Collector itself; every subclass says so itself or is concrete
    rate_limits: ClassVar[Mapping[str, str]] = {}
    per_run_limits: ClassVar[tuple[str, ...]] = ()
    _rates: ClassVar[dict[str, Rate]] = {}  # rate_limits parsed when the class is defined

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.abstract = bool(cls.__dict__.get("abstract", False))
        missing = [step for step in cls.steps if not callable(getattr(cls, step, None))]
        if missing:
            raise TypeError(f"{cls.__qualname__}.steps names {', '.join(missing)}, which it has no method for")
        cls._rates = declared_limits(cls.__qualname__, cls.rate_limits)
        undeclared = [name for name in cls.per_run_limits if name not in cls._rates]
        if undeclared or isinstance(cls.per_run_limits, str):
            raise ConfigError(
                f"{cls.__qualname__}.per_run_limits must be a tuple of names declared in rate_limits"
                f" (declared: {', '.join(cls._rates) or 'none'}; got {cls.per_run_limits!r})"
            )

    def __init__(self, **params: Any) -> None:
        self.params: Any = validate_params(type(self), params)
        #: Secret params given as references (``${NAME}``, ``${file:PATH}``): what history stores and
        #: messages carry in place of the value, which only :meth:`resolve_secrets` fetches.
        self.secret_references: dict[str, str] = {}
        for name in self.secret_fields():
            text = self._secret_text(name)
            if text is not None and is_reference(text):
                self.secret_references[name] = text
        self.phase: Phase | None = None
        self._context: RunContext = LocalContext()
        self.logger: logging.LoggerAdapter[logging.Logger] = self._bind_logger()

    # -- hooks (documented no-ops, except collect) -------------------------------------------

    def validate_config(self) -> None:
        """Fast checks before any I/O; raise ``ConfigError`` for a user error."""

    def check(self) -> str | None:
        """Probe: verify credentials and reachability without collecting (e.g. one cheap
        authenticated request). Raise to fail; may return a short detail (``"rate limit 4990/5000"``).

        Runs with params resolved like a run's (secret references fetched) and a time limit, from
        ``harvester check``, ``/health?checks=collectors`` and a schedule entry's ``check:``; it must
        not emit records nor touch ``state``. Default: ``validate_config()``.
        """
        self.validate_config()
        return None

    def collect(self) -> Any:
        """Do the work. May return a JSON-able summary, stored as the run's result."""
        raise NotImplementedError(f"{type(self).__name__}.collect() is not implemented")

    @classmethod
    def targets(cls) -> Iterable[BaseModel] | None:
        """Params of one run per target for each schedule occurrence (e.g. one per customer).

        Default ``None``: an entry runs once, with its own params.
        """
        return None

    @classmethod
    def partitions(cls, start: Any, end: Any, step: str | None) -> list[Any] | None:  # noqa: ARG003
        """Backfill: the values of the ``partition`` param from ``start`` to ``end`` (both included,
        given as values of the param's type), ``step`` as typed after ``--step`` (or None).

        Default ``None``: harvester enumerates dates, months and ints itself (harvester.backfill).
        """
        return None

    def subcollectors(self) -> Iterable[Collector]:
        """Fan-out: the members to run in parallel (registered collectors, built with their params).

        Overriding this makes the collector a fan-out parent: ``collect()`` is not called;
        ``gather()`` gets the members' results instead.
        """
        raise NotImplementedError

    def gather(self, results: list[SubcollectorResult]) -> Any:
        """Fan-out: combine the members' results (default: the values of those that succeeded)."""
        return [result.value for result in results if result.ok]

    @classmethod
    def is_fanout(cls) -> bool:
        return cls.subcollectors is not Collector.subcollectors

    def after_run(self) -> None:
        """Post-run sync phase (e.g. push what ``collect`` stored into a search index)."""

    def handle_error(self, exc: BaseException) -> None:
        """Called with any non-config failure before it is re-raised. Default: one DEBUG line (the
        runner logs the outcome: WARNING for an attempt it retries, ERROR once for a final failure)."""
        self.logger.debug(
            "collector %s failed in phase %s: %s: %s",
            self.name,
            self.phase,
            classify_failure(exc).value,
            redact(str(exc), self.secret_values()),
            extra={"phase": self.phase, "category": classify_failure(exc).value},
        )

    # -- the fixed template ------------------------------------------------------------------

    def run(self) -> Any:
        """validate_config -> collect -> after_run. Not to be overridden.

        A fan-out parent runs here without workers: its members one after another, then gather.
        """
        if self.is_fanout():
            return self.finish_fanout([_run_member(member) for member in self.start_fanout()])
        with self._reported():
            self._enter("validate")
            self.validate_config()
            self._enter("collect")
            self._take_per_run_limits()
            result = self.collect()
            self._enter("after_run")
            self.after_run()
        return result

    def start_fanout(self) -> list[Collector]:
        """Fan-out, first half: validate_config -> subcollectors() (recorded as the collect phase)."""
        with self._reported():
            self._enter("validate")
            self.validate_config()
            self._enter("collect")
            self._take_per_run_limits()
            members = list(self.subcollectors())
            strangers = [repr(m) for m in members if not isinstance(m, Collector)]
            if strangers:
                raise TypeError(f"subcollectors() of {self.name} must give Collector instances, got {strangers[0]}")
        return members

    def finish_fanout(self, results: list[SubcollectorResult]) -> Any:
        """Fan-out, second half: gather -> each of ``steps`` (given the previous output) -> after_run."""
        with self._reported():
            self._enter("gather")
            failed = next((r for r in results if not r.ok), None)
            if self.require_all and failed is not None:
                raise _member_failed(failed)
            value = self.gather(results)
            for step in self.steps:
                value = getattr(self, step)(value)
            self._enter("after_run")
            self.after_run()
        return value

    # -- what collect() uses -----------------------------------------------------------------

    @property
    def run_id(self) -> str | None:
        return self._context.run_id

    @property
    def state(self) -> MutableMapping[str, Any]:
        """JSON-able mapping persisted per collector + params; committed only when the run succeeds."""
        return self._context.state

    def emit(self, records: Iterable[Mapping[str, Any]], key: str = "id") -> int:
        """Upsert records by ``key`` into the records table; unchanged records are a no-op. A record
        without the key or with a value that is not JSON is a ValueError, and nothing is stored.
        The context converts and encodes (the history store in one pass per record)."""
        return self._context.emit(list(records), key)

    def limit(self, name: str, tokens: int = 1) -> float:
        """Take ``tokens`` of the rate limit ``name`` (declared in ``rate_limits``), waiting until the
        shared bucket grants them; returns the seconds waited. While it waits, the run's status says
        ``waiting: rate limit NAME``. The wait counts towards the run's time limit."""
        rate = self._rates.get(name)
        if rate is None:
            declared = ", ".join(self._rates) or "none"
            raise ConfigError(f"{type(self).__qualname__} has no rate limit '{name}' (declared: {declared})")
        return self._context.limit(name, rate, tokens)

    def progress(self, done: int, total: int | None = None) -> None:
        """Report progress (drives the CLI progress bar and the API status)."""
        self._context.progress(done, total)

    # -- plumbing used by the runner ---------------------------------------------------------

    def bind(self, context: RunContext) -> None:
        """Attach the runner's context (state, sink, progress) and rebind the logger."""
        self._context = context
        self.logger = self._bind_logger()

    @classmethod
    def params_schema(cls, ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
        """JSON schema of ``Params`` as the API and the dashboard's form serve it: secret fields
        marked ``x-secret`` and without a default; unknown fields refused unless extras are allowed."""
        schema = cls.Params.model_json_schema(ref_template=ref_template)
        properties = schema.get("properties", {})
        for name in cls.secret_fields():
            field = properties.get(name)
            if isinstance(field, dict):
                field.pop("default", None)
                field["x-secret"] = True
        if cls.Params.model_config.get("extra") != "allow":
            schema["additionalProperties"] = False
        return schema

    @classmethod
    def secret_fields(cls) -> list[str]:
        """Names of the ``SecretStr``/``SecretBytes`` params (redacted in history and logs). Read
        from the annotations once per Params model: a run asks several times, a fan-out per member."""
        found = _SECRET_FIELDS.get(cls.Params)
        if found is None:
            fields = cls.Params.model_fields.items()
            found = _SECRET_FIELDS[cls.Params] = tuple(name for name, field in fields if _is_secret(field.annotation))
        return list(found)

    def _secret_text(self, name: str) -> str | None:
        return _revealed_text(getattr(self.params, name, None))

    def secret_values(self) -> list[str]:
        """The revealed values of the secret params (to mask them wherever text may quote them); a
        reference not yet resolved is no secret, and stays readable in errors that name it."""
        return [
            text
            for name in self.secret_fields()
            if (text := self._secret_text(name)) is not None and text != self.secret_references.get(name)
        ]

    def resolve_secrets(self, environ: Mapping[str, str] | None = None) -> None:
        """Fetch the values the secret references point at (and unescape ``$${...}``), in the
        process about to run the collector. SecretReferenceError (a ConfigError) names the reference."""
        values: dict[str, str] = {}
        for name in self.secret_fields():
            text = self._secret_text(name)
            if name in self.secret_references:
                values[name] = resolve(self.secret_references[name], environ)
            elif text is not None and text.startswith("$${"):
                values[name] = unescape(text)
        if values:
            revealed = _reveal(self.params.model_dump(mode="python"))
            self.params = validate_params(type(self), {**revealed, **values})

    def adopt_references(self, parent: Collector) -> None:
        """A fan-out member given its parent's resolved secret keeps its parent's reference instead,
        so the member's message and history row carry the reference, never the value."""
        known = {text: ref for name, ref in parent.secret_references.items() if (text := parent._secret_text(name))}
        for name in self.secret_fields():
            text = self._secret_text(name)
            if text in known:
                self.secret_references[name] = known[text]

    @classmethod
    def masked_secrets(cls, recorded: Mapping[str, Any]) -> list[str]:
        """Secret params of ``recorded`` (params as history keeps them) that history holds only as
        the mask: a run with any cannot be rebuilt from history; references and unset ones can."""
        return [name for name in cls.secret_fields() if recorded.get(name) == MASK]

    @classmethod
    def masked_params(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        """``raw`` params as written (a schedule entry's) with every secret value masked, references
        kept: what listings show."""
        secret = set(cls.secret_fields())
        return {k: MASK if k in secret and v is not None and not is_reference(v) else v for k, v in raw.items()}

    def redacted_params(self) -> dict[str, Any]:
        """Params as JSON with secret values masked and references kept: what history and logs see."""
        data: dict[str, Any] = self.params.model_dump(mode="json")
        data.update(self.secret_references)
        return data

    def wire_params(self) -> dict[str, Any]:
        """Params as JSON with secrets revealed, or as references where given: what a task message carries."""
        data: dict[str, Any] = to_jsonable_python(_reveal(self.params.model_dump(mode="python")))
        data.update(self.secret_references)
        return data

    def params_key(self) -> str:
        """Stable key of (non-secret) params: identity for overlap locks and state.

        Computed once per instance (a run asks for it several times); params are not meant to
        change after the collector is built.
        """
        key: str | None = self.__dict__.get("_params_key")
        if key is None:
            secret = set(self.secret_fields())
            data = {k: v for k, v in self.redacted_params().items() if k not in secret}
            canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
            key = self.__dict__["_params_key"] = hashlib.sha256(canonical.encode()).hexdigest()[:32]
        return key

    def state_params_key(self) -> str:
        """Key of the params that identify ``state``: ``params_key()`` unless ``state_key`` names
        some. Keyed by the same hash, so a collector that had only those params keeps its state."""
        if self.state_key is None:
            return self.params_key()
        data = {k: v for k, v in self.redacted_params().items() if k in self.state_key}
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def _take_per_run_limits(self) -> None:
        for name in self.per_run_limits:
            self.limit(name)

    def _enter(self, phase: Phase) -> None:
        self.phase = phase
        self._context.enter_phase(phase)

    @contextmanager
    def _reported(self) -> Iterator[None]:
        """Any failure but a ConfigError goes through ``handle_error``; every failure is re-raised."""
        try:
            yield
        except ConfigError:
            raise
        except Exception as exc:
            self._handle(exc)
            raise
        except SystemExit as exc:  # sys.exit(n) in a collector fails its run, it does not end the worker
            failure = CollectorExit.of(exc)
            self._handle(failure)
            raise failure from exc

    def _handle(self, exc: BaseException) -> None:
        try:
            self.handle_error(exc)
        except Exception:
            self.logger.exception("handle_error of %s raised; the original failure is re-raised", self.name)

    def _bind_logger(self) -> logging.LoggerAdapter[logging.Logger]:
        logger = logging.getLogger(f"harvester.collector.{self.name or type(self).__name__}")
        return _Adapter(logger, {"collector": self.name, "run_id": self.run_id})


def _run_member(member: Collector) -> SubcollectorResult:
    """A member run in this process (``Collector.run()`` of a fan-out parent, no history)."""
    try:
        value = member.run()
    except Exception as exc:
        error = MemberError(classify_failure(exc).value, f"{type(exc).__name__}: {exc}")
        return SubcollectorResult(member.name, False, None, error, None, "failed", member.redacted_params())
    return SubcollectorResult(member.name, True, value, None, None, "succeeded", member.redacted_params())


def _member_failed(result: SubcollectorResult) -> MemberFailed:
    error = result.error or MemberError(FailureCategory.UNKNOWN.value, result.status)
    try:
        category = FailureCategory(error.category)
    except ValueError:  # skipped: not a failure category of its own
        category = FailureCategory.UNKNOWN
    where = f"run {result.run_id}" if result.run_id else "in-process"
    return MemberFailed(f"member {result.name} ({where}) did not succeed: {error.message}", category)
