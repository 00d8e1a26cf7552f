"""What every resource shares: the transport, and turning Python arguments into query values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypedDict, TypeVar
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


class Window(TypedDict, total=False):
    """What every time-ordered listing takes: ``since`` inclusive, ``until`` exclusive, the order
    (newest first by default) and the page size ``limit`` (at most 500)."""

    since: TimeArg
    until: TimeArg
    order: OrderArg
    limit: int | None


def query_params(query: Mapping[str, Any], kind: type[Any], **special: Any) -> dict[str, Any]:
    """Query parameters of a listing: the window, plus ``special`` ones already converted;
    a keyword the listing does not take is a ``TypeError``, as with a plain signature."""
    unknown = set(query) - set(kind.__optional_keys__)
    if unknown:
        raise TypeError(f"unexpected filter(s): {', '.join(sorted(unknown))}")
    return {
        "since": timestamp(query.get("since"), "since"),
        "until": timestamp(query.get("until"), "until"),
        "order": sort_order(query.get("order")),
        "limit": query.get("limit"),
        **special,
    }


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
