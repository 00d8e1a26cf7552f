"""Recent verdicts: what the filter decided about each message."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from api_client.models import Page, Verdict
from api_client.pagination import items, pages
from api_client.resources._base import (
    ManyArg,
    OrderArg,
    Resource,
    TimeArg,
    many,
    segment,
    sort_order,
    timestamp,
)


class Verdicts(Resource):
    """``client.verdicts``: list (filtered, paginated) and get.

    Ordered by ``scanned_at`` then ``id``, newest first unless ``order="asc"``. A verdict may
    become visible up to 120 s after its ``scanned_at`` (late arrival): cursors kept on
    timestamps must look back that far.
    """

    def list(
        self,
        *,
        domain: str | None = None,
        verdict: ManyArg = None,
        action: ManyArg = None,
        since: TimeArg = None,
        until: TimeArg = None,
        order: OrderArg = None,
        limit: int | None = None,
    ) -> Iterator[Verdict]:
        """Every matching verdict, lazily; ``verdict`` and ``action`` take one value or several,
        ``since`` is inclusive, ``until`` exclusive, ``limit`` is the page size (at most 500)."""
        params = _filters(domain, verdict, action, since, until, order, limit)
        return items(lambda cursor: self._page(params, cursor))

    def pages(
        self,
        *,
        domain: str | None = None,
        verdict: ManyArg = None,
        action: ManyArg = None,
        since: TimeArg = None,
        until: TimeArg = None,
        order: OrderArg = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Iterator[Page[Verdict]]:
        params = _filters(domain, verdict, action, since, until, order, limit)
        return pages(lambda next_cursor: self._page(params, next_cursor), cursor)

    def page(
        self,
        *,
        domain: str | None = None,
        verdict: ManyArg = None,
        action: ManyArg = None,
        since: TimeArg = None,
        until: TimeArg = None,
        order: OrderArg = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Verdict]:
        """One page; pass its ``next_cursor`` with the same filters for the next."""
        return self._page(_filters(domain, verdict, action, since, until, order, limit), cursor)

    def get(self, verdict_id: str) -> Verdict:
        path = f"/verdicts/{segment(verdict_id, 'verdict_id')}"
        return self._transport.request("GET", path).parse(Verdict)

    def _page(self, params: dict[str, Any], cursor: str | None) -> Page[Verdict]:
        reply = self._transport.request("GET", "/verdicts", params={**params, "cursor": cursor})
        return reply.parse(Page[Verdict])


def _filters(
    domain: str | None,
    verdict: ManyArg,
    action: ManyArg,
    since: TimeArg,
    until: TimeArg,
    order: OrderArg,
    limit: int | None,
) -> dict[str, Any]:
    return {
        "domain": domain,
        "verdict": many(verdict),
        "action": many(action),
        "since": timestamp(since, "since"),
        "until": timestamp(until, "until"),
        "order": sort_order(order),
        "limit": limit,
    }
