"""What a polling trigger is: a listing of items with an id and a timestamp, plus filters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from api_client import MxGuardClient, Page
from api_client.mapping import HttpRequest
from api_client.resources._base import timestamp

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Filters = TypeVar("Filters", bound=BaseModel)


def to_micros(value: datetime) -> int:
    """Exact integer microseconds since the epoch (floats would break ties)."""
    return (value - EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True)
class FetchedPage:
    items: Sequence[BaseModel]
    next_cursor: str | None
    """None on the last page."""

    @classmethod
    def of(cls, page: Page[Any]) -> FetchedPage:
        return cls(page.data, page.next_cursor if page.has_more else None)


Order = Literal["asc", "desc"]


class TriggerFilters(BaseModel):
    """A trigger's filters: validated before any request, and part of its cursor's key."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoFilters(TriggerFilters):
    pass


@dataclass(frozen=True, kw_only=True)
class TriggerDefinition(Generic[Filters]):
    """One polling trigger; manifests, exports and the CLI are derived from it.

    Its listing is described as data (``request``, whose query values name filters), so the
    same description is what Python fetches and what every platform's export sends.
    """

    key: str
    noun: str
    label: str
    description: str
    filters: type[Filters]
    output: type[BaseModel]
    time_field: str
    request: HttpRequest
    sample: Mapping[str, Any]
    """A realistic item, shown by platforms before a first real run."""
    dropdowns: frozenset[str] = field(default_factory=frozenset)
    """Filters offered as a dropdown of the account's domains."""
    id_field: str = "id"

    def fetch(
        self,
        client: MxGuardClient,
        *,
        filters: Filters,
        since: datetime | None,
        cursor: str | None,
        limit: int,
        order: Order,
        until: datetime | None = None,
    ) -> FetchedPage:
        """One page of matching items, ``since`` inclusive, ``until`` exclusive, in ``order``."""
        window = {
            "since": timestamp(since, "since"),
            "until": timestamp(until, "until"),
            "order": order,
            "limit": limit,
        }
        reply = client.send(
            self.request, filters.model_dump(mode="json"), {**window, "cursor": cursor}
        )
        return FetchedPage.of(reply.parse(Page[self.output]))  # type: ignore[name-defined]

    def item_key(self, item: BaseModel) -> tuple[int, str]:
        """(timestamp in µs, id) of an item: the order in which items come out."""
        stamp = getattr(item, self.time_field)
        return to_micros(stamp), str(getattr(item, self.id_field))
