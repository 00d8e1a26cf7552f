"""Command-line options made from a pydantic input model, so every input has a flag and help."""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, get_args, get_origin

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from connector.exits import InvalidInputError


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return annotation


def _base(annotation: Any) -> Any:
    annotation = _unwrap_optional(annotation)
    if get_origin(annotation) is typing.Annotated:
        return _base(get_args(annotation)[0])
    return annotation


def click_type(annotation: Any) -> tuple[click.ParamType[Any], bool]:
    """(type, multiple) of the option for a field's annotation."""
    base = _base(annotation)
    if get_origin(base) is list:
        inner, _ = click_type(get_args(base)[0])
        return inner, True
    if get_origin(base) is Literal:
        return click.Choice([str(v) for v in get_args(base)]), False
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return click.Choice([str(m.value) for m in base]), False
    if base is int:
        return click.INT, False
    if base is float:
        return click.FLOAT, False
    if base is bool:
        return click.BOOL, False
    return click.STRING, False


class InputOption(click.Option):
    """An operation's input as a flag: a value it cannot take is invalid input (exit 3), as the
    same value in ``--input`` is, not a usage error."""

    def handle_parse_result(
        self, ctx: click.Context, opts: Mapping[str, Any], args: list[str]
    ) -> tuple[Any, list[str]]:
        try:
            return super().handle_parse_result(ctx, opts, args)
        except click.BadParameter as error:
            raise InvalidInputError(error.format_message()) from None


def options_for(model: type[BaseModel]) -> list[click.Option]:
    made: list[click.Option] = []
    for name, info in model.model_fields.items():
        kind, multiple = click_type(info.annotation)
        made.append(
            InputOption(
                [f"--{name.replace('_', '-')}", name],
                type=kind,
                multiple=multiple,
                help=_help(info, multiple),
            )
        )
    return made


def _help(info: FieldInfo, multiple: bool) -> str:
    text = info.description or ""
    if info.is_required():
        text += " [required]"
    elif info.default not in (None, [], (), PydanticUndefined):
        default = getattr(info.default, "value", info.default)
        text += f" [default: {default}]"
    if multiple:
        text += " Repeat the option for several."
    return text.strip()


def collect(model: type[BaseModel], params: dict[str, Any], raw_json: str | None) -> dict[str, Any]:
    """Inputs from ``--input JSON`` (as platforms pass them), overridden by explicit flags."""
    data: dict[str, Any] = {}
    if raw_json:
        try:
            loaded = json.loads(raw_json)
        except RecursionError:
            raise InvalidInputError("--input: nested too deeply") from None
        except ValueError as exc:  # JSONDecodeError, and numbers past Python's digit limit
            raise InvalidInputError(f"--input: not valid JSON ({exc})") from None
        if not isinstance(loaded, dict):
            raise InvalidInputError("--input: must be a JSON object")
        data.update(loaded)
    for name in model.model_fields:
        value = params.get(name)
        if value is None or value == ():
            continue
        data[name] = list(value) if isinstance(value, tuple) else value
    return data
