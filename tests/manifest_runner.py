"""A generic runner of manifests over plain HTTP: the reference for what every export must do.

It knows nothing of the Python definitions; it reads manifests only, as an exporter does. Tests
run each operation through it and through the Python definitions against the sandbox and compare,
so a manifest that drifts from the code fails.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import idna
import requests

from connector.manifest.format import Connector, HttpRequest, InputField, Operation, Param

LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class RunnerError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def hostname(value: str) -> str:
    name = idna.encode(value.strip().rstrip("."), uts46=True).decode("ascii")
    labels = name.split(".")
    if len(labels) < 2 or not all(LABEL.match(x) for x in labels) or not labels[-1][0].isalpha():
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
        elif field.format == "object_id" and not all(ID.match(str(i)) for i in items):
            raise ValueError(f"{field.key}: not an id")
        values[field.key] = items if field.multiple else items[0]
    return values


def _pattern(value: str) -> str:
    local, at, domain = value.strip().rpartition("@")
    return f"{local}{at}{hostname(domain)}" if at else hostname(domain)


def resolve(param: Param, inputs: dict[str, Any], now: datetime) -> Any:
    if param.input is not None:
        return inputs.get(param.input)
    if param.days_ago_input is not None:
        days = inputs[param.days_ago_input]
        return (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return param.value


class ManifestRunner:
    def __init__(self, connector: Connector, base_url: str, token: str) -> None:
        self.connector = connector
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        auth = connector.auth
        self.session.headers[auth.header] = f"{auth.scheme} {token}"

    def send(
        self, request: HttpRequest, inputs: dict[str, Any], extra: dict[str, Any] | None = None
    ) -> requests.Response:
        now = datetime.now(UTC)
        path = re.sub(r"\{(\w+)\}", lambda m: quote(str(inputs[m.group(1)]), safe=""), request.path)
        query = {p.name: resolve(p, inputs, now) for p in request.query}
        query.update(extra or {})
        query = {k: v for k, v in query.items() if v not in (None, "", [])}
        body = {p.name: resolve(p, inputs, now) for p in request.body}
        body = {k: v for k, v in body.items() if v is not None}
        return self.session.request(
            request.method,
            self.base_url + path,
            params=query,
            json=body if request.method in ("POST", "PATCH") else None,
            timeout=10,
        )

    def test_connection(self) -> str:
        answer = self.send(self.connector.connection_test.request, {})
        if answer.status_code != 200:
            raise RunnerError(answer.text, answer.status_code)
        return str(answer.json()[self.connector.connection_test.label_field])

    def dropdown(self, source_key: str) -> list[str]:
        source = next(s for s in self.connector.list_sources if s.key == source_key)
        answer = self.send(source.request, {})
        return [item["domain"] for item in answer.json()[source.pagination.items]]

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
        answer = self.send(op.request, inputs, extra)
        if answer.status_code != 200:
            raise RunnerError(answer.text, answer.status_code)
        page = answer.json()
        return page[paging.items], page[paging.next_cursor] if page[paging.has_more] else None

    def run(self, op: Operation, raw: dict[str, Any]) -> Any:
        inputs = prepare(op.inputs, raw)
        if op.pagination is not None:
            return self._search_pages(op, inputs)
        answer = self.send(op.request, inputs)
        if answer.ok:
            result = (
                answer.json()
                if answer.content
                else {p.name: resolve(p, inputs, datetime.now(UTC)) for p in op.success_result}
            )
            if op.kind == "search":
                return [result]
            return {**result, "outcome": op.success_outcome} if op.success_outcome else result
        rule = next((r for r in op.status_rules if r.status == answer.status_code), None)
        if rule is None:
            raise RunnerError(answer.text, answer.status_code)
        if rule.empty:
            return []
        found: dict[str, Any] | None = None
        if rule.lookup is not None:
            looked = self.send(rule.lookup, inputs)
            if not looked.ok:
                raise RunnerError(looked.text, looked.status_code)
            found = looked.json()
            if rule.find_in:
                found = next(
                    (
                        item
                        for item in found[rule.find_in]
                        if all(item[f] == inputs[i] for f, i in rule.match.items())
                    ),
                    None,
                )
                if found is None:
                    raise RunnerError("conflict, and the existing object was not found", 409)
        for field, param in rule.accept_if.items():
            assert found is not None
            if found[field] != resolve(param, inputs, datetime.now(UTC)):
                raise RunnerError((rule.error or "conflict").format(**{**inputs, **found}), 409)
        result = (
            dict(found)
            if found is not None and not rule.result
            else {p.name: resolve(p, inputs, datetime.now(UTC)) for p in rule.result}
        )
        return {**result, "outcome": rule.outcome} if rule.outcome else result

    def _search_pages(self, op: Operation, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        assert op.pagination is not None
        found: list[dict[str, Any]] = []
        cursor = None
        cap = inputs.get(op.result_limit_input or "")
        for _ in range(op.max_pages or 1):
            answer = self.send(op.request, inputs, {op.pagination.cursor_param: cursor})
            page = answer.json()
            for item in page[op.pagination.items]:
                if all(
                    inputs.get(i) is None or str(inputs[i]).lower() in str(item[f]).lower()
                    for f, i in op.client_filters.items()
                ):
                    found.append(item)
            if not page[op.pagination.has_more] or (cap and len(found) >= cap):
                break
            cursor = page[op.pagination.next_cursor]
        return found[:cap] if cap else found
