"""What only the PostgreSQL storage does (``tox -e pg``): its version table (an older database
upgraded, a newer one or another program's tables refused, never recreated), several processes
setting the schema up at once, and deliveries claimed per subscription so that two workers never
send the same subscription's rows at the same time."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from bridge.models import NewDelivery, Subscription
from bridge.postgres import SCHEMA_VERSION, PostgresBridgeStorage, PostgresStorageError
from bridge.secrets_box import SecretBox
from tests.bridge_support import ON_POSTGRES, database_at
from triggers.cursor import CursorState, SeenChanges

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL only (tox -e pg)")

T0 = 1_700_000_000_000_000
S = 1_000_000


@pytest.fixture
def box(tmp_path: Path) -> SecretBox:
    return SecretBox.from_environment(tmp_path, environ={})


def sub(number: int) -> Subscription:
    return Subscription(
        id=f"sub_{number:024x}",
        customer_id="cus_a",
        token_fingerprint="fp_a",
        event="new_verdict",
        filters={},
        target_url=f"https://hooks.example.com/{number}",
        secret="whsec_" + "A" * 43 + "=",
        created_at=T0,
    )


def test_a_newer_database_is_refused_and_kept(tmp_path: Path, box: SecretBox) -> None:
    url = database_at(tmp_path / "newer")
    with PostgresBridgeStorage(url, box) as storage:
        storage.put_token("cus_a", "fp_a", "mxg_live_x")
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("UPDATE bridge_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(PostgresStorageError, match="version"):
        PostgresBridgeStorage(url, box)
    with psycopg.connect(url) as db:
        row = db.execute("SELECT count(*) FROM tokens").fetchone()
    assert row == (1,)


def test_a_version_1_database_is_upgraded_with_its_data(tmp_path: Path, box: SecretBox) -> None:
    url = database_at(tmp_path / "older")
    with PostgresBridgeStorage(url, box) as storage:
        storage.put_token("cus_a", "fp_a", "mxg_live_x")
    with psycopg.connect(url, autocommit=True) as db:  # as the first release left it
        db.execute("DROP TABLE settings")
        db.execute("DROP TABLE reports")
        db.execute("UPDATE bridge_schema SET version = 1")
    with PostgresBridgeStorage(url, box) as upgraded:
        assert upgraded.token("fp_a") == "mxg_live_x", "the data is kept"
    with psycopg.connect(url) as db:
        assert db.execute("SELECT version FROM bridge_schema").fetchall() == [(SCHEMA_VERSION,)]
        names = db.execute("SELECT name FROM settings").fetchall()
        reports = db.execute("SELECT count(*) FROM reports").fetchone()
    assert names == [("key-check",)], "the upgrade made the table, and the key check is in it"
    assert reports == (0,), "the upgrade made the console's reports table"


def test_another_programs_tables_are_refused(tmp_path: Path, box: SecretBox) -> None:
    url = database_at(tmp_path / "foreign")
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE subscriptions (id TEXT)")
    with pytest.raises(PostgresStorageError, match="database of its own"):
        PostgresBridgeStorage(url, box)


def test_the_password_never_shows(tmp_path: Path, box: SecretBox) -> None:
    url = database_at(tmp_path / "pw").replace("postgres@", "postgres:hunter2-secret@")
    bad_port = url.rsplit(":", 1)[0].rsplit("@", 1)[0] + "@127.0.0.1:9/nothing"
    with pytest.raises(PostgresStorageError) as caught:
        PostgresBridgeStorage(bad_port, box, pool_size=1)
    assert "hunter2" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


def test_several_processes_set_up_one_schema(tmp_path: Path, box: SecretBox) -> None:
    url = database_at(tmp_path / "racing")
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            PostgresBridgeStorage(url, box, pool_size=1).close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with psycopg.connect(url) as db:
        assert db.execute("SELECT version FROM bridge_schema").fetchall() == [(SCHEMA_VERSION,)]


def test_two_workers_never_hold_one_subscriptions_rows(tmp_path: Path, box: SecretBox) -> None:
    url = database_at(tmp_path / "claims")
    first = PostgresBridgeStorage(url, box, worker_id="w1", claim_s=60)
    second = PostgresBridgeStorage(url, box, worker_id="w2", claim_s=60)
    try:
        subs = [sub(n) for n in range(30)]
        rows = []
        for s in subs:
            first.add_subscription(s)
            for k in range(3):
                rows.append(
                    NewDelivery(
                        subscription_id=s.id,
                        webhook_id=f"msg_{s.id}_{k}",
                        event="new_verdict",
                        item={"id": f"i{k}"},
                        timestamp=T0 + k,
                        item_id=f"i{k}",
                        created_at=T0,
                    )
                )
        first.commit("k", CursorState.starting_at(T0), SeenChanges(), rows)
        mine = first.due(T0 + S, 1000)
        theirs = second.due(T0 + S, 1000)
        mine_subs = {d.subscription_id for d in mine}
        theirs_subs = {d.subscription_id for d in theirs}
        assert mine_subs
        assert theirs_subs
        assert not mine_subs & theirs_subs, "a subscription is claimed by one worker"
        assert all(len([d for d in mine if d.subscription_id == s]) == 3 for s in mine_subs)
        # the first worker's next call ends its claims; the others stay the second's
        again = {d.subscription_id for d in first.due(T0 + S, 1000)}
        assert not again & theirs_subs
    finally:
        first.close()
        second.close()
