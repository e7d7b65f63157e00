"""Collector ``Params`` -> click options: ``api_key`` becomes ``--api-key``, booleans ``--flag/--no-flag``."""

from __future__ import annotations

import enum
import json
from typing import Any, get_args, get_origin

import click
from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from harvester.collector import Collector
from harvester.fields import TEXT_TYPES, choices, strip_optional
from harvester.fields import decode as decode_text

_SCALARS: dict[Any, click.ParamType[Any]] = {
    int: click.INT,
    float: click.FLOAT,
    str: click.STRING,
    SecretStr: click.STRING,
    SecretBytes: click.STRING,
}


def _to_value(choices: dict[str, Any]) -> Any:
    return lambda _ctx, _param, text: None if text is None else choices[text]


def _option_for(name: str, field: FieldInfo) -> click.Option | None:
    """An option for a field a command line can express; None for nested/complex ones (use --param)."""
    annotation = strip_optional(field.annotation)
    flag = "--" + name.replace("_", "-")
    default = None if field.default is PydanticUndefined else field.default
    shown = None if isinstance(default, SecretStr | SecretBytes) else default  # never print a secret default
    shown = shown.value if isinstance(shown, enum.Enum) else shown
    help_text = field.description or ""
    if field.is_required():
        help_text = (help_text + " [required]").strip()
    elif shown is not None:
        help_text = f"{help_text}  [default: {json.dumps(shown, default=str)}]".strip()
    if annotation is bool:
        return click.Option(
            [f"{flag}/--no-{flag[2:]}", name],
            default=None,
            help=help_text or None,
        )
    if get_origin(annotation) is list and strip_optional(get_args(annotation)[0]) in _SCALARS:
        item = _SCALARS[strip_optional(get_args(annotation)[0])]
        return click.Option([flag, name], type=item, multiple=True, default=None, help=help_text or None)
    options = choices(annotation)
    if options is not None:
        choice: click.ParamType[Any] = click.Choice(list(options))
    elif annotation in _SCALARS:
        choice = _SCALARS[annotation]
    else:
        return None
    return click.Option(
        [flag, name],
        type=choice,
        default=None,
        help=help_text or None,
        callback=_to_value(options) if options is not None else None,
    )


def param_options(cls: type[Collector]) -> list[click.Option]:
    options = []
    for name, field in cls.Params.model_fields.items():
        option = _option_for(name, field)
        if option is not None:
            options.append(option)
    return options


def parse_param_pairs(pairs: tuple[str, ...] | list[str], *, decode: bool = True) -> dict[str, Any]:
    """``--param key=value``; a value that reads as a JSON list/object, ``true``/``false`` or ``null`` is decoded."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint="--param")
        params[key.strip().replace("-", "_")] = decode_text(value) if decode else value
    return params


def collect_params(cls: type[Collector], parsed: dict[str, Any], pairs: tuple[str, ...]) -> dict[str, Any]:
    """Merge typed options and ``--param`` pairs (options win); unset options are left out."""
    params = parse_param_pairs(pairs)
    fields = cls.Params.model_fields
    for name, raw in parse_param_pairs(pairs, decode=False).items():
        if name in fields and strip_optional(fields[name].annotation) in TEXT_TYPES:
            params[name] = raw  # a text field keeps "true", "null" or "[x]" as typed
    known = set(fields)
    for name, value in parsed.items():
        if name in known and value is not None and value != ():
            params[name] = list(value) if isinstance(value, tuple) else value
    return params


def params_command(cls: type[Collector], args: list[str], prog: str) -> dict[str, Any]:
    """Parse ``args`` with a command built from ``cls.Params``; ``--help`` lists the collector's options."""
    command = click.Command(
        prog,
        params=[
            *param_options(cls),
            click.Option(
                ["--param", "pairs"],
                multiple=True,
                metavar="KEY=VALUE",
                help="A param as key=value (repeatable); any field.",
            ),
        ],
        help=f"{cls.description or cls.name}\n\nParams of collector '{cls.name}'.",
        add_help_option=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    ctx = command.make_context(prog, list(args))
    return collect_params(cls, dict(ctx.params), tuple(ctx.params.get("pairs", ())))


def describe_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    """name, type, default, required of each field (for ``harvester list``)."""
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        type_name = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
        default = None if field.default is PydanticUndefined else field.default
        if isinstance(default, SecretStr | SecretBytes):
            default = "**********"
        rows.append({"name": name, "type": type_name, "default": default, "required": field.is_required()})
    return rows
