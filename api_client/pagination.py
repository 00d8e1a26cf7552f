"""Following ``next_cursor`` lazily: one page in memory at a time, however long the collection.

Collections are ``{data, has_more, next_cursor}``; the same filters must be sent with the cursor,
which the resources' ``fetch`` closures take care of. ``pages()`` yields whole pages (to keep the
cursor where a poll stopped), ``items()`` the objects one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from pydantic import BaseModel

from api_client.errors import MalformedResponseError
from api_client.models import Page

ItemT = TypeVar("ItemT", bound=BaseModel)


def pages(
    fetch: Callable[[str | None], Page[ItemT]], cursor: str | None = None
) -> Iterator[Page[ItemT]]:
    """Pages from ``cursor`` (None: the first page) until the server says there are no more."""
    while True:
        page = fetch(cursor)
        yield page
        if not page.has_more:
            return
        if not page.next_cursor or page.next_cursor == cursor:
            raise MalformedResponseError(
                "the server said has_more but gave no new next_cursor; stopping to avoid a loop"
            )
        cursor = page.next_cursor


def items(fetch: Callable[[str | None], Page[ItemT]], cursor: str | None = None) -> Iterator[ItemT]:
    """Every object of every page, fetching the next page only when the last one is used up."""
    for page in pages(fetch, cursor):
        yield from page.data
