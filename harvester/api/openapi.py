"""The OpenAPI document with every collector's ``Params`` in it.

The trigger body's ``params`` depend on the collector, so the generic ``TriggerBody`` component is
replaced by a ``oneOf`` with one variant per registered collector (discriminated by ``collector``),
each carrying that collector's params schema: the same ``Params`` that drive the CLI options and
the schedule file's validation. Secret fields are marked ``x-secret`` and carry no default.

With a token set, every operation outside the public paths declares the bearer scheme and its 401
(the access control in front of the routes enforces both); without one, none does.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from harvester.api.security import under
from harvester.app import Harvester
from harvester.collector import Collector

DEFS = "#/components/schemas/{model}"
BEARER = {"type": "http", "scheme": "bearer", "description": "HARVESTER_API_TOKEN."}
UNAUTHORIZED = {
    "description": "HARVESTER_API_TOKEN is set and the bearer token (or dashboard session) is missing or wrong.",
    "content": {"application/json": {"schema": {"$ref": DEFS.format(model="ErrorBody")}}},
}


def _variant(cls: type[Collector], base: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    params = cls.params_schema(ref_template=DEFS.format(model=f"{cls.name}.{{model}}"))
    components.update({f"{cls.name}.{name}": schema for name, schema in params.pop("$defs", {}).items()})
    properties = dict(base["properties"])
    properties["collector"] = {"type": "string", "const": cls.name, "description": cls.description or cls.name}
    properties["params"] = {**params, "title": f"Params of {cls.name}"}
    required = ["collector", *(["params"] if params.get("required") else [])]
    return {
        "type": "object",
        "title": f"Trigger {cls.name}",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def install(app: FastAPI, hv: Harvester) -> None:
    """Make ``app.openapi()`` build (once) the document with the per-collector trigger bodies."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = document["components"]["schemas"]
            base = components["TriggerBody"]
            variants = {f"Trigger.{cls.name}": _variant(cls, base, components) for cls in hv.registry}
            if variants:
                components.update(variants)
                components["TriggerBody"] = {
                    "title": "TriggerBody",
                    "description": base.get("description", ""),
                    "oneOf": [{"$ref": DEFS.format(model=name)} for name in variants],
                    "discriminator": {
                        "propertyName": "collector",
                        "mapping": {cls.name: DEFS.format(model=f"Trigger.{cls.name}") for cls in hv.registry},
                    },
                    "examples": base.get("examples", []),
                }
            if hv.settings.api_token is not None:
                _secure(document, hv.settings.api_public_paths)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _secure(document: dict[str, Any], public_paths: list[str]) -> None:
    document["components"].setdefault("securitySchemes", {})["HTTPBearer"] = BEARER
    for path, operations in document["paths"].items():
        if under(path, public_paths):
            continue
        for operation in operations.values():
            operation["security"] = [{"HTTPBearer": []}]
            operation["responses"].setdefault("401", UNAUTHORIZED)
