"""The bridge's SQLite storage and its secret box: every method round-trips, a token never reaches
the file in clear, a commit writes the cursor and its outbox rows together or not at all, a
customer sees only their own subscriptions, and the delivery worker gets rows in order."""

from __future__ import annotations

import base64
import os
import pickle
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from api_client.errors import MxGuardError
from bridge.models import Attempt, NewDelivery, Subscription, SubscriptionStatus
from bridge.secrets_box import KEY_ENV, KEY_FILE, KeyFileError, SecretBox, WrongKeyError
from bridge.sqlite import APPLICATION_ID, SCHEMA_VERSION, BridgeStorageFileError
from bridge.storage import BridgeStorage, BridgeStorageError, LeaseLostError
from tests.bridge_support import open_storage, raw_execute, sqlite_only, storage_at, stored_bytes
from triggers.cursor import CursorState, SeenChanges

TOKEN = "mxg_live_0123456789abcdefTOKEN"
SECRET = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw=="
T0 = 1_700_000_000_000_000
"""A fixed instant (µs): no test reads the clock."""
S = 1_000_000


@pytest.fixture
def box(tmp_path: Path) -> SecretBox:
    return SecretBox.from_environment(tmp_path, environ={})


@pytest.fixture
def storage(tmp_path: Path, box: SecretBox) -> Iterator[BridgeStorage]:
    with storage_at(tmp_path / "bridge.db", box) as opened:
        yield opened


def subscription(
    number: int,
    *,
    customer: str = "cus_a",
    fingerprint: str = "fp_a",
    event: str = "new_verdict",
    target_url: str = "https://hooks.example.com/a",
    created_at: int = T0,
    status: SubscriptionStatus = SubscriptionStatus.active,
) -> Subscription:
    return Subscription(
        id=f"sub_{number:024x}",
        customer_id=customer,
        token_fingerprint=fingerprint,
        event=event,
        filters={"verdict": ["spam", "phishing"], "domain": "example.com"},
        target_url=target_url,
        secret=SECRET,
        description=f"subscription {number}",
        created_at=created_at,
        status=status,
    )


def delivery(sub: Subscription, item_id: str, timestamp: int, created_at: int = T0) -> NewDelivery:
    return NewDelivery(
        subscription_id=sub.id,
        webhook_id=f"msg_{sub.id[-6:]}_{item_id}",
        event=sub.event,
        item={"id": item_id, "verdict": "spam", "subject": "Grüße"},
        timestamp=timestamp,
        item_id=item_id,
        created_at=created_at,
    )


def attempt(delivery_id: int, sub: Subscription, at: int, **fields: object) -> Attempt:
    values: dict[str, object] = {
        "delivery_id": delivery_id,
        "subscription_id": sub.id,
        "at": at,
        "status_code": 500,
        "latency_ms": 12.5,
        "excerpt": "Internal Server Error",
        "next_attempt_at": at + 5 * S,
    }
    values.update(fields)
    return Attempt(**values)  # type: ignore[arg-type]


def file_bytes(folder: Path) -> bytes:
    """Every byte kept: the SQLite database and its WAL and shared-memory files, or every row
    of the PostgreSQL database."""
    return stored_bytes(folder / "bridge.db")


def state_with_everything() -> CursorState:
    return CursorState(
        floor=T0,
        watermark=T0 + 9 * S,
        seen={"vrd_1": T0 + S, "vrd_2": T0 + 9 * S},
        last_sweep=T0 + 3 * S,
        resume_since=T0 + 2 * S,
        resume_page="page-token-2",
        sweep_started=T0 + 4 * S,
        resume_until=T0 + 8 * S,
        rate=0.25,
        last_poll=T0 + 10 * S,
        spent={T0 // (60 * S): 3, T0 // (60 * S) + 1: 1},
    )


# -- the secret box --------------------------------------------------------------------------------
def test_a_sealed_text_opens_with_the_same_key_and_never_shows_it(box: SecretBox) -> None:
    sealed = box.seal(TOKEN)
    assert TOKEN not in sealed
    assert sealed != box.seal(TOKEN), "a fresh nonce for every seal"
    assert box.open(sealed) == TOKEN
    assert box.open(box.seal("", context="x"), context="x") == ""


def test_a_wrong_key_is_a_clear_typed_error_without_the_plaintext(tmp_path: Path) -> None:
    sealed = SecretBox(b"k" * 32).seal(TOKEN)
    with pytest.raises(WrongKeyError) as caught:
        SecretBox(b"q" * 32, source="the test").open(sealed)
    assert isinstance(caught.value, MxGuardError)
    assert "another key" in str(caught.value)
    assert "the test" in str(caught.value)
    assert TOKEN not in str(caught.value) + repr(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_a_sealed_value_opens_only_in_its_context_and_unaltered() -> None:
    box = SecretBox(b"k" * 32)
    sealed = box.seal(TOKEN, context="token:fp_a")
    with pytest.raises(WrongKeyError):
        box.open(sealed, context="token:fp_b")
    raw = bytearray(base64.urlsafe_b64decode(sealed[3:]))
    raw[20] ^= 1  # one bit of the ciphertext
    flipped = "v1." + base64.urlsafe_b64encode(bytes(raw)).decode()
    for damaged in (flipped, "v1.@@@", "v1.AAAA", "v2." + sealed[3:], ""):
        with pytest.raises(WrongKeyError):
            box.open(damaged, context="token:fp_a")


def test_the_key_file_is_made_private_and_used_again(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # the most permissive umask: the file must still be 0600
    try:
        first = SecretBox.from_environment(tmp_path, environ={})
    finally:
        os.umask(old_umask)
    key_file = tmp_path / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE], "no temporary file left"
    second = SecretBox.from_environment(tmp_path, environ={})
    assert second.open(first.seal(TOKEN)) == TOKEN
    key_text = key_file.read_text().strip()
    assert key_text not in repr(first)
    assert str(key_file) in repr(first)
    with pytest.raises(TypeError):
        pickle.dumps(first)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o660, 0o644])
def test_a_key_file_others_may_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    SecretBox.from_environment(tmp_path, environ={})
    key_file = tmp_path / KEY_FILE
    key_file.chmod(mode)
    with pytest.raises(KeyFileError) as caught:
        SecretBox.from_environment(tmp_path, environ={})
    assert isinstance(caught.value, MxGuardError)
    assert str(key_file) in str(caught.value)
    assert "chmod 600" in str(caught.value)
    assert key_file.read_text().strip() not in str(caught.value)


def test_a_file_that_is_not_a_key_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / KEY_FILE
    key_file.write_text("not a key\n")
    key_file.chmod(0o600)
    with pytest.raises(KeyFileError, match="not a key file"):
        SecretBox.from_environment(tmp_path, environ={})


def test_the_environment_key_wins_and_no_key_file_is_made(tmp_path: Path) -> None:
    key = SecretBox.generate_key()
    box = SecretBox.from_environment(tmp_path, environ={KEY_ENV: key})
    assert not (tmp_path / KEY_FILE).exists()
    assert repr(box) == f"SecretBox(source={KEY_ENV!r})"
    assert key not in repr(box)
    again = SecretBox.from_environment(tmp_path / "elsewhere", environ={KEY_ENV: key + "\n"})
    assert again.open(box.seal(TOKEN)) == TOKEN


def test_a_malformed_environment_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError) as caught:
        SecretBox.from_environment(tmp_path, environ={KEY_ENV: "hunter2-not-a-key"})
    assert KEY_ENV in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_missing_data_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not a folder"):
        SecretBox.from_environment(tmp_path / "missing", environ={})


# -- tokens ----------------------------------------------------------------------------------------
def test_a_token_is_sealed_in_the_file_and_opens_with_the_right_key(
    tmp_path: Path, storage: BridgeStorage, box: SecretBox
) -> None:
    storage.put_token("cus_a", "fp_a", TOKEN)
    storage.add_subscription(subscription(1))
    assert storage.token("fp_a") == TOKEN
    assert storage.token("fp_unknown") is None
    written = file_bytes(tmp_path)
    assert b"fp_a" in written, "the file was read (the fingerprint is kept in clear)"
    assert TOKEN.encode() not in written
    assert SECRET.encode() not in written, "the signing secret is sealed too"
    storage.close()
    assert TOKEN.encode() not in file_bytes(tmp_path)
    with storage_at(tmp_path / "bridge.db", box) as reopened:
        assert reopened.token("fp_a") == TOKEN
        assert reopened.subscriptions("cus_a")[0].secret == SECRET


def test_a_token_is_replaced_under_its_fingerprint(storage: BridgeStorage) -> None:
    storage.put_token("cus_a", "fp_a", TOKEN)
    storage.put_token("cus_a", "fp_a", TOKEN + "-rotated")
    assert storage.token("fp_a") == TOKEN + "-rotated"


def test_tokens_are_listed_all_or_one_customers(storage: BridgeStorage) -> None:
    storage.put_token("cus_b", "fp_b", TOKEN)
    storage.put_token("cus_a", "fp_a2", TOKEN)
    storage.put_token("cus_a", "fp_a1", TOKEN)
    assert [t.fingerprint for t in storage.tokens()] == ["fp_a1", "fp_a2", "fp_b"]
    assert [t.fingerprint for t in storage.tokens("cus_a")] == ["fp_a1", "fp_a2"]
    assert storage.tokens("cus_nobody") == []


def test_another_key_is_refused_when_the_storage_opens(tmp_path: Path, box: SecretBox) -> None:
    """A process with another key (another MXGUARD_BRIDGE_KEY on one machine) is stopped at
    once, before it seals anything the others could not open."""
    with storage_at(tmp_path / "bridge.db", box) as storage:
        storage.put_token("cus_a", "fp_a", TOKEN)
    other = SecretBox(bytes(32), source="another key")
    with pytest.raises(WrongKeyError) as caught:
        open_storage(tmp_path / "bridge.db", other)
    assert "MXGUARD_BRIDGE_KEY" in str(caught.value)
    assert "another key" in str(caught.value)
    assert TOKEN not in str(caught.value)
    with storage_at(tmp_path / "bridge.db", box) as storage:
        assert storage.token("fp_a") == TOKEN, "the right key still opens everything"


def test_a_store_kept_before_the_key_check_gets_one_from_the_right_key_only(
    tmp_path: Path, box: SecretBox
) -> None:
    with storage_at(tmp_path / "bridge.db", box) as storage:
        storage.put_token("cus_a", "fp_a", TOKEN)
    raw_execute(tmp_path / "bridge.db", "DELETE FROM settings")  # as an older bridge left it
    other = SecretBox(bytes(32), source="another key")
    with pytest.raises(WrongKeyError):
        open_storage(tmp_path / "bridge.db", other)  # its kept token does not open
    with storage_at(tmp_path / "bridge.db", box) as storage:
        assert storage.token("fp_a") == TOKEN
    with pytest.raises(WrongKeyError):
        open_storage(tmp_path / "bridge.db", other)  # now the check itself refuses it


def test_an_empty_store_takes_the_first_key(tmp_path: Path) -> None:
    first = SecretBox(bytes(range(32)), source="the first key")
    with storage_at(tmp_path / "bridge.db", first):
        pass
    with pytest.raises(WrongKeyError):
        open_storage(tmp_path / "bridge.db", SecretBox(bytes(32), source="another key"))


def test_a_sealed_token_moved_to_another_row_does_not_open(
    tmp_path: Path, storage: BridgeStorage
) -> None:
    storage.put_token("cus_a", "fp_a", TOKEN)
    storage.put_token("cus_b", "fp_b", "mxg_live_b")
    raw_execute(
        tmp_path / "bridge.db",
        "UPDATE tokens SET sealed = (SELECT sealed FROM tokens WHERE fingerprint = 'fp_a') "
        "WHERE fingerprint = 'fp_b'",
    )
    with pytest.raises(WrongKeyError):
        storage.token("fp_b")


# -- subscriptions ---------------------------------------------------------------------------------
def test_subscriptions_round_trip_oldest_first(storage: BridgeStorage) -> None:
    late = subscription(1, created_at=T0 + 2 * S)
    early = subscription(2, created_at=T0, target_url="https://hooks.example.com/b")
    tie = subscription(3, created_at=T0)
    failing = Subscription(
        **{**subscription(4).__dict__, "status": SubscriptionStatus.failing, "failing_since": T0}
    )
    for sub in (late, early, tie, failing):
        storage.add_subscription(sub)
    assert storage.subscriptions("cus_a") == [early, tie, failing, late]
    assert storage.subscriptions("cus_a", target_url="https://hooks.example.com/b") == [early]
    assert storage.subscriptions("cus_a", target_url="https://nowhere.example.com") == []
    assert storage.subscription("cus_a", failing.id) == failing


def test_a_duplicate_subscription_id_is_a_typed_error(storage: BridgeStorage) -> None:
    storage.add_subscription(subscription(1))
    with pytest.raises(BridgeStorageError, match=r"(?i)unique"):
        storage.add_subscription(subscription(1))


def test_another_customers_subscription_is_invisible(storage: BridgeStorage) -> None:
    theirs = subscription(1, customer="cus_b", fingerprint="fp_b")
    storage.add_subscription(theirs)
    storage.commit("s", CursorState.starting_at(T0), SeenChanges(), [delivery(theirs, "i1", T0)])
    [row] = storage.due(T0, 10)
    storage.record_attempt(attempt(row.id, theirs, T0), delivered=False)
    storage.set_status(theirs.id, SubscriptionStatus.disabled, T0)

    assert storage.subscription("cus_a", theirs.id) is None
    assert storage.subscriptions("cus_a") == []
    assert storage.attempts("cus_a", theirs.id, 10) == []
    assert storage.remove_subscription("cus_a", theirs.id) is False
    assert storage.recover("cus_a", theirs.id, T0) == 0

    kept = storage.subscription("cus_b", theirs.id)
    assert kept is not None
    assert kept.status is SubscriptionStatus.disabled, "their recover was refused"
    assert len(storage.attempts("cus_b", theirs.id, 10)) == 1


def test_removing_drops_the_undelivered_rows_and_later_ones(storage: BridgeStorage) -> None:
    sub, other = subscription(1), subscription(2)
    storage.add_subscription(sub)
    storage.add_subscription(other)
    rows = [delivery(sub, "i1", T0), delivery(sub, "i2", T0 + S), delivery(other, "i1", T0)]
    storage.commit("s", CursorState.starting_at(T0), SeenChanges(), rows)
    first = storage.due(T0, 10)[0]
    storage.record_attempt(
        attempt(first.id, sub, T0, status_code=200, next_attempt_at=None), delivered=True
    )

    assert storage.remove_subscription("cus_a", sub.id) is True
    assert storage.subscription("cus_a", sub.id) is None
    assert [d.subscription_id for d in storage.due(T0 + S, 10)] == [other.id]
    assert storage.remove_subscription("cus_a", sub.id) is False
    storage.commit("s", CursorState.starting_at(T0), SeenChanges(), [delivery(sub, "i3", T0)])
    assert [d.subscription_id for d in storage.due(T0 + S, 10)] == [other.id]


def test_status_streams_and_subscribers(storage: BridgeStorage) -> None:
    a1 = subscription(1)
    a2 = subscription(2, target_url="https://hooks.example.com/2")
    quarantine = subscription(3, event="new_quarantined_message")
    other_token = subscription(4, customer="cus_b", fingerprint="fp_b", created_at=T0 - S)
    for sub in (a1, a2, quarantine, other_token):
        storage.add_subscription(sub)
    assert storage.streams() == [
        ("fp_a", "new_quarantined_message"),
        ("fp_a", "new_verdict"),
        ("fp_b", "new_verdict"),
    ]

    storage.set_status(quarantine.id, SubscriptionStatus.disabled, T0)
    storage.set_status(a1.id, SubscriptionStatus.failing, T0 + S)
    assert storage.streams() == [("fp_a", "new_verdict"), ("fp_b", "new_verdict")]
    changed = storage.subscription("cus_a", a1.id)
    assert changed is not None
    assert (changed.status, changed.failing_since) == (SubscriptionStatus.failing, T0 + S)

    assert storage.subscribers("fp_a", "new_verdict") == [changed, a2]
    [disabled] = storage.subscribers("fp_a", "new_quarantined_message")
    assert disabled.status is SubscriptionStatus.disabled, "offered: its items wait for recover"
    assert storage.subscribers("fp_a", "new_domain") == []


# -- cursors and commits ---------------------------------------------------------------------------
def test_a_cursor_round_trips_with_every_field(tmp_path: Path, box: SecretBox) -> None:
    with storage_at(tmp_path / "bridge.db", box) as storage:
        assert storage.load_cursor("new_verdict:fp_a") is None
        state = state_with_everything()
        storage.commit("new_verdict:fp_a", state, SeenChanges(added=dict(state.seen)), [])
        assert storage.load_cursor("new_verdict:fp_a") == state
        assert storage.load_cursor("new_verdict:fp_b") is None
        looked = storage.load_cursor("new_verdict:fp_a", with_seen=False)
        assert state.seen, "the state has ids to leave out"
        assert looked == replace(state, seen={}), "everything but the ids"
    with storage_at(tmp_path / "bridge.db", box) as storage:
        assert storage.load_cursor("new_verdict:fp_a") == state


def test_a_commit_writes_only_the_changes_of_seen(storage: BridgeStorage) -> None:
    state = state_with_everything()
    storage.commit("k", state, SeenChanges(added=dict(state.seen)), [])
    state.seen = {"vrd_2": T0 + 9 * S, "vrd_3": T0 + 10 * S}
    state.resume_since = state.resume_page = state.sweep_started = state.resume_until = None
    storage.commit(
        "k", state, SeenChanges(added={"vrd_3": T0 + 10 * S}, removed_before=T0 + 2 * S), []
    )
    assert storage.load_cursor("k") == state


def test_a_commit_writes_the_cursor_and_the_outbox_rows_or_neither(
    storage: BridgeStorage,
) -> None:
    sub = subscription(1)
    storage.add_subscription(sub)
    before = CursorState.starting_at(T0)
    storage.commit("k", before, SeenChanges(), [])

    moved = state_with_everything()
    broken = NewDelivery(**{**delivery(sub, "i2", T0).__dict__, "item_id": cast(str, None)})
    with pytest.raises(BridgeStorageError) as caught:
        storage.commit(
            "k", moved, SeenChanges(added=dict(moved.seen)), [delivery(sub, "i1", T0), broken]
        )
    assert "not null" in str(caught.value).lower().replace("-", " ")
    assert storage.location in str(caught.value)
    assert storage.load_cursor("k") == before, "the cursor did not move"
    assert storage.due(T0 + S, 10) == [], "the good row of the page was not written either"

    storage.commit("k", moved, SeenChanges(added=dict(moved.seen)), [delivery(sub, "i1", T0)])
    assert storage.load_cursor("k") == moved
    assert [d.item_id for d in storage.due(T0 + S, 10)] == ["i1"]


def test_a_page_committed_again_does_not_duplicate_its_rows(storage: BridgeStorage) -> None:
    sub = subscription(1)
    storage.add_subscription(sub)
    page = [delivery(sub, "i1", T0), delivery(sub, "i2", T0 + S)]
    storage.commit("k", CursorState.starting_at(T0), SeenChanges(), page)
    [first, second] = storage.due(T0, 10)
    storage.record_attempt(attempt(first.id, sub, T0, status_code=200), delivered=True)

    again = [delivery(sub, "i1", T0, created_at=T0 + 60 * S), delivery(sub, "i2", T0 + S)]
    storage.commit("k", CursorState.starting_at(T0), SeenChanges(), again)
    assert storage.due(T0 + 120 * S, 10) == [second], "one row each, the delivered one kept so"


def test_a_delivery_round_trips(storage: BridgeStorage) -> None:
    sub = subscription(1)
    storage.add_subscription(sub)
    new = delivery(sub, "vrd_1", T0 - S, created_at=T0)
    storage.commit("k", CursorState.starting_at(T0), SeenChanges(), [new])
    [row] = storage.due(T0, 10)
    assert NewDelivery(**{k: v for k, v in row.__dict__.items() if k in new.__dict__}) == new
    assert (row.attempts, row.next_attempt_at, row.delivered_at) == (0, T0, None)
    assert row.id > 0


# -- the delivery worker ---------------------------------------------------------------------------
def test_due_rows_are_in_order_within_each_subscription(storage: BridgeStorage) -> None:
    a, b = subscription(1), subscription(2)
    storage.add_subscription(b)
    storage.add_subscription(a)
    rows = [
        delivery(b, "z", T0 + 2 * S),
        delivery(a, "y", T0 + S),
        delivery(a, "x", T0 + S),
        delivery(a, "w", T0 + 3 * S),
        delivery(a, "later", T0, created_at=T0 + 50 * S),
    ]
    storage.commit("k", CursorState.starting_at(T0), SeenChanges(), rows)
    due = storage.due(T0 + 10 * S, 10)
    assert [(d.subscription_id, d.item_id) for d in due] == [
        (a.id, "x"),
        (a.id, "y"),
        (a.id, "w"),
        (b.id, "z"),
    ], "ordered by subscription, then (timestamp, id); a row not due yet is left out"
    assert [d.item_id for d in storage.due(T0 + 50 * S, 10)] == ["later", "x", "y", "w", "z"]
    assert [d.item_id for d in storage.due(T0 + 10 * S, 2)] == ["x", "z"], (
        "under the limit, each subscription's first rows come first"
    )
    assert storage.due(T0 + 10 * S, 0) == []
    assert storage.due(T0 - S, 10) == []


def test_a_failing_subscription_offers_only_its_oldest_row(storage: BridgeStorage) -> None:
    failing, active = subscription(1), subscription(2)
    storage.add_subscription(failing)
    storage.add_subscription(active)
    rows = [delivery(failing, f"f{i}", T0 + i * S) for i in range(3)]
    rows += [delivery(active, f"a{i}", T0 + i * S) for i in range(3)]
    storage.commit("k", CursorState.starting_at(T0), SeenChanges(), rows)
    oldest = storage.due(T0, 10)[0]
    assert oldest.item_id == "f0"

    storage.record_attempt(
        attempt(oldest.id, failing, T0 + S, next_attempt_at=T0 + 60 * S), delivered=False
    )
    storage.set_status(failing.id, SubscriptionStatus.failing, T0 + S)
    assert [d.item_id for d in storage.due(T0 + 10 * S, 10)] == ["a0", "a1", "a2"], (
        "the failing one's oldest row is not due yet, and nothing passes it"
    )
    [retry, *_] = storage.due(T0 + 60 * S, 10)
    assert (retry.item_id, retry.attempts, retry.next_attempt_at) == ("f0", 1, T0 + 60 * S)
    assert [d.item_id for d in storage.due(T0 + 60 * S, 10)] == ["f0", "a0", "a1", "a2"]

    storage.record_attempt(
        attempt(oldest.id, failing, T0 + 60 * S, status_code=204, next_attempt_at=None),
        delivered=True,
    )
    assert [d.item_id for d in storage.due(T0 + 60 * S, 10)][:1] == ["f1"]
    storage.set_status(failing.id, SubscriptionStatus.active, None)
    assert [d.item_id for d in storage.due(T0 + 60 * S, 10)][:2] == ["f1", "f2"]

    storage.set_status(failing.id, SubscriptionStatus.disabled, T0)
    assert {d.subscription_id for d in storage.due(T0 + 60 * S, 10)} == {active.id}


def test_attempts_are_kept_newest_first(storage: BridgeStorage) -> None:
    sub = subscription(1)
    storage.add_subscription(sub)
    storage.commit("k", CursorState.starting_at(T0), SeenChanges(), [delivery(sub, "i1", T0)])
    [row] = storage.due(T0, 10)
    failed = attempt(row.id, sub, T0, status_code=None, excerpt="connection refused")
    throttled = attempt(
        row.id,
        sub,
        T0 + 5 * S,
        status_code=429,
        next_attempt_at=T0 + 65 * S,
        extra={"retry_after": 60},
    )
    ok = attempt(row.id, sub, T0 + 65 * S, status_code=200, excerpt="ok", next_attempt_at=None)
    storage.record_attempt(failed, delivered=False)
    storage.record_attempt(throttled, delivered=False)
    assert storage.due(T0 + 64 * S, 10) == []
    storage.record_attempt(ok, delivered=True)
    assert storage.attempts("cus_a", sub.id, 10) == [ok, throttled, failed]
    assert storage.attempts("cus_a", sub.id, 2) == [ok, throttled]
    assert storage.due(T0 + 3600 * S, 10) == []


def test_a_given_up_row_keeps_its_time(storage: BridgeStorage) -> None:
    sub = subscription(1)
    storage.add_subscription(sub)
    storage.commit("k", CursorState.starting_at(T0), SeenChanges(), [delivery(sub, "i1", T0)])
    [row] = storage.due(T0, 10)
    gone = attempt(row.id, sub, T0 + S, status_code=410, next_attempt_at=None)
    storage.record_attempt(gone, delivered=False)
    [kept] = storage.due(T0 + S, 10)
    assert (kept.attempts, kept.next_attempt_at, kept.delivered_at) == (1, T0, None)


def test_recover_makes_rows_since_then_due_and_re_enables(storage: BridgeStorage) -> None:
    sub = subscription(1)
    storage.add_subscription(sub)
    rows = [
        delivery(sub, "old", T0, created_at=T0),
        delivery(sub, "new1", T0 + S, created_at=T0 + 100 * S),
        delivery(sub, "new2", T0 + 2 * S, created_at=T0 + 200 * S),
        delivery(sub, "sent", T0 + 3 * S, created_at=T0 + 200 * S),
    ]
    storage.commit("k", CursorState.starting_at(T0), SeenChanges(), rows)
    by_item = {d.item_id: d for d in storage.due(T0 + 200 * S, 10)}
    storage.record_attempt(attempt(by_item["sent"].id, sub, T0 + 200 * S), delivered=True)
    for name in ("new1", "new2"):
        later = attempt(by_item[name].id, sub, T0 + 200 * S, next_attempt_at=T0 + 9000 * S)
        storage.record_attempt(later, delivered=False)
    storage.set_status(sub.id, SubscriptionStatus.disabled, T0 + 100 * S)
    assert storage.due(T0 + 10_000 * S, 10) == []

    assert storage.recover("cus_a", sub.id, T0 + 100 * S, now=T0 + 300 * S) == 2
    recovered = storage.subscription("cus_a", sub.id)
    assert recovered is not None
    assert (recovered.status, recovered.failing_since) == (SubscriptionStatus.active, None)
    due = storage.due(T0 + 300 * S, 10)
    assert [(d.item_id, d.next_attempt_at) for d in due] == [
        ("old", T0),
        ("new1", T0 + 300 * S),
        ("new2", T0 + 300 * S),
    ]


def test_recover_without_a_clock_makes_rows_due_at_their_creation(
    storage: BridgeStorage,
) -> None:
    sub = subscription(1)
    storage.add_subscription(sub)
    storage.commit("k", CursorState.starting_at(T0), SeenChanges(), [delivery(sub, "i1", T0)])
    [row] = storage.due(T0, 10)
    storage.record_attempt(attempt(row.id, sub, T0, next_attempt_at=T0 + 9000 * S), delivered=False)
    storage.set_status(sub.id, SubscriptionStatus.failing, T0)
    protocol: BridgeStorage = storage
    assert protocol.recover("cus_a", sub.id, T0) == 1
    assert [d.next_attempt_at for d in storage.due(T0 + S, 10)] == [T0]
    assert storage.recover("cus_a", sub.id, T0 + S) == 0


# -- the file --------------------------------------------------------------------------------------
@sqlite_only
def test_the_file_is_private_and_in_wal_mode(tmp_path: Path, storage: BridgeStorage) -> None:
    storage.put_token("cus_a", "fp_a", TOKEN)
    for path in tmp_path.glob("bridge.db*"):
        if not path.name.endswith(".lock"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    db = sqlite3.connect(tmp_path / "bridge.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


@sqlite_only
def test_a_file_that_is_not_a_bridge_file_is_refused(tmp_path: Path, box: SecretBox) -> None:
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (a)")
    db.close()
    empty = tmp_path / "empty.db"
    empty.touch()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for path in (other, empty, text, tmp_path, tmp_path / "missing" / "bridge.db"):
        with pytest.raises(BridgeStorageFileError) as caught:
            open_storage(path, box)
        assert str(path.parent if "missing" in str(path) else path) in str(caught.value)


def test_threads_share_one_storage(storage: BridgeStorage) -> None:
    subs = [subscription(n) for n in range(4)]
    for sub in subs:
        storage.add_subscription(sub)
    problems: list[BaseException] = []

    def pump(sub: Subscription) -> None:
        try:
            for page in range(25):
                state = CursorState.starting_at(T0)
                state.watermark = T0 + page
                rows = [delivery(sub, f"i{page}", T0 + page)]
                storage.commit(f"k{sub.id}", state, SeenChanges(added={f"i{page}": T0}), rows)
                storage.due(T0 + S, 5)
                storage.subscriptions("cus_a")
        except BaseException as error:
            problems.append(error)

    threads = [threading.Thread(target=pump, args=(sub,)) for sub in subs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []
    assert len(storage.due(T0 + S, 1000)) == 100
    loaded = storage.load_cursor(f"k{subs[0].id}")
    assert loaded is not None
    assert (loaded.watermark, len(loaded.seen)) == (T0 + 24, 25)


# -- leases ----------------------------------------------------------------------------------------
def test_a_lease_is_held_renewed_taken_over_when_expired_and_fenced(
    storage: BridgeStorage,
) -> None:
    mine = storage.acquire_lease("token:fp_a", "w1", ttl_s=60)
    assert mine is not None
    assert storage.acquire_lease("token:fp_a", "w2", ttl_s=60) is None, "held by w1"
    assert storage.acquire_lease("token:fp_a", "w1", ttl_s=60) == mine, "renewed: same fence"
    assert [lease.holder for lease in storage.live_leases("token:")] == ["w1"]
    storage.commit("k", CursorState.starting_at(T0), SeenChanges(), [], lease=mine)

    expiring = storage.acquire_lease("token:fp_a", "w1", ttl_s=0.2)
    assert expiring == mine
    wait_until_expired = time.monotonic() + 10
    while storage.live_leases("token:") and time.monotonic() < wait_until_expired:
        time.sleep(0.05)
    theirs = storage.acquire_lease("token:fp_a", "w2", ttl_s=60)
    assert theirs is not None
    assert theirs.fence > mine.fence, "a takeover moves the fence on"
    sub = subscription(1)
    storage.add_subscription(sub)
    moved = state_with_everything()
    with pytest.raises(LeaseLostError, match="taken over"):
        storage.commit("k", moved, SeenChanges(), [delivery(sub, "i1", T0)], lease=mine)
    assert storage.load_cursor("k") == CursorState.starting_at(T0), "nothing written"
    assert storage.due(T0 + S, 10) == []
    storage.commit("k", moved, SeenChanges(added=dict(moved.seen)), [], lease=theirs)
    assert storage.load_cursor("k") == moved


def test_a_released_lease_is_free_at_once_and_an_expired_one_refuses_commits(
    storage: BridgeStorage,
) -> None:
    first = storage.acquire_lease("token:fp_b", "w1", ttl_s=60)
    assert first is not None
    storage.release_lease(first)
    assert storage.live_leases("token:") == []
    second = storage.acquire_lease("token:fp_b", "w2", ttl_s=0.2)
    assert second is not None
    assert second.fence == first.fence + 1
    deadline = time.monotonic() + 10
    while storage.live_leases("token:") and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(LeaseLostError, match="expired"):
        storage.commit("k", CursorState.starting_at(T0), SeenChanges(), [], lease=second)


# -- migrations ------------------------------------------------------------------------------------
VERSION_1 = """
CREATE TABLE tokens (
    fingerprint TEXT PRIMARY KEY, customer_id TEXT NOT NULL, sealed TEXT NOT NULL);
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, token_fingerprint TEXT NOT NULL,
    event TEXT NOT NULL, filters TEXT NOT NULL, target_url TEXT NOT NULL,
    sealed_secret TEXT NOT NULL, description TEXT NOT NULL, created_at INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'failing', 'disabled')),
    failing_since INTEGER);
CREATE TABLE streams (
    number INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, floor INTEGER NOT NULL,
    watermark INTEGER NOT NULL, last_sweep INTEGER, resume_since INTEGER, resume_page TEXT,
    sweep_started INTEGER, resume_until INTEGER, rate REAL NOT NULL, last_poll INTEGER,
    spent TEXT NOT NULL);
CREATE TABLE stream_seen (
    number INTEGER NOT NULL, ts INTEGER NOT NULL, item_id TEXT NOT NULL,
    PRIMARY KEY (number, ts, item_id)) WITHOUT ROWID;
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, subscription_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL, event TEXT NOT NULL, item TEXT NOT NULL,
    timestamp INTEGER NOT NULL, item_id TEXT NOT NULL, created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
    delivered_at INTEGER, UNIQUE (subscription_id, webhook_id));
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id INTEGER NOT NULL,
    subscription_id TEXT NOT NULL, at INTEGER NOT NULL, status_code INTEGER,
    latency_ms REAL NOT NULL, excerpt TEXT NOT NULL, next_attempt_at INTEGER,
    extra TEXT NOT NULL);
"""
"""The schema of the first bridge release (version 1), as its files hold it."""


@sqlite_only
def test_a_version_1_file_is_upgraded_with_its_data(tmp_path: Path, box: SecretBox) -> None:
    path = tmp_path / "bridge.db"
    old = sqlite3.connect(path)
    old.executescript(VERSION_1)
    sealed = box.seal(TOKEN, context="token:fp_a")
    old.execute("INSERT INTO tokens VALUES ('fp_a', 'cus_a', ?)", (sealed,))
    old.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    with storage_at(path, box) as upgraded:
        assert upgraded.token("fp_a") == TOKEN, "the data is kept"
        assert [t.added_by for t in upgraded.tokens()] == ["subscription"]
        assert upgraded.acquire_lease("token:fp_a", "w1", ttl_s=60) is not None
        assert upgraded.budget_report("fp_a") is None  # the console's reports table is there
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    check.close()


@sqlite_only
def test_a_file_of_a_newer_version_is_refused_not_recreated(tmp_path: Path, box: SecretBox) -> None:
    path = tmp_path / "bridge.db"
    with storage_at(path, box) as made:
        made.put_token("cus_a", "fp_a", TOKEN)
    newer = sqlite3.connect(path)
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer.commit()
    newer.close()
    with pytest.raises(BridgeStorageFileError, match="another version"):
        open_storage(path, box)
    with sqlite3.connect(path) as kept:
        assert kept.execute("SELECT count(*) FROM tokens").fetchone()[0] == 1
