"""What a ``Params`` field's annotation means for text input: shared by the CLI options and the
schedule file's CLI-style ``args``, so both read ``--name value`` the same way."""

from __future__ import annotations

import enum
import json
import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import SecretBytes, SecretStr

#: Annotations whose values stay text even when they look like JSON (``--param branch=true``).
TEXT_TYPES = (str, SecretStr, SecretBytes)


def strip_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X``; anything else unchanged."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def choices(annotation: Any) -> dict[str, Any] | None:
    """Text -> value of a ``Literal`` or ``Enum`` field (``Literal[1, 2]`` must get ``1``, not ``"1"``)."""
    if get_origin(annotation) is Literal:
        return {str(v): v for v in get_args(annotation)}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {str(m.value): m.value for m in annotation}
    return None


def decode(value: str) -> Any:
    """``key=value`` text: a JSON list, object, ``true``/``false``/``null`` is decoded; the rest stays text."""
    if value[:1] in "[{" or value in ("true", "false", "null"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
