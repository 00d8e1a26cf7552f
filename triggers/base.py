"""What a polling trigger is: a page source over items with an id and a timestamp, plus filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel

from api_client import MxGuardClient, Page

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


class PageFetcher(Protocol):
    """One page of a trigger's items; every argument but the client by name, so a fetcher
    cannot take ``cursor`` for ``since`` or a limit for an order."""

    def __call__(
        self,
        client: MxGuardClient,
        *,
        filters: Any,
        since: datetime | None,
        cursor: str | None,
        limit: int,
        order: Order,
    ) -> FetchedPage: ...


@dataclass(frozen=True, kw_only=True)
class TriggerDefinition(Generic[Filters]):
    """One polling trigger; everything else (manifests, exports, the CLI) is derived from it."""

    key: str
    noun: str
    label: str
    description: str
    filters: type[Filters]
    output: type[BaseModel]
    time_field: str
    fetch: PageFetcher
    id_field: str = "id"

    def item_key(self, item: BaseModel) -> tuple[int, str]:
        """(timestamp in µs, id) of an item: the order in which items come out."""
        stamp = getattr(item, self.time_field)
        return to_micros(stamp), str(getattr(item, self.id_field))
