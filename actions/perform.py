"""The reference interpreter of an action's mapping: what every platform's export must do.

Python actions run through it (``ActionDefinition.execute``), and so does the generic manifest
runner (``connector/manifest/runner.py``), which reads nothing but manifests. The Zapier runtime,
the n8n node and the Make export implement the same steps; their tests compare them with this
one on the sandbox, step by step.

One action is: send the request; on success answer the body (or ``success_result`` when there is
none) with ``success_outcome``; on the error status its repeat rule names, answer what the rule
says (see ``actions/repeat.py``); on any other error, fail with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, assert_never

from actions.errors import ActionConflictError
from actions.repeat import Absent, ActionHttp, Current, Empty, Existing, PagedSearch, RepeatRule
from api_client.errors import APIError
from api_client.mapping import PATH_VARIABLE, HttpRequest, Param, fill, resolve

Result = dict[str, Any]


class Send(Protocol):
    """Sends a described request; answers the decoded body (None when empty) and raises an
    ``APIError`` carrying the status for an error status."""

    def __call__(
        self,
        request: HttpRequest,
        inputs: Mapping[str, Any],
        extra: Mapping[str, Any] | None = None,
        /,
    ) -> Any: ...


def perform(
    http: ActionHttp, *, search: bool, inputs: Mapping[str, Any], send: Send, now: datetime
) -> Result | list[Result]:
    """Run one action; a search answers a list (empty when nothing was found)."""
    if http.search is not None:
        return search_pages(http.request, http.search, inputs, send)
    try:
        body = send(http.request, inputs)
    except APIError as error:
        if http.repeat is None or error.status != http.repeat.status:
            raise
        return on_repeat(http.repeat, inputs, send, now)
    result = body if body is not None else made_of(http.success_result, inputs, now)
    if search:
        return [result]
    return with_outcome(result, http.success_outcome)


def on_repeat(
    rule: RepeatRule, inputs: Mapping[str, Any], send: Send, now: datetime
) -> Result | list[Result]:
    """What the rule answers once its status came back."""
    match rule:
        case Empty():
            return []
        case Absent():
            if rule.check is not None:
                send(rule.check, inputs)
            return with_outcome(made_of(rule.result, inputs, now), rule.outcome)
        case Existing():
            found = existing_object(rule, inputs, send)
            differs = [f for f, key in rule.same.items() if found.get(f) != inputs.get(key)]
            if differs:
                raise ActionConflictError(
                    fill(rule.error, {**inputs, **found}), field=rule.same[differs[0]]
                )
            return with_outcome(found, rule.outcome)
        case Current():
            found = send(rule.lookup, inputs)
            if found.get(rule.field) != rule.value:
                raise ActionConflictError(
                    fill(rule.error, {**inputs, **found}), field=_path_input(rule.lookup)
                )
            return with_outcome(dict(found), rule.outcome)
        case _:
            assert_never(rule)


def existing_object(rule: Existing, inputs: Mapping[str, Any], send: Send) -> Result:
    """The object a conflict was about: the lookup's answer, or the matching item of its list."""
    found: Result = send(rule.lookup, inputs)
    if rule.find_in is None:
        return found
    for item in found.get(rule.find_in) or []:
        if all(item.get(f) == inputs.get(key) for f, key in rule.match.items()):
            return dict(item)
    raise ActionConflictError("MxGuard reported a conflict, and the existing object was not found")


def search_pages(
    request: HttpRequest, paging: PagedSearch, inputs: Mapping[str, Any], send: Send
) -> list[Result]:
    """Items of up to ``max_pages`` pages that pass the client-side filters, up to the limit."""
    listing = paging.pagination
    cap = inputs.get(paging.result_limit_input or "") or 0
    found: list[Result] = []
    cursor = None
    for _ in range(paging.max_pages):
        page = send(request, inputs, {listing.cursor_param: cursor})
        found += [item for item in page[listing.items] if _kept(item, paging, inputs)]
        if not page[listing.has_more] or (cap and len(found) >= cap):
            break
        cursor = page[listing.next_cursor]
    return found[:cap] if cap else found


def _kept(item: Result, paging: PagedSearch, inputs: Mapping[str, Any]) -> bool:
    return all(
        inputs.get(key) is None or str(inputs[key]).lower() in str(item.get(field)).lower()
        for field, key in paging.client_filters.items()
    )


def made_of(params: list[Param], inputs: Mapping[str, Any], now: datetime) -> Result:
    return {p.name: resolve(p, inputs, now) for p in params}


def with_outcome(result: Result, outcome: str | None) -> Result:
    return {**result, "outcome": outcome} if outcome else dict(result)


def _path_input(request: HttpRequest) -> str | None:
    variable = PATH_VARIABLE.search(request.path)
    return variable.group(1) if variable else None
