"""Recent verdicts: what the filter decided about each message."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Unpack

from api_client.models import Page, Verdict
from api_client.pagination import items, pages
from api_client.resources._base import (
    ManyArg,
    Resource,
    Window,
    many,
    query_params,
    segment,
)


class VerdictQuery(Window, total=False):
    domain: str | None
    verdict: ManyArg
    action: ManyArg


class Verdicts(Resource):
    """``client.verdicts``: list (filtered, paginated) and get.

    Ordered by ``scanned_at`` then ``id``, newest first unless ``order="asc"``. A verdict may
    become visible up to 120 s after its ``scanned_at`` (late arrival): cursors kept on
    timestamps must look back that far.
    """

    def list(self, **query: Unpack[VerdictQuery]) -> Iterator[Verdict]:
        """Every matching verdict, lazily, page after page; ``verdict`` and ``action`` take one
        value or several."""
        params = _params(query)
        return items(lambda cursor: self._page(params, cursor))

    def pages(
        self, *, cursor: str | None = None, **query: Unpack[VerdictQuery]
    ) -> Iterator[Page[Verdict]]:
        params = _params(query)
        return pages(lambda next_cursor: self._page(params, next_cursor), cursor)

    def page(self, *, cursor: str | None = None, **query: Unpack[VerdictQuery]) -> Page[Verdict]:
        """One page; pass its ``next_cursor`` with the same filters for the next."""
        return self._page(_params(query), cursor)

    def get(self, verdict_id: str) -> Verdict:
        path = f"/verdicts/{segment(verdict_id, 'verdict_id')}"
        return self._transport.request("GET", path).parse(Verdict)

    def _page(self, params: dict[str, Any], cursor: str | None) -> Page[Verdict]:
        reply = self._transport.request("GET", "/verdicts", params={**params, "cursor": cursor})
        return reply.parse(Page[Verdict])


def _params(query: VerdictQuery) -> dict[str, Any]:
    return query_params(
        query,
        VerdictQuery,
        domain=query.get("domain"),
        verdict=many(query.get("verdict")),
        action=many(query.get("action")),
    )
