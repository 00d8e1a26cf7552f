"""What every resource shares: the transport, and turning Python arguments into query values."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from api_client.models import SortOrder
from api_client.transport import Transport

TimeArg = datetime | str | None
"""An aware ``datetime``, or an RFC 3339 string passed through as is."""
ManyArg = str | Iterable[str] | None
"""One value or several (a repeatable filter); enum members are strings."""
OrderArg = SortOrder | str | None

BodyT = TypeVar("BodyT", bound=BaseModel)


class Resource:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport


def segment(value: str, name: str) -> str:
    """A path segment, percent-encoded so an id can never change the path."""
    if not value:
        raise ValueError(f"{name} must not be empty")
    return quote(value, safe="")


def timestamp(value: TimeArg, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}: a naive datetime is ambiguous; give it a time zone")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def many(value: ManyArg) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] or None


def sort_order(value: OrderArg) -> str | None:
    return None if value is None else str(value)


def body(model: type[BodyT], given: BodyT | None, **fields: Any) -> BodyT:
    """The request body: a model the caller built, or one built from keyword arguments."""
    passed = {k: v for k, v in fields.items() if v is not None}
    if given is not None:
        if passed:
            raise TypeError(f"pass either a {model.__name__} or keyword arguments, not both")
        return given
    return model.model_validate(passed)
