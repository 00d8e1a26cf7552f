"""What every resource shares: the transport, and turning Python arguments into query values."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypedDict, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from api_client.errors import InvalidArgumentError, shown
from api_client.models import SortOrder
from api_client.transport import Transport

TimeArg = datetime | str | None
"""An aware ``datetime``, or an RFC 3339 string (checked, then sent as given)."""
RFC3339 = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ](?P<hm>[0-9]{2}:[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?P<fraction>\.[0-9]+)?(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
"""What the API takes as a time: RFC 3339 with an explicit offset (a leap second ``:60`` too)."""
DOT_SEGMENTS = frozenset({".", ".."})
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
    """A path segment, percent-encoded so an id can never change the path.

    ``.`` and ``..`` are refused rather than encoded: ``requests`` removes dot segments from a
    URL, and decodes ``%2E`` back to ``.`` first, so no encoding of them survives the trip.
    """
    if not value:
        raise InvalidArgumentError(f"{name} must not be empty", param=name)
    if value in DOT_SEGMENTS:
        raise InvalidArgumentError(
            f"{name} {value!r} is not an id: a path segment of dots would change the path",
            param=name,
        )
    return quote(value, safe="")


def timestamp(value: TimeArg, name: str) -> str | None:
    """``value`` as the API takes it: RFC 3339 in UTC with a four-digit year, or the string as
    given once it is checked; ``InvalidArgumentError`` for a time the API cannot take."""
    if value is None:
        return None
    if isinstance(value, str):
        return _checked_time_text(value, name)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError(
            f"{name}: a naive datetime is ambiguous; give it a time zone", param=name
        )
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise InvalidArgumentError(
            f"{name}: {value.isoformat()} is outside 0001-01-01..9999-12-31 in UTC, "
            "which the API cannot take",
            param=name,
        ) from None
    # isoformat pads the year to four digits; strftime("%Y") does not on every platform.
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _checked_time_text(value: str, name: str) -> str:
    text = value.strip()
    problem = None
    match = RFC3339.fullmatch(text)
    if match is None:
        problem = "not an RFC 3339 timestamp with an offset, like 2026-11-23T18:55:12Z"
    else:
        second = "59" if match["second"] == "60" else match["second"]
        normal = f"{match['date']}T{match['hm']}:{second}{(match['fraction'] or '')[:7]}"
        try:
            datetime.fromisoformat(normal + match["offset"].upper())
        except ValueError as exc:
            problem = f"not a valid time ({exc})"
    if problem is not None:
        raise InvalidArgumentError(f"{name}: {shown(value)} is {problem}", param=name)
    return text


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
