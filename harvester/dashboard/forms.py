"""The params form: ``/collectors/{name}/trigger`` shows one input per field of a collector's
``Params``, built from its JSON schema (the one ``GET /api/v1/collectors`` serves), and
``?run=RUN_ID`` fills it with that run's params as history stores them ("Run again").

The page starts nothing by itself: static/params_form.js posts the form to the API's trigger route,
shows a 422 next to the field it names and opens the new run's page.

Secret fields are password inputs that are never filled: history keeps a mask, not the value, so a
secret is typed again. One that history kept as a reference (``${API_KEY}``) is no secret and is
filled in as that reference.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic_core import to_jsonable_python

from harvester.app import Harvester
from harvester.collector import Collector
from harvester.secret_refs import SYNTAX, is_reference

#: The input each kind of field gets (see trigger.html); the script converts by the same kinds.
KINDS = ("int", "float", "bool", "choice", "text", "date", "json", "secret")
_TYPES = {"integer": "int", "number": "float", "boolean": "bool", "string": "text"}
_PLACEHOLDERS = {"date-time": "2026-01-31T09:00:00Z", "time": "09:00:00", "duration": "PT15M"}
_TYPE_LABELS = {"int": "integer", "float": "number", "choice": "one of", "text": "text", "json": "JSON"}
_MISSING = object()

Render = Callable[..., Response]


@dataclass(frozen=True)
class Choice:
    """One option of a select: its value as JSON text (what the script parses and sends)."""

    json: str
    label: str
    selected: bool


@dataclass(frozen=True)
class FormField:
    name: str
    kind: str
    required: bool
    description: str = ""
    value: str = ""
    checked: bool = False
    choices: tuple[Choice, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    placeholder: str = ""
    #: A secret filled in with the reference history kept (``${API_KEY}``), not with a value.
    reference: bool = False

    @property
    def step(self) -> str:
        return "1" if self.kind == "int" else "any"

    @property
    def type_label(self) -> str:
        return _TYPE_LABELS.get(self.kind, self.kind)


def form_fields(cls: type[Collector], given: Mapping[str, Any] | None = None) -> list[FormField]:
    """The form's fields in declaration order, filled with ``given`` (a run's stored params) where
    it has a value, else with the field's default."""
    schema = cls.params_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    model = {info.alias or name: (name, info) for name, info in cls.Params.model_fields.items()}
    fields = []
    for key, prop in schema.get("properties", {}).items():
        name, info = model.get(key, (key, None))
        value = prop.get("default", _MISSING)
        if given is not None and name in given:
            value = given[name]
        elif value is _MISSING and info is not None and info.default_factory is not None and not prop.get("x-secret"):
            value = to_jsonable_python(info.get_default(call_default_factory=True))  # the schema omits these
        fields.append(_field(key, prop, defs, key in required, value))
    return fields


def _resolve(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The schema a value of ``prop`` follows (``$ref`` followed, ``X | None`` unwrapped), and
    whether null is allowed."""
    branches = prop.get("anyOf")
    nullable = False
    branch: Mapping[str, Any] = prop
    if isinstance(branches, list):
        kept = [b for b in branches if b.get("type") != "null"]
        nullable = len(kept) < len(branches)
        branch = kept[0] if len(kept) == 1 else {}
    ref = branch.get("$ref")
    if isinstance(ref, str):
        branch = {**defs.get(ref.rsplit("/", 1)[-1], {}), **{k: v for k, v in branch.items() if k != "$ref"}}
    return dict(branch), nullable


def _kind(branch: Mapping[str, Any], secret: bool, nullable: bool) -> str:
    if secret:
        return "secret"
    if "enum" in branch or "const" in branch:
        return "choice"
    kind = _TYPES.get(str(branch.get("type")), "json")
    if kind == "bool" and nullable:
        return "choice"  # true, false or none: a checkbox has no third state
    if kind == "text" and branch.get("format") == "date":
        return "date"
    return kind


def _field(name: str, prop: Mapping[str, Any], defs: Mapping[str, Any], required: bool, value: Any) -> FormField:
    branch, nullable = _resolve(prop, defs)
    secret = bool(prop.get("x-secret") or branch.get("writeOnly"))
    kind = _kind(branch, secret, nullable)
    common: dict[str, Any] = {"name": name, "kind": kind, "required": required}
    common["description"] = str(prop.get("description") or branch.get("description") or "")
    if kind == "choice":
        return FormField(**common, choices=_choices(branch, nullable, required, value))
    if kind == "bool":
        return FormField(**common, checked=value is True)
    if kind == "secret":
        reference = isinstance(value, str) and is_reference(value)
        return FormField(**common, value=value if reference else "", placeholder=SYNTAX, reference=reference)
    if kind in ("int", "float"):
        low, high = branch.get("minimum", branch.get("exclusiveMinimum")), branch.get("maximum")
        high = branch.get("exclusiveMaximum") if high is None else high
        return FormField(**common, value=_text(value), minimum=low, maximum=high)
    if kind == "json":
        shown = "" if value is _MISSING or value is None else json.dumps(value, indent=2)
        return FormField(**common, value=shown)
    return FormField(**common, value=_text(value), placeholder=_PLACEHOLDERS.get(str(branch.get("format")), ""))


def _choices(branch: Mapping[str, Any], nullable: bool, required: bool, value: Any) -> tuple[Choice, ...]:
    options = branch.get("enum") or ([branch["const"]] if "const" in branch else [True, False])  # bool | None
    picked = json.dumps(value) if value is not _MISSING else None
    choices = [Choice(json.dumps(o), _label(o), json.dumps(o) == picked) for o in options]
    if nullable or value is _MISSING:
        empty = "choose one" if required else "none"
        choices.insert(0, Choice("", f"({empty})", value is _MISSING or value is None))
    return tuple(choices)


def _label(option: Any) -> str:
    return option if isinstance(option, str) else json.dumps(option)


def _text(value: Any) -> str:
    if value is _MISSING or value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def router(hv: Harvester, render: Render) -> APIRouter:
    """The form page; ``render`` is the dashboard's page renderer (routes.render)."""
    routes = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @routes.get("/collectors/{name}/trigger", name="dashboard_trigger")
    def trigger_form(request: Request, name: str, run: str = "") -> Response:
        if name not in hv.registry:
            return _missing(request, "Unknown collector", hv.registry.unknown_message(name))
        row = hv.store.get_run(run) if run else None
        if run and (row is None or row["collector"] != name):
            return _missing(request, "Run not found", f"There is no run {run!r} of {name} in the history.")
        cls = hv.registry.get(name)
        fields = form_fields(cls, (row["params"] or {}) if row is not None else None)
        context = {
            "nav": "collectors",
            "collector": cls,
            "fields": fields,
            "source": row,
            "secrets": [f for f in fields if f.kind == "secret"],
        }
        return render(request, "trigger.html", context)

    def _missing(request: Request, title: str, message: str) -> Response:
        return render(request, "message.html", {"nav": "collectors", "title": title, "message": message}, 404)

    return routes
