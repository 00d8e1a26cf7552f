"""Quarantined messages: list, get, release to the recipient, report as spam."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Unpack

from api_client.models import Page, QuarantinedMessage
from api_client.pagination import items, pages
from api_client.resources._base import (
    ManyArg,
    Resource,
    Window,
    many,
    query_params,
    segment,
)


class QuarantineQuery(Window, total=False):
    domain: str | None
    status: ManyArg


class Quarantine(Resource):
    """``client.quarantine``: list (filtered, paginated), get, release, report_spam.

    ``release`` and ``report_spam`` are writes: after an ambiguous failure (timeout, dropped
    connection, 5xx) they are not re-sent; ``get`` the message to see whether it took effect.
    """

    def list(self, **query: Unpack[QuarantineQuery]) -> Iterator[QuarantinedMessage]:
        """Every matching message, lazily; ``status`` takes one value or several."""
        params = _params(query)
        return items(lambda cursor: self._page(params, cursor))

    def pages(
        self, *, cursor: str | None = None, **query: Unpack[QuarantineQuery]
    ) -> Iterator[Page[QuarantinedMessage]]:
        params = _params(query)
        return pages(lambda next_cursor: self._page(params, next_cursor), cursor)

    def page(
        self, *, cursor: str | None = None, **query: Unpack[QuarantineQuery]
    ) -> Page[QuarantinedMessage]:
        """One page; pass its ``next_cursor`` with the same filters for the next."""
        return self._page(_params(query), cursor)

    def get(self, message_id: str) -> QuarantinedMessage:
        return self._transport.request("GET", _path(message_id)).parse(QuarantinedMessage)

    def release(self, message_id: str) -> QuarantinedMessage:
        """Deliver a held message; ``ConflictError`` unless it is ``held``."""
        reply = self._transport.request("POST", f"{_path(message_id)}/release")
        return reply.parse(QuarantinedMessage)

    def report_spam(self, message_id: str) -> QuarantinedMessage:
        """Report a held or released message as spam; ``ConflictError`` otherwise."""
        reply = self._transport.request("POST", f"{_path(message_id)}/report-spam")
        return reply.parse(QuarantinedMessage)

    def _page(self, params: dict[str, Any], cursor: str | None) -> Page[QuarantinedMessage]:
        reply = self._transport.request("GET", "/quarantine", params={**params, "cursor": cursor})
        return reply.parse(Page[QuarantinedMessage])


def _path(message_id: str) -> str:
    return f"/quarantine/{segment(message_id, 'message_id')}"


def _params(query: QuarantineQuery) -> dict[str, Any]:
    return query_params(
        query, QuarantineQuery, domain=query.get("domain"), status=many(query.get("status"))
    )
