"""Domains (addressed by name) and their sender rules (allow / block lists)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Unpack, overload

from api_client.models import (
    Domain,
    DomainCreate,
    DomainUpdate,
    Page,
    RuleAction,
    SenderRule,
    SenderRuleCreate,
)
from api_client.pagination import items, pages
from api_client.resources._base import (
    OrderArg,
    Resource,
    Window,
    body,
    query_params,
    segment,
    sort_order,
)


class Domains(Resource):
    """``client.domains``: list, add, get, update, remove."""

    def list(self, **query: Unpack[Window]) -> Iterator[Domain]:
        """Every domain, lazily, page after page."""
        params = query_params(query, Window)
        return items(lambda cursor: self._page(params, cursor))

    def pages(
        self, *, cursor: str | None = None, **query: Unpack[Window]
    ) -> Iterator[Page[Domain]]:
        params = query_params(query, Window)
        return pages(lambda next_cursor: self._page(params, next_cursor), cursor)

    def page(self, *, cursor: str | None = None, **query: Unpack[Window]) -> Page[Domain]:
        """One page; pass its ``next_cursor`` with the same filters for the next."""
        return self._page(query_params(query, Window), cursor)

    def get(self, domain: str) -> Domain:
        return self._transport.request("GET", _path(domain)).parse(Domain)

    @overload
    def add(self, request: DomainCreate, /) -> Domain: ...
    @overload
    def add(self, /, *, domain: str, real_mx_host: str) -> Domain: ...
    def add(
        self,
        request: DomainCreate | None = None,
        /,
        *,
        domain: str | None = None,
        real_mx_host: str | None = None,
    ) -> Domain:
        """Add a domain (ASCII; IDNs as punycode); ``ConflictError`` if it exists already."""
        sent = body(DomainCreate, request, domain=domain, real_mx_host=real_mx_host)
        return self._transport.request("POST", "/domains", body=sent).parse(Domain)

    @overload
    def update(self, domain: str, request: DomainUpdate, /) -> Domain: ...
    @overload
    def update(self, domain: str, /, *, real_mx_host: str) -> Domain: ...
    def update(
        self,
        domain: str,
        request: DomainUpdate | None = None,
        /,
        *,
        real_mx_host: str | None = None,
    ) -> Domain:
        sent = body(DomainUpdate, request, real_mx_host=real_mx_host)
        return self._transport.request("PATCH", _path(domain), body=sent).parse(Domain)

    def remove(self, domain: str) -> None:
        """Remove a domain and its sender rules."""
        self._transport.request("DELETE", _path(domain))

    def _page(self, params: dict[str, Any], cursor: str | None) -> Page[Domain]:
        reply = self._transport.request("GET", "/domains", params={**params, "cursor": cursor})
        return reply.parse(Page[Domain])


class SenderRules(Resource):
    """``client.sender_rules``: a domain's allow and block rules."""

    def list(
        self, domain: str, *, order: OrderArg = None, limit: int | None = None
    ) -> Iterator[SenderRule]:
        params = {"order": sort_order(order), "limit": limit}
        return items(lambda cursor: self._page(domain, params, cursor))

    def pages(
        self,
        domain: str,
        *,
        order: OrderArg = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Iterator[Page[SenderRule]]:
        params = {"order": sort_order(order), "limit": limit}
        return pages(lambda next_cursor: self._page(domain, params, next_cursor), cursor)

    def page(
        self,
        domain: str,
        *,
        order: OrderArg = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[SenderRule]:
        return self._page(domain, {"order": sort_order(order), "limit": limit}, cursor)

    @overload
    def add(self, domain: str, request: SenderRuleCreate, /) -> SenderRule: ...
    @overload
    def add(
        self,
        domain: str,
        /,
        *,
        pattern: str,
        action: RuleAction | str,
        note: str | None = None,
    ) -> SenderRule: ...
    def add(
        self,
        domain: str,
        request: SenderRuleCreate | None = None,
        /,
        *,
        pattern: str | None = None,
        action: RuleAction | str | None = None,
        note: str | None = None,
    ) -> SenderRule:
        """Allow or block ``a@b.com``, ``b.com`` or ``*@b.com``; one rule per pattern."""
        sent = body(SenderRuleCreate, request, pattern=pattern, action=action, note=note)
        path = f"{_path(domain)}/sender-rules"
        return self._transport.request("POST", path, body=sent).parse(SenderRule)

    def remove(self, domain: str, rule_id: str) -> None:
        path = f"{_path(domain)}/sender-rules/{segment(rule_id, 'rule_id')}"
        self._transport.request("DELETE", path)

    def _page(self, domain: str, params: dict[str, Any], cursor: str | None) -> Page[SenderRule]:
        path = f"{_path(domain)}/sender-rules"
        reply = self._transport.request("GET", path, params={**params, "cursor": cursor})
        return reply.parse(Page[SenderRule])


def _path(domain: str) -> str:
    return f"/domains/{segment(domain, 'domain')}"
