"""Requests described as data: how an operation maps onto the HTTP contract.

An operation (a trigger, an action, a search) says which request it sends and where each value
comes from, instead of calling the client in code, so that one description drives the Python
run, the manifests and every platform's export alike. Values come from an input (``input``), a
constant (``value``), or "now minus an input's days" (``days_ago_input``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api_client.contract import API_PREFIX, MAX_PAGE_SIZE

PATH_VARIABLE = re.compile(r"\{(\w+)\}")


class Strict(BaseModel):
    """Every mapping model: an unknown key is a mistake, not something to ignore."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Param(Strict):
    """One value of a request: from an input, a constant, or now minus an input's days."""

    name: str
    input: str | None = None
    value: Any = None
    days_ago_input: str | None = None


class HttpRequest(Strict):
    method: Literal["GET", "POST", "PATCH", "DELETE"]
    path: str = Field(description="Under the base URL; {key} is replaced by that input.")
    query: list[Param] = Field(default_factory=list)
    body: list[Param] = Field(default_factory=list)


class Pagination(Strict):
    """Where a listing puts its items and its next-page cursor (the same for every listing)."""

    items: str = "data"
    has_more: str = "has_more"
    next_cursor: str = "next_cursor"
    cursor_param: str = "cursor"
    limit_param: str = "limit"
    max_limit: int = MAX_PAGE_SIZE


def get(path: str, *query: Param) -> HttpRequest:
    """``GET`` of ``path`` below ``/api/v1``."""
    return HttpRequest(method="GET", path=API_PREFIX + path, query=list(query))


def send(method: Literal["POST", "PATCH", "DELETE"], path: str, *body: Param) -> HttpRequest:
    """A change to ``path`` below ``/api/v1``, its body made of ``body``."""
    return HttpRequest(method=method, path=API_PREFIX + path, body=list(body))


def from_inputs(*names: str) -> list[Param]:
    """Parameters named as the inputs they are taken from."""
    return [Param(name=name, input=name) for name in names]


def resolve(param: Param, inputs: Mapping[str, Any], now: datetime) -> Any:
    """The value of ``param`` for these inputs; ``now`` is the caller's clock, never the wall's."""
    if param.input is not None:
        return inputs.get(param.input)
    if param.days_ago_input is not None:
        moment = now - timedelta(days=inputs[param.days_ago_input])
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return param.value


def fill_path(path: str, inputs: Mapping[str, Any], segment: Callable[[str, str], str]) -> str:
    """``path`` with each ``{key}`` replaced by that input, made safe by ``segment``."""
    return PATH_VARIABLE.sub(lambda m: segment(str(inputs[m.group(1)]), m.group(1)), path)


def fill(template: str, values: Mapping[str, Any]) -> str:
    """A message template (``{domain} already exists``) filled in; unknown names stay."""
    return PATH_VARIABLE.sub(
        lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template
    )
