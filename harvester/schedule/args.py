"""CLI-style ``args`` of a schedule entry (the seed form ``args: ["--source-key", "default"]``) -> params.

The same spelling as ``harvester run NAME ...``: each ``Params`` field is ``--field-name VALUE``
(or ``--field-name=VALUE``), a boolean is ``--flag`` / ``--no-flag``, a list field repeats its
option, and ``--param key=value`` sets any field (a JSON list/object, ``true``, ``false`` or
``null`` is decoded, except for text fields). Values stay text; ``validate_params`` converts them.
Written without click so the schedule layer needs no CLI library.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args, get_origin

from harvester.collector import Collector
from harvester.fields import TEXT_TYPES, choices, decode, strip_optional
from harvester.schedule.entries import did_you_mean


def _from_text(annotation: Any, text: str) -> Any:
    """A ``Literal``/``Enum`` choice by its text (``Literal[1, 2]`` wants ``1``, not ``"1"``); else the text."""
    annotation = strip_optional(annotation)
    if get_origin(annotation) is list:
        annotation = strip_optional(get_args(annotation)[0])
    options = choices(annotation)
    return text if options is None else options.get(text, text)


class _Parser:
    def __init__(self, cls: type[Collector]) -> None:
        self.cls = cls
        self.fields = cls.Params.model_fields
        self.options = {"--" + name.replace("_", "-"): name for name in self.fields}
        self.params: dict[str, Any] = {}
        self.pairs: dict[str, Any] = {}

    def parse(self, args: Sequence[str]) -> dict[str, Any]:
        tokens = list(args)
        while tokens:
            option, has_value, value = tokens.pop(0).partition("=")
            if self._is_flag(option):
                self._flag(option, value if has_value else None)
                continue
            self._check_known(option)
            if not has_value:
                if not tokens:
                    raise ValueError(f"option '{option}' needs a value")
                value = tokens.pop(0)
            if option == "--param":
                self._pair(value)
            else:
                self._value(self.options[option], value)
        return {**self.pairs, **self.params}

    def _is_flag(self, option: str) -> bool:
        name = self.options.get(option) or self.options.get("--" + option.removeprefix("--no-"))
        return name is not None and strip_optional(self.fields[name].annotation) is bool

    def _check_known(self, option: str) -> None:
        if option == "--param" or option in self.options:
            return
        if not option.startswith("-"):
            raise ValueError(f"unexpected argument '{option}'")
        known = sorted([*self.options, "--param"])
        raise ValueError(f"unknown option '{option}'{did_you_mean(option, known)}")

    def _flag(self, option: str, value: str | None) -> None:
        if value is not None:
            raise ValueError(f"option '{option}' is a flag and takes no value")
        name = self.options.get(option)
        self.params[name or self.options["--" + option.removeprefix("--no-")]] = name is not None

    def _value(self, name: str, text: str) -> None:
        value = _from_text(self.fields[name].annotation, text)
        if get_origin(strip_optional(self.fields[name].annotation)) is list:
            self.params.setdefault(name, []).append(value)
        else:
            self.params[name] = value

    def _pair(self, pair: str) -> None:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--param expects key=value, got '{pair}'")
        name = key.strip().replace("-", "_")
        field = self.fields.get(name)
        text_field = field is not None and strip_optional(field.annotation) in TEXT_TYPES
        self.pairs[name] = value if text_field else decode(value)


def parse_cli_args(cls: type[Collector], args: Sequence[str]) -> dict[str, Any]:
    """``["--source-key", "default"]`` -> ``{"source_key": "default"}`` for ``cls.Params`` (not yet validated)."""
    try:
        return _Parser(cls).parse(args)
    except ValueError as exc:
        raise ValueError(f"bad `args` for collector '{cls.name}': {exc}") from None
