"""What the SQLite and the PostgreSQL storage share: the statements and the rows' mapping.

Both keep the same tables and answer ``bridge.storage.BridgeStorage`` the same way; they differ in
how they connect, set their schema up, keep leases (SQLite on the process's clock, PostgreSQL on
the database's) and hand deliveries out (PostgreSQL claims them per worker). Statements are
written once, with ``?`` placeholders; ``_sql`` gives each backend its own. Secrets are sealed
with the ``SecretBox`` before they reach a row, bound to that row (the fingerprint, the
subscription id), so a sealed value copied onto another row does not open.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict
from typing import Any, Protocol, Self

from bridge.models import (
    Attempt,
    BudgetReport,
    Delivery,
    Lease,
    NewDelivery,
    StoredToken,
    StreamReport,
    Subscription,
    SubscriptionStatus,
)
from bridge.secrets_box import KEY_ENV, SecretBox, WrongKeyError
from bridge.storage import SUBSCRIPTION, LeaseLostError
from triggers.cursor import CursorState, SeenChanges
from triggers.state_rows import (
    STATE_COLUMNS,
    STATE_PLACEHOLDERS,
    STATE_UPDATE,
    state_from,
    state_values,
)

STREAM_REPORT = "stream"
BUDGET_REPORT = "budget"
"""The kinds of row in ``reports``."""
KEY_CHECK = "key-check"
"""The ``settings`` row (and the sealing context) of the key check."""
SUBSCRIPTION_COLUMNS = (
    "id, customer_id, token_fingerprint, event, filters, target_url, sealed_secret, "
    "description, created_at, status, failing_since"
)
DELIVERY_COLUMNS = (
    "id, subscription_id, webhook_id, event, item, timestamp, item_id, created_at, attempts, "
    "next_attempt_at, delivered_at"
)


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What both drivers' connections offer and the shared methods use."""

    def execute(self, sql: Any, parameters: Any = ..., /) -> Any: ...

    def cursor(self) -> Any: ...


def statements(script: str) -> list[str]:
    """The statements of a schema or migration script, one by one (each backend runs them in
    its own transaction: SQLite's ``executescript`` would commit first)."""
    return [s for s in (part.strip() for part in script.split(";")) if s]


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def delivery_from(row: Any) -> Delivery:
    """A ``DELIVERY_COLUMNS`` row."""
    return Delivery(
        id=row[0],
        subscription_id=row[1],
        webhook_id=row[2],
        event=row[3],
        item=json.loads(row[4]),
        timestamp=row[5],
        item_id=row[6],
        created_at=row[7],
        attempts=row[8],
        next_attempt_at=row[9],
        delivered_at=row[10],
    )


class SqlBridgeStorage(ABC):
    """The shared half of a SQL storage; subclasses connect, set up, lease and hand out."""

    PLACEHOLDER = "?"
    ADDED_ORDER = "rowid"
    """What orders subscriptions made in the same microsecond: the order they were added."""

    def __init__(self, box: SecretBox) -> None:
        self._box = box

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what a backend provides ---------------------------------------------------------------
    @property
    @abstractmethod
    def location(self) -> str: ...

    @abstractmethod
    def _writing(self, doing: str) -> AbstractContextManager[Connection]:
        """One write transaction: committed at the end, rolled back when the block raises; the
        driver's errors become ``BridgeStorageError``s saying ``doing`` and where."""

    @abstractmethod
    def _snapshot(self, doing: str) -> AbstractContextManager[Connection]:
        """Several reads that see one state of the data, taking no write lock."""

    @abstractmethod
    def _read(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]: ...

    @abstractmethod
    def _check_lease(self, db: Connection, lease: Lease) -> None:
        """Inside a write transaction: ``LeaseLostError`` unless ``lease`` is still held."""

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.PLACEHOLDER)

    def _run(self, db: Connection, statement: str, parameters: tuple[Any, ...] = ()) -> Any:
        return db.execute(self._sql(statement), parameters)

    def _run_many(self, db: Connection, statement: str, rows: Iterator[tuple[Any, ...]]) -> None:
        """One statement for many rows, batched by the driver."""
        batch = list(rows)
        if batch:
            db.cursor().executemany(self._sql(statement), batch)

    def _select(self, statement: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        return self._read(self._sql(statement), parameters)

    # -- the key -----------------------------------------------------------------------------------
    def check_key(self) -> None:
        """Refuse to run with a key that is not the one this data was sealed with.

        Every process of one bridge must seal and open with one key (on PostgreSQL, one
        ``MXGUARD_BRIDGE_KEY`` on every machine): a process with another key could not open the
        tokens and secrets the others keep, and what it sealed the others could not open. A
        sealed check value is kept beside the data; a store that has none yet gets it once one
        of its sealed values opens with this key (or at once, when it keeps none).
        """
        check = self._select("SELECT value FROM settings WHERE name = ?", (KEY_CHECK,))
        try:
            if check:
                self._box.open(check[0][0], context=KEY_CHECK)
                return
            kept = self._select("SELECT fingerprint, sealed FROM tokens LIMIT 1")
            if kept:
                self._box.open(kept[0][1], context=f"token:{kept[0][0]}")
        except WrongKeyError:
            raise WrongKeyError(
                f"{self.location} keeps secrets sealed with another key than this process's "
                f"(from {self._box.source}): every process of one bridge needs the same key "
                f"({KEY_ENV} on each machine, or the same key file)"
            ) from None
        with self._writing("cannot write the key check to") as db:
            self._run(
                db,
                "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (KEY_CHECK, self._box.seal(KEY_CHECK, context=KEY_CHECK)),
            )

    # -- tokens ------------------------------------------------------------------------------------
    def put_token(
        self,
        customer_id: str,
        fingerprint: str,
        token: str,
        *,
        label: str = "",
        added_by: str = SUBSCRIPTION,
    ) -> None:
        """Keep (or replace) a customer's token, sealed, under its fingerprint; an operator's
        label and ``added_by`` stay when a subscription's call brings the token again."""
        sealed = self._box.seal(token, context=f"token:{fingerprint}")
        with self._writing("cannot write a token to") as db:
            self._run(
                db,
                "INSERT INTO tokens (fingerprint, customer_id, sealed, label, added_by) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (fingerprint) DO UPDATE SET customer_id = excluded.customer_id, "
                "sealed = excluded.sealed, "
                "label = CASE WHEN excluded.added_by = 'subscription' THEN tokens.label "
                "ELSE excluded.label END, "
                "added_by = CASE WHEN excluded.added_by = 'subscription' THEN tokens.added_by "
                "ELSE excluded.added_by END",
                (fingerprint, customer_id, sealed, label, added_by),
            )

    def tokens(self, customer_id: str | None = None) -> list[StoredToken]:
        query = (
            "SELECT t.fingerprint, t.customer_id, t.label, t.added_by, "
            "(SELECT count(*) FROM subscriptions s WHERE s.token_fingerprint = t.fingerprint) "
            "FROM tokens t "
        )
        if customer_id is None:
            rows = self._select(query + "ORDER BY t.fingerprint")
        else:
            rows = self._select(
                query + "WHERE t.customer_id = ? ORDER BY t.fingerprint", (customer_id,)
            )
        return [
            StoredToken(
                fingerprint=r[0], customer_id=r[1], label=r[2], added_by=r[3], subscriptions=r[4]
            )
            for r in rows
        ]

    def remove_token(self, fingerprint: str) -> int | None:
        with self._writing("cannot remove a token from") as db:
            if not self._run(
                db, "DELETE FROM tokens WHERE fingerprint = ?", (fingerprint,)
            ).rowcount:
                return None
            self._run(
                db,
                "DELETE FROM outbox WHERE delivered_at IS NULL AND subscription_id IN "
                "(SELECT id FROM subscriptions WHERE token_fingerprint = ?)",
                (fingerprint,),
            )
            self._run(db, "DELETE FROM reports WHERE fingerprint = ?", (fingerprint,))
            removed: int = self._run(
                db, "DELETE FROM subscriptions WHERE token_fingerprint = ?", (fingerprint,)
            ).rowcount
        return removed

    def token(self, fingerprint: str) -> str | None:
        """The token with this fingerprint, opened; None when unknown. ``WrongKeyError`` when
        the box's key is not the one it was sealed with."""
        rows = self._select("SELECT sealed FROM tokens WHERE fingerprint = ?", (fingerprint,))
        if not rows:
            return None
        return self._box.open(rows[0][0], context=f"token:{fingerprint}")

    # -- subscriptions -----------------------------------------------------------------------------
    def add_subscription(self, subscription: Subscription) -> None:
        s = subscription
        sealed = self._box.seal(s.secret, context=f"secret:{s.id}")
        with self._writing("cannot write a subscription to") as db:
            self._run(
                db,
                f"INSERT INTO subscriptions ({SUBSCRIPTION_COLUMNS}) "  # noqa: S608 - constants
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    s.id,
                    s.customer_id,
                    s.token_fingerprint,
                    s.event,
                    to_json(s.filters),
                    s.target_url,
                    sealed,
                    s.description,
                    s.created_at,
                    s.status.value,
                    s.failing_since,
                ),
            )

    def _subscription(self, row: Any) -> Subscription:
        """A ``SUBSCRIPTION_COLUMNS`` row, its secret opened."""
        return Subscription(
            id=row[0],
            customer_id=row[1],
            token_fingerprint=row[2],
            event=row[3],
            filters=json.loads(row[4]),
            target_url=row[5],
            secret=self._box.open(row[6], context=f"secret:{row[0]}"),
            description=row[7],
            created_at=row[8],
            status=SubscriptionStatus(row[9]),
            failing_since=row[10],
        )

    def _subscriptions_where(
        self, condition: str, parameters: tuple[Any, ...]
    ) -> list[Subscription]:
        """Subscriptions matching ``condition`` (this module's own text, with ``?``
        placeholders), oldest first."""
        rows = self._select(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE {condition} "  # noqa: S608
            f"ORDER BY created_at, {self.ADDED_ORDER}",
            parameters,
        )
        return [self._subscription(row) for row in rows]

    def subscriptions(
        self, customer_id: str, *, target_url: str | None = None
    ) -> list[Subscription]:
        """The customer's subscriptions, oldest first (then in the order they were added)."""
        if target_url is None:
            return self._subscriptions_where("customer_id = ?", (customer_id,))
        return self._subscriptions_where(
            "customer_id = ? AND target_url = ?", (customer_id, target_url)
        )

    def subscription(self, customer_id: str, subscription_id: str) -> Subscription | None:
        found = self._subscriptions_where(
            "id = ? AND customer_id = ?", (subscription_id, customer_id)
        )
        return found[0] if found else None

    def subscription_for_delivery(self, subscription_id: str) -> Subscription | None:
        found = self._subscriptions_where("id = ?", (subscription_id,))
        return found[0] if found else None

    def remove_subscription(self, customer_id: str, subscription_id: str) -> bool:
        """Drop it and its undelivered outbox rows (nothing will send them); delivered rows and
        attempts stay, as history."""
        with self._writing("cannot remove a subscription from") as db:
            removed = self._run(
                db,
                "DELETE FROM subscriptions WHERE id = ? AND customer_id = ?",
                (subscription_id, customer_id),
            ).rowcount
            if removed:
                self._run(
                    db,
                    "DELETE FROM outbox WHERE subscription_id = ? AND delivered_at IS NULL",
                    (subscription_id,),
                )
        return bool(removed == 1)

    def set_status(
        self, subscription_id: str, status: SubscriptionStatus, failing_since: int | None
    ) -> None:
        with self._writing("cannot write a subscription's status to") as db:
            self._run(
                db,
                "UPDATE subscriptions SET status = ?, failing_since = ? WHERE id = ?",
                (status.value, failing_since, subscription_id),
            )

    # -- the pumps ---------------------------------------------------------------------------------
    def streams(self) -> list[tuple[str, str]]:
        rows = self._select(
            "SELECT DISTINCT token_fingerprint, event FROM subscriptions "
            "WHERE status != 'disabled' ORDER BY token_fingerprint, event"
        )
        return [(row[0], row[1]) for row in rows]

    def subscribers(self, fingerprint: str, event: str) -> list[Subscription]:
        return self._subscriptions_where(
            "token_fingerprint = ? AND event = ?", (fingerprint, event)
        )

    def load_cursor(self, stream: str, *, with_seen: bool = True) -> CursorState | None:
        with self._snapshot("cannot read") as db:  # the cursor and its ids as one state
            row = self._run(
                db,
                f"SELECT number, {STATE_COLUMNS} FROM streams WHERE key = ?",  # noqa: S608
                (stream,),
            ).fetchone()
            if row is None:
                return None
            seen = []
            if with_seen:
                seen = self._run(
                    db, "SELECT item_id, ts FROM stream_seen WHERE number = ?", (row[0],)
                ).fetchall()
        return state_from(row[1:], dict(seen))

    def commit(
        self,
        stream: str,
        state: CursorState,
        changes: SeenChanges,
        deliveries: list[NewDelivery],
        lease: Lease | None = None,
    ) -> None:
        """In one transaction: the stream's cursor (only the changed ids of ``seen``) and its
        page's outbox rows. A row already there (the page read again after a crash) is left as
        it is: ``(subscription_id, webhook_id)`` is unique. Rows for a subscription removed
        meanwhile are not written: nothing would send them. Under ``lease``, only while it is
        held with that fence (``LeaseLostError``, and nothing written)."""
        with self._writing("cannot write the stream's cursor and outbox to") as db:
            if lease is not None:
                self._check_lease(db, lease)
            number = self._run(
                db,
                f"INSERT INTO streams (key, {STATE_COLUMNS}) "  # noqa: S608 - constants
                f"VALUES (?, {STATE_PLACEHOLDERS}) "
                f"ON CONFLICT (key) DO UPDATE SET {STATE_UPDATE} RETURNING number",
                (stream, *state_values(state)),
            ).fetchone()[0]
            if changes.removed_before is not None:
                self._run(
                    db,
                    "DELETE FROM stream_seen WHERE number = ? AND ts < ?",
                    (number, changes.removed_before),
                )
            self._run_many(
                db,
                "INSERT INTO stream_seen (number, ts, item_id) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                ((number, ts, item_id) for item_id, ts in changes.added.items()),
            )
            # ON CONFLICT on the pair only: a row that breaks another rule (NOT NULL, ...)
            # fails the whole commit.
            self._run_many(
                db,
                "INSERT INTO outbox (subscription_id, webhook_id, event, item, timestamp, item_id, "
                "created_at, attempts, next_attempt_at) SELECT ?, ?, ?, ?, ?, ?, ?, 0, ? "
                "WHERE EXISTS (SELECT 1 FROM subscriptions WHERE id = ?) "
                "ON CONFLICT (subscription_id, webhook_id) DO NOTHING",
                (
                    (
                        d.subscription_id,
                        d.webhook_id,
                        d.event,
                        to_json(d.item),
                        d.timestamp,
                        d.item_id,
                        d.created_at,
                        d.created_at,
                        d.subscription_id,
                    )
                    for d in deliveries
                ),
            )

    # -- the delivery worker ---------------------------------------------------------------------
    DUE = (
        "WITH pending AS ("
        " SELECT o.id, o.subscription_id, o.webhook_id, o.event, o.item, o.timestamp,"
        "  o.item_id, o.created_at, o.attempts, o.next_attempt_at, o.delivered_at,"
        "  s.status AS status, ROW_NUMBER() OVER ("
        "   PARTITION BY o.subscription_id ORDER BY o.timestamp, o.item_id, o.id) AS place"
        " FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id"
        " WHERE o.delivered_at IS NULL AND {among})"
        " SELECT id, subscription_id, webhook_id, event, item, timestamp, item_id, created_at,"
        "  attempts, next_attempt_at, delivered_at FROM pending"
        " WHERE next_attempt_at <= ? AND (status = 'active' OR place = 1)"
        " ORDER BY place, subscription_id LIMIT ?"
    )
    """Undelivered rows (``DELIVERY_COLUMNS``) due at a time, of the subscriptions ``{among}``
    names (a condition the backends write): a failing one
    offers only its oldest row, and only once that row is due (its later items wait behind it,
    so they go out in order when the endpoint is back); an active one all its due rows. When
    more are due than the limit, the first rows of every subscription come before the second
    ones (round robin), so that one subscription's backlog does not hold the others back."""

    @staticmethod
    def _in_order(rows: list[Any]) -> list[Delivery]:
        deliveries = [delivery_from(row) for row in rows]
        deliveries.sort(key=lambda d: (d.subscription_id, d.timestamp, d.item_id, d.id))
        return deliveries

    def record_attempt(self, attempt: Attempt, *, delivered: bool) -> None:
        """Keep the attempt; mark the row delivered (at ``attempt.at``), or schedule it for
        ``attempt.next_attempt_at`` (None: given up, the row keeps its time and waits for the
        subscription's ``recover``)."""
        with self._writing("cannot write an attempt to") as db:
            self._run(
                db,
                "INSERT INTO attempts (delivery_id, subscription_id, at, status_code, "
                "latency_ms, excerpt, next_attempt_at, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    attempt.delivery_id,
                    attempt.subscription_id,
                    attempt.at,
                    attempt.status_code,
                    attempt.latency_ms,
                    attempt.excerpt,
                    attempt.next_attempt_at,
                    to_json(attempt.extra),
                ),
            )
            if delivered:
                self._run(
                    db,
                    "UPDATE outbox SET attempts = attempts + 1, delivered_at = ? WHERE id = ?",
                    (attempt.at, attempt.delivery_id),
                )
            else:
                self._run(
                    db,
                    "UPDATE outbox SET attempts = attempts + 1, "
                    "next_attempt_at = coalesce(?, next_attempt_at) WHERE id = ?",
                    (attempt.next_attempt_at, attempt.delivery_id),
                )

    ATTEMPT_SELECT = (
        "SELECT a.delivery_id, a.subscription_id, a.at, a.status_code, a.latency_ms, "
        "a.excerpt, a.next_attempt_at, a.extra FROM attempts a "
        "JOIN subscriptions s ON s.id = a.subscription_id "
    )

    @staticmethod
    def _attempt(row: Any) -> Attempt:
        return Attempt(
            delivery_id=row[0],
            subscription_id=row[1],
            at=row[2],
            status_code=row[3],
            latency_ms=row[4],
            excerpt=row[5],
            next_attempt_at=row[6],
            extra=json.loads(row[7]),
        )

    def attempts(self, customer_id: str, subscription_id: str, limit: int) -> list[Attempt]:
        """The subscription's attempts, newest first; none for another customer's."""
        rows = self._select(
            self.ATTEMPT_SELECT + "WHERE a.subscription_id = ? AND s.customer_id = ? "
            "ORDER BY a.at DESC, a.id DESC LIMIT ?",
            (subscription_id, customer_id, max(0, limit)),
        )
        return [self._attempt(row) for row in rows]

    def recent_attempts(self, customer_id: str, limit: int) -> list[Attempt]:
        """The customer's attempts across its subscriptions, newest first."""
        rows = self._select(
            self.ATTEMPT_SELECT + "WHERE s.customer_id = ? ORDER BY a.at DESC, a.id DESC LIMIT ?",
            (customer_id, max(0, limit)),
        )
        return [self._attempt(row) for row in rows]

    def recover(
        self, customer_id: str, subscription_id: str, since: int, *, now: int | None = None
    ) -> int:
        """Make the undelivered rows created at or after ``since`` due (at ``now``; without it,
        at their creation time, which is as due and needs no clock) and make the subscription
        active again; how many rows that made due. 0 for another customer's subscription, which
        is left as it is."""
        with self._writing("cannot recover a subscription in") as db:
            found = self._run(
                db,
                "UPDATE subscriptions SET status = 'active', failing_since = NULL "
                "WHERE id = ? AND customer_id = ?",
                (subscription_id, customer_id),
            ).rowcount
            if not found:
                return 0
            count: int = self._run(
                db,
                "UPDATE outbox SET next_attempt_at = coalesce(?, created_at) "
                "WHERE subscription_id = ? AND delivered_at IS NULL AND created_at >= ?",
                (now, subscription_id, since),
            ).rowcount
        return count

    # -- reports (for the console) -----------------------------------------------------------------
    def record_reports(self, streams: Sequence[StreamReport], budget: BudgetReport | None) -> None:
        rows = [(r.stream, STREAM_REPORT, r.fingerprint, r.at, to_json(asdict(r))) for r in streams]
        if budget is not None:
            name = f"budget:{budget.fingerprint}"
            rows.append(
                (name, BUDGET_REPORT, budget.fingerprint, budget.at, to_json(asdict(budget)))
            )
        if not rows:
            return
        with self._writing("cannot write reports to") as db:
            self._run_many(
                db,
                "INSERT INTO reports (name, kind, fingerprint, at, body) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET at = excluded.at, body = excluded.body",
                iter(rows),
            )

    def _reports(self, kind: str, fingerprint: str) -> list[dict[str, Any]]:
        rows = self._select(
            "SELECT body FROM reports WHERE kind = ? AND fingerprint = ? ORDER BY name",
            (kind, fingerprint),
        )
        return [json.loads(row[0]) for row in rows]

    def stream_reports(self, fingerprint: str) -> list[StreamReport]:
        return [StreamReport(**body) for body in self._reports(STREAM_REPORT, fingerprint)]

    def budget_report(self, fingerprint: str) -> BudgetReport | None:
        found = self._reports(BUDGET_REPORT, fingerprint)
        return BudgetReport(**found[0]) if found else None


def lease_lost(lease: Lease, row: Any, alive: bool) -> LeaseLostError | None:
    """Why a write under ``lease`` must be refused, given its row ``(holder, fence)`` now and
    whether it has not expired; None when it may go on."""
    if row is None or (row[0], int(row[1])) != (lease.holder, lease.fence):
        return LeaseLostError(f"the lease {lease.name} was taken over; nothing written")
    if not alive:
        return LeaseLostError(f"the lease {lease.name} expired; nothing written")
    return None
