"""The SQLite cursor file: opened by many processes at once, keyed so a cursor survives a rotated
token, reordered filters and another spelling of the URL, and failing with the cause named."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from api_client import MxGuardClient
from connector.cursor_store import CursorStoreError, SQLiteCursorStore
from connector.polling import legacy_cursor_key, open_cursor
from sandbox.server import SandboxServer
from tests.support import Account, SandboxAdmin
from triggers.cursor import CursorState, SeenChanges
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT
from triggers.polling.new_verdict import VerdictFilters

OPENERS = 6
ROUNDS = 15


def _open_at_once(args: tuple[str, int]) -> str:
    folder, rounds = args
    problems = []
    for number in range(rounds):
        try:
            SQLiteCursorStore(Path(folder) / f"new-{number}.db").close()
        except Exception as error:
            problems.append(f"{type(error).__name__}: {error}")
    return "; ".join(problems)


def test_many_processes_opening_one_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(OPENERS) as pool:
        problems = pool.map(_open_at_once, [(str(tmp_path), ROUNDS)] * OPENERS)
    assert [p for p in problems if p] == []
    assert len(list(tmp_path.glob("new-*.db"))) == ROUNDS


def test_a_full_disk_names_the_cause_and_the_path(tmp_path: Path) -> None:
    path = tmp_path / "cursors.db"
    store = SQLiteCursorStore(path)
    state = CursorState.starting_at(0)
    store.commit("k", state, SeenChanges())
    store._db.execute("PRAGMA max_page_count = 1")  # what SQLite does when the disk is full
    many = {f"vrd_{i:06d}": i for i in range(5_000)}
    state.seen.update(many)
    with pytest.raises(CursorStoreError) as caught:
        store.commit("k", state, SeenChanges(added=many))
    assert "database or disk is full" in str(caught.value)
    assert str(path) in str(caught.value)
    store._db.execute("PRAGMA max_page_count = 1073741823")
    assert store.load("k") == CursorState.starting_at(0), "the failed commit changed nothing"


def test_an_older_file_is_migrated_with_its_cursors(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE cursors (number INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, "
            "floor INTEGER NOT NULL, watermark INTEGER NOT NULL, last_sweep INTEGER);"
            "CREATE TABLE cursor_seen (number INTEGER NOT NULL, ts INTEGER NOT NULL, "
            "item_id TEXT NOT NULL, PRIMARY KEY (number, ts, item_id)) WITHOUT ROWID;"
            "INSERT INTO cursors VALUES (1, 'k', 10, 20, 15);"
            "INSERT INTO cursor_seen VALUES (1, 20, 'vrd_1');"
            "PRAGMA user_version = 2;"
        )
    with SQLiteCursorStore(path) as store:
        assert store.load("k") == CursorState(10, 20, {"vrd_1": 20}, last_sweep=15)


def _poll_key(store: SQLiteCursorStore, base_url: str, token: str, filters: VerdictFilters) -> str:
    with MxGuardClient(token, base_url, rate_limit_db=":memory:") as client:
        return open_cursor(store, NEW_VERDICT, client, filters).key


def test_a_cursor_survives_a_rotated_token_reordered_filters_and_another_url_spelling(
    sandbox: SandboxServer, admin: SandboxAdmin, account: Account, tmp_path: Path
) -> None:
    rotated = admin.call("POST", "/tokens", {"customer_id": account.customer_id})["token"]
    spam_clean = VerdictFilters.model_validate({"verdict": ["spam", "clean"]})
    clean_spam = VerdictFilters.model_validate({"verdict": ["clean", "spam", "clean"]})
    localhost = sandbox.base_url.replace("127.0.0.1", "localhost") + "/"
    with SQLiteCursorStore(tmp_path / "c.db") as store:
        key = _poll_key(store, sandbox.base_url, account.token, spam_clean)
        assert _poll_key(store, sandbox.base_url, rotated, spam_clean) == key
        assert _poll_key(store, sandbox.base_url, account.token, clean_spam) == key
        assert _poll_key(store, localhost, account.token, spam_clean) == key
        other = admin.new_account(domains=("example.com",))
        assert _poll_key(store, sandbox.base_url, other.token, spam_clean) != key


def test_a_new_cursor_says_which_others_of_the_trigger_exist(
    sandbox: SandboxServer, account: Account, tmp_path: Path
) -> None:
    with (
        SQLiteCursorStore(tmp_path / "c.db") as store,
        MxGuardClient(account.token, sandbox.base_url, rate_limit_db=":memory:") as client,
    ):
        spam = VerdictFilters.model_validate({"verdict": ["spam"]})
        first = open_cursor(store, NEW_VERDICT, client, spam)
        assert first.notes == []
        store.commit(first.key, CursorState.starting_at(0), SeenChanges())
        second = open_cursor(store, NEW_VERDICT, client, VerdictFilters())
        assert "a new cursor starts" in second.notes[0]
        assert "filters" in second.notes[1]
        assert "spam" in second.notes[1]


def test_a_cursor_under_the_first_layout_of_keys_is_carried_over(
    sandbox: SandboxServer, account: Account, tmp_path: Path
) -> None:
    with (
        SQLiteCursorStore(tmp_path / "c.db") as store,
        MxGuardClient(account.token, sandbox.base_url, rate_limit_db=":memory:") as client,
    ):
        old = legacy_cursor_key(NEW_VERDICT, client, VerdictFilters())
        store.commit(old, CursorState.starting_at(123), SeenChanges())
        opened = open_cursor(store, NEW_VERDICT, client, VerdictFilters())
        assert opened.notes == ["cursor carried over from an older file layout"]
        assert store.load(opened.key) == CursorState.starting_at(123)
        assert store.load(old) is None
