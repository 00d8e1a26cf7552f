"""Lists are lazy: one page fetched at a time, only when needed, with the filters repeated."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from itertools import islice
from typing import Any

import pytest
import responses
from responses import matchers

from api_client import MalformedResponseError, Page, Verdict, VerdictType
from tests.client_support import API, FakeTime, offline_client


def verdict(index: int) -> dict[str, Any]:
    return {
        "id": f"vrd_{index:04d}",
        "message_id": f"<{index}@example.net>",
        "domain": "example.com",
        "sender": "a@example.net",
        "recipient": "b@example.com",
        "subject": f"message {index}",
        "verdict": "spam",
        "score": 80.5,
        "action": "quarantined",
        "scanned_at": "2026-11-23T18:55:12.123456Z",
    }


def page(first: int, size: int, total: int) -> dict[str, Any]:
    last = min(first + size, total)
    more = last < total
    return {
        "data": [verdict(i) for i in range(first, last)],
        "has_more": more,
        "next_cursor": f"c{last}" if more else None,
    }


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def add_pages(mock: responses.RequestsMock, size: int, total: int, **filters: Any) -> None:
    for first in range(0, total, size):
        query: dict[str, Any] = {**filters, "limit": str(size)}
        if first:
            query["cursor"] = f"c{first}"
        mock.add(
            "GET",
            f"{API}/verdicts",
            json=page(first, size, total),
            match=[matchers.query_param_matcher(query)],
        )


def test_items_are_fetched_one_page_at_a_time(mock: responses.RequestsMock) -> None:
    add_pages(mock, size=10, total=35)
    with offline_client(FakeTime()) as client:
        verdicts = client.verdicts.list(limit=10)
        assert len(mock.calls) == 0, "nothing is fetched before iterating"
        first = next(verdicts)
        assert isinstance(first, Verdict)
        assert first.id == "vrd_0000"
        assert len(mock.calls) == 1
        assert len(list(islice(verdicts, 9))) == 9
        assert len(mock.calls) == 1, "the tenth item came from the first page"
        next(verdicts)
        assert len(mock.calls) == 2
        rest = list(verdicts)
        assert rest[-1].id == "vrd_0034"
        assert len(mock.calls) == 4


def test_the_filters_are_repeated_with_every_cursor(mock: responses.RequestsMock) -> None:
    since = datetime(2026, 11, 23, 19, 0, tzinfo=timezone(timedelta(hours=1)))
    filters = {
        "domain": "example.com",
        "verdict": ["spam", "phishing"],
        "action": "quarantined",
        "since": "2026-11-23T18:00:00.000000Z",
        "until": "2026-11-24T00:00:00Z",
        "order": "asc",
    }
    add_pages(mock, size=2, total=5, **filters)
    with offline_client(FakeTime()) as client:
        found = client.verdicts.list(
            domain="example.com",
            verdict=[VerdictType.spam, "phishing"],
            action="quarantined",
            since=since,
            until="2026-11-24T00:00:00Z",
            order="asc",
            limit=2,
        )
        assert [v.id for v in found] == [f"vrd_{i:04d}" for i in range(5)]
    assert len(mock.calls) == 3


def test_pages_expose_the_cursor_to_resume_from(mock: responses.RequestsMock) -> None:
    add_pages(mock, size=4, total=10)
    with offline_client(FakeTime()) as client:
        pages = client.verdicts.pages(limit=4)
        first = next(pages)
        assert isinstance(first, Page)
        assert (len(first.data), first.has_more, first.next_cursor) == (4, True, "c4")
        resumed = list(client.verdicts.pages(limit=4, cursor=first.next_cursor))
        assert [p.next_cursor for p in resumed] == ["c8", None]
        one = client.verdicts.page(limit=4, cursor="c8")
        assert [v.id for v in one.data] == ["vrd_0008", "vrd_0009"]
        assert not one.has_more


def test_a_server_that_repeats_its_cursor_does_not_loop_forever(
    mock: responses.RequestsMock,
) -> None:
    stuck = {"data": [verdict(1)], "has_more": True, "next_cursor": "same"}
    mock.add("GET", f"{API}/verdicts", json=stuck)
    with offline_client(FakeTime()) as client, pytest.raises(MalformedResponseError):
        list(client.verdicts.list())
    assert len(mock.calls) == 2
    mock.replace("GET", f"{API}/verdicts", json={**stuck, "next_cursor": None})
    with offline_client(FakeTime()) as client, pytest.raises(MalformedResponseError):
        list(client.verdicts.list())


def test_a_long_collection_is_walked_in_constant_memory(mock: responses.RequestsMock) -> None:
    served: list[int] = []

    def next_page(request: Any) -> tuple[int, dict[str, str], str]:
        import json

        cursor = request.params.get("cursor")
        first = int(cursor[1:]) if cursor else 0
        served.append(first)
        return 200, {}, json.dumps(page(first, 500, 20_000))

    mock.add_callback("GET", f"{API}/verdicts", callback=next_page)
    with offline_client(FakeTime(), per_minute=1000, per_hour=10_000) as client:
        count = 0
        for item in client.verdicts.list(limit=500):
            count += 1
            assert item.subject == f"message {count - 1}"
    assert count == 20_000
    assert served == list(range(0, 20_000, 500))


def test_quarantine_and_domain_lists_take_their_filters(mock: responses.RequestsMock) -> None:
    empty = {"data": [], "has_more": False, "next_cursor": None}
    mock.add(
        "GET",
        f"{API}/quarantine",
        json=empty,
        match=[
            matchers.query_param_matcher(
                {"domain": "example.com", "status": ["held", "released"], "order": "desc"}
            )
        ],
    )
    mock.add(
        "GET",
        f"{API}/domains",
        json=empty,
        match=[
            matchers.query_param_matcher(
                {"since": "2026-01-01T00:00:00.000000Z", "limit": "500", "order": "asc"}
            )
        ],
    )
    with offline_client(FakeTime()) as client:
        held = client.quarantine.list(
            domain="example.com", status=("held", "released"), order="desc"
        )
        assert list(held) == []
        start = datetime(2026, 1, 1, tzinfo=UTC)
        assert list(client.domains.list(since=start, limit=500, order="asc")) == []
    assert len(mock.calls) == 2


def test_a_naive_datetime_is_refused_before_sending(mock: responses.RequestsMock) -> None:
    with offline_client(FakeTime()) as client:
        with pytest.raises(ValueError, match="naive datetime"):
            client.verdicts.list(since=datetime(2026, 1, 1))
        with pytest.raises(ValueError, match="until"):
            client.quarantine.page(until=datetime(2026, 1, 1))
    assert len(mock.calls) == 0


def test_a_filter_a_listing_does_not_take_fails_before_any_request(
    mock: responses.RequestsMock,
) -> None:
    client = offline_client(FakeTime())
    with pytest.raises(TypeError, match="unexpected filter"):
        client.verdicts.page(colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="status"):
        list(client.domains.list(status="held"))  # type: ignore[call-arg]
    assert len(mock.calls) == 0
