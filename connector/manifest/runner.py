"""A generic runner of manifests over plain HTTP: what every export must do, step by step.

It knows nothing of the Python definitions; it reads manifests only, as an exporter does, and
runs actions through the reference interpreter (``actions/perform.py``). Tests run each operation
through it and through the Python definitions against the sandbox and compare, so a manifest that
drifts from the code fails; the exporters' tests compare each platform's run with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import idna
import requests

from actions.perform import perform
from actions.repeat import ActionHttp, PagedSearch
from api_client import contract
from api_client.errors import error_class
from api_client.mapping import fill_path, resolve
from connector.manifest.format import Connector, HttpRequest, InputField, Operation

HOST_NAME = re.compile(contract.HOST_NAME)
ID = re.compile(contract.OBJECT_ID)


def hostname(value: str) -> str:
    name = idna.encode(value.strip().rstrip("."), uts46=True).decode("ascii")
    if not HOST_NAME.fullmatch(name):
        raise ValueError(f"{value!r} is not a host name")
    return name


def prepare(fields: list[InputField], raw: dict[str, Any]) -> dict[str, Any]:
    """Defaults, required fields, choices and formats: what every export checks before sending."""
    known = {f.key for f in fields}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown inputs: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for field in fields:
        value = raw.get(field.key, field.default)
        if value in (None, "", []):
            if field.required:
                raise ValueError(f"{field.key} is required")
            continue
        items = value if field.multiple else [value]
        for item in items:
            if field.choices and str(item) not in field.choices:
                raise ValueError(f"{field.key}: {item!r} is not one of {field.choices}")
        if field.format == "hostname":
            items = [hostname(str(i)) for i in items]
        elif field.format == "sender_pattern":
            items = [_pattern(str(i)) for i in items]
        elif field.format == "object_id" and not all(ID.fullmatch(str(i)) for i in items):
            raise ValueError(f"{field.key}: not an id")
        values[field.key] = items if field.multiple else items[0]
    return values


def _pattern(value: str) -> str:
    local, at, domain = value.strip().rpartition("@")
    return f"{local}{at}{hostname(domain)}" if at else hostname(domain)


def action_http(op: Operation) -> ActionHttp:
    """An action manifest's mapping, as the reference interpreter takes it."""
    search = (
        PagedSearch(
            max_pages=op.max_pages or 1,
            result_limit_input=op.result_limit_input,
            client_filters=op.client_filters,
            pagination=op.pagination,
        )
        if op.pagination is not None
        else None
    )
    return ActionHttp(
        request=op.request,
        success_outcome=op.success_outcome,
        success_result=op.success_result,
        repeat=op.repeat,
        search=search,
    )


class ManifestRunner:
    def __init__(self, connector: Connector, base_url: str, token: str) -> None:
        self.connector = connector
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        auth = connector.auth
        self.session.headers[auth.header] = f"{auth.scheme} {token}"

    def send(
        self,
        request: HttpRequest,
        inputs: Mapping[str, Any],
        extra: Mapping[str, Any] | None = None,
    ) -> Any:
        """The decoded body of a success; an ``APIError`` of the status otherwise."""
        now = datetime.now(UTC)
        path = fill_path(request.path, inputs, lambda value, _: quote(value, safe=""))
        query = {p.name: resolve(p, inputs, now) for p in request.query}
        query.update(extra or {})
        query = {k: v for k, v in query.items() if v not in (None, "", [])}
        body = {p.name: resolve(p, inputs, now) for p in request.body}
        body = {k: v for k, v in body.items() if v is not None}
        answer = self.session.request(
            request.method,
            self.base_url + path,
            params=query,
            json=body if request.method in ("POST", "PATCH") else None,
            timeout=10,
        )
        if not answer.ok:
            raise error_class(answer.status_code)(answer.text, status=answer.status_code)
        return answer.json() if answer.content else None

    def test_connection(self) -> str:
        answer = self.send(self.connector.connection_test.request, {})
        return str(answer[self.connector.connection_test.label_field])

    def dropdown(self, source_key: str) -> list[str]:
        source = next(s for s in self.connector.list_sources if s.key == source_key)
        answer = self.send(source.request, {})
        return [item["domain"] for item in answer[source.pagination.items]]

    def poll_page(
        self,
        op: Operation,
        raw: dict[str, Any],
        since: str | None,
        cursor: str | None,
        limit: int,
        order: str,
    ) -> tuple[list[dict[str, Any]], str | None]:
        assert op.pagination
        assert op.polling
        inputs = prepare(op.inputs, raw)
        paging = op.pagination
        extra = {
            paging.limit_param: limit,
            op.polling.order_param: order,
            op.polling.since_param: since,
            paging.cursor_param: cursor,
        }
        page = self.send(op.request, inputs, extra)
        return page[paging.items], page[paging.next_cursor] if page[paging.has_more] else None

    def run(self, op: Operation, raw: dict[str, Any]) -> Any:
        """One action, by the reference interpreter, its inputs prepared as an export does."""
        return perform(
            action_http(op),
            search=op.kind == "search",
            inputs=prepare(op.inputs, raw),
            send=self.send,
            now=datetime.now(UTC),
        )
