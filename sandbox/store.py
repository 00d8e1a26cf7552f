"""SQLite storage of the sandbox: customers, tokens, domains, sender rules, verdicts, quarantine.

One connection guarded by a lock keeps it simple and correct for a test server: FastAPI runs the
endpoints in a thread pool, and SQLite serialises writes anyway. Times are integer microseconds.
Every read of verdicts and quarantine filters on ``visible_at <= now`` so that late arrival (an item
published after newer ones) can be simulated.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from api_client.contract import MICROS
from sandbox.timefmt import format_us
from sandbox.tokens import hash_token, new_id, new_token

QUARANTINE_DAYS = 30
DAY_US = 86_400 * MICROS

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, plan TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id),
    hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, created_at INTEGER NOT NULL,
    revoked_at INTEGER);
CREATE TABLE IF NOT EXISTS domains (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, domain TEXT NOT NULL,
    real_mx_host TEXT NOT NULL, status TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE (customer_id, domain));
CREATE INDEX IF NOT EXISTS domains_by_time ON domains (customer_id, created_at, id);
CREATE TABLE IF NOT EXISTS sender_rules (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, domain TEXT NOT NULL, pattern TEXT NOT NULL,
    action TEXT NOT NULL, note TEXT, created_at INTEGER NOT NULL,
    UNIQUE (customer_id, domain, pattern));
CREATE TABLE IF NOT EXISTS verdicts (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, message_id TEXT NOT NULL, domain TEXT NOT NULL,
    sender TEXT NOT NULL, recipient TEXT NOT NULL, subject TEXT NOT NULL, verdict TEXT NOT NULL,
    score REAL NOT NULL, action TEXT NOT NULL, scanned_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS verdicts_by_time ON verdicts (customer_id, scanned_at, id);
CREATE TABLE IF NOT EXISTS quarantine (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, verdict_id TEXT NOT NULL, domain TEXT NOT NULL,
    sender TEXT NOT NULL, recipient TEXT NOT NULL, subject TEXT NOT NULL, reason TEXT NOT NULL,
    status TEXT NOT NULL, quarantined_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL, released_at INTEGER, reported_at INTEGER);
CREATE INDEX IF NOT EXISTS quarantine_by_time ON quarantine (customer_id, quarantined_at, id);
"""

MX_RECORDS = [
    {"priority": 10, "host": "mx1.mxguard.uk"},
    {"priority": 20, "host": "mx2.mxguard.uk"},
]


@dataclass(frozen=True)
class TokenRecord:
    id: str
    customer_id: str
    prefix: str
    created_at: int


@dataclass(frozen=True)
class PageQuery:
    """Keyset pagination: ``after`` is the (time, id) of the last item already returned."""

    limit: int
    order: str = "desc"
    after: tuple[int, str] | None = None
    since: int | None = None
    until: int | None = None


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    has_more: bool
    last_key: tuple[int, str] | None


class ConflictError(Exception):
    """A unique constraint would be broken; the message says which."""


class Store:
    def __init__(self, path: str | None = None) -> None:
        self._db = sqlite3.connect(path or ":memory:", check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        if path:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:
            yield self._db

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self._db.execute(sql, args)]

    def _one(self, sql: str, args: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self._all(sql, args)
        return rows[0] if rows else None

    def reset(self) -> None:
        with self._tx() as db:
            for table in (
                "quarantine",
                "verdicts",
                "sender_rules",
                "domains",
                "tokens",
                "customers",
            ):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names

    def is_empty(self) -> bool:
        return self._one("SELECT id FROM customers LIMIT 1") is None

    # customers and tokens ------------------------------------------------------------------------
    def create_customer(self, name: str, now: int, plan: str = "business") -> str:
        customer_id = new_id("cus")
        with self._tx() as db:
            db.execute("INSERT INTO customers VALUES (?, ?, ?, ?)", (customer_id, name, plan, now))
        return customer_id

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM customers WHERE id = ?", (customer_id,))

    def customer_ids(self) -> list[str]:
        return [row["id"] for row in self._all("SELECT id FROM customers ORDER BY created_at")]

    def add_token(self, customer_id: str, token: str, now: int) -> TokenRecord:
        record = TokenRecord(new_id("tok"), customer_id, token[:13], now)
        with self._tx() as db:
            db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, NULL)",
                (record.id, customer_id, hash_token(token), record.prefix, now),
            )
        return record

    def issue_token(self, customer_id: str, now: int) -> tuple[TokenRecord, str]:
        token = new_token()
        return self.add_token(customer_id, token, now), token

    def revoke_token(self, token_id: str, now: int) -> bool:
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now, token_id),
            )
            return cursor.rowcount == 1

    def resolve_token(self, token: str) -> TokenRecord | None:
        """Find a live token by its hash (the lookup itself compares hashes, never tokens)."""
        row = self._one(
            "SELECT id, customer_id, prefix, created_at FROM tokens "
            "WHERE hash = ? AND revoked_at IS NULL",
            (hash_token(token),),
        )
        return TokenRecord(**row) if row else None

    # domains -------------------------------------------------------------------------------------
    def list_domains(self, customer_id: str, query: PageQuery) -> Page:
        return self._page("domains", "created_at", customer_id, query)

    def get_domain(self, customer_id: str, domain: str) -> dict[str, Any] | None:
        row = self._one(
            "SELECT * FROM domains WHERE customer_id = ? AND domain = ?", (customer_id, domain)
        )
        return domain_out(row) if row else None

    def add_domain(
        self, customer_id: str, domain: str, real_mx_host: str, now: int, status: str = "pending"
    ) -> dict[str, Any]:
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO domains VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (new_id("dom"), customer_id, domain, real_mx_host, status, now, now),
                )
        except sqlite3.IntegrityError as exc:
            raise ConflictError(f"the domain {domain} already exists") from exc
        found = self.get_domain(customer_id, domain)
        assert found is not None
        return found

    def update_domain(
        self, customer_id: str, domain: str, real_mx_host: str, now: int
    ) -> dict[str, Any] | None:
        with self._tx() as db:
            db.execute(
                "UPDATE domains SET real_mx_host = ?, updated_at = ? "
                "WHERE customer_id = ? AND domain = ?",
                (real_mx_host, now, customer_id, domain),
            )
        return self.get_domain(customer_id, domain)

    def delete_domain(self, customer_id: str, domain: str) -> bool:
        with self._tx() as db:
            gone = db.execute(
                "DELETE FROM domains WHERE customer_id = ? AND domain = ?", (customer_id, domain)
            ).rowcount
            db.execute(
                "DELETE FROM sender_rules WHERE customer_id = ? AND domain = ?",
                (customer_id, domain),
            )
        return gone == 1

    def count_domains(self, customer_id: str) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM domains WHERE customer_id = ?", (customer_id,))
        return int(row["n"]) if row else 0

    # sender rules --------------------------------------------------------------------------------
    def list_rules(self, customer_id: str, domain: str, query: PageQuery) -> Page:
        return self._page("sender_rules", "created_at", customer_id, query, domain=domain)

    def all_rules(self, customer_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM sender_rules WHERE customer_id = ?", (customer_id,))

    def add_rule(
        self, customer_id: str, domain: str, pattern: str, action: str, note: str | None, now: int
    ) -> dict[str, Any]:
        rule_id = new_id("rul")
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO sender_rules VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (rule_id, customer_id, domain, pattern, action, note, now),
                )
        except sqlite3.IntegrityError as exc:
            raise ConflictError(f"a rule for {pattern} already exists on {domain}") from exc
        row = self._one("SELECT * FROM sender_rules WHERE id = ?", (rule_id,))
        assert row is not None
        return rule_out(row)

    def delete_rule(self, customer_id: str, domain: str, rule_id: str) -> bool:
        with self._tx() as db:
            return (
                db.execute(
                    "DELETE FROM sender_rules WHERE customer_id = ? AND domain = ? AND id = ?",
                    (customer_id, domain, rule_id),
                ).rowcount
                == 1
            )

    # verdicts and quarantine ---------------------------------------------------------------------
    def insert_verdicts(self, customer_id: str, verdicts: Iterable[dict[str, Any]]) -> int:
        """Insert verdicts (times in µs); quarantined ones get their quarantine entry."""
        verdict_rows: list[tuple[Any, ...]] = []
        held_rows: list[tuple[Any, ...]] = []
        for v in verdicts:
            verdict_rows.append(
                (
                    v["id"],
                    customer_id,
                    v["message_id"],
                    v["domain"],
                    v["sender"],
                    v["recipient"],
                    v["subject"],
                    v["verdict"],
                    v["score"],
                    v["action"],
                    v["scanned_at"],
                    v["visible_at"],
                )
            )
            if v["action"] == "quarantined":
                held_rows.append(
                    (
                        new_id("qmsg"),
                        customer_id,
                        v["id"],
                        v["domain"],
                        v["sender"],
                        v["recipient"],
                        v["subject"],
                        v["verdict"],
                        "held",
                        v["scanned_at"],
                        v["scanned_at"] + QUARANTINE_DAYS * DAY_US,
                        v["visible_at"],
                    )
                )
        with self._tx() as db:
            db.executemany(
                "INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", verdict_rows
            )
            db.executemany(
                "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                held_rows,
            )
        return len(verdict_rows)

    def list_verdicts(
        self,
        customer_id: str,
        query: PageQuery,
        now: int,
        domain: str | None,
        verdicts: list[str],
        actions: list[str],
    ) -> Page:
        return self._page(
            "verdicts",
            "scanned_at",
            customer_id,
            query,
            visible_at=now,
            domain=domain,
            verdict=verdicts,
            action=actions,
        )

    def get_verdict(self, customer_id: str, verdict_id: str, now: int) -> dict[str, Any] | None:
        row = self._one(
            "SELECT * FROM verdicts WHERE customer_id = ? AND id = ? AND visible_at <= ?",
            (customer_id, verdict_id, now),
        )
        return verdict_out(row) if row else None

    def list_quarantine(
        self, customer_id: str, query: PageQuery, now: int, domain: str | None, statuses: list[str]
    ) -> Page:
        page = self._page(
            "quarantine",
            "quarantined_at",
            customer_id,
            query,
            visible_at=now,
            domain=domain,
            status_at=(statuses, now),
        )
        return Page([quarantine_out(r, now) for r in page.rows], page.has_more, page.last_key)

    def get_quarantined(self, customer_id: str, message_id: str, now: int) -> dict[str, Any] | None:
        row = self._one(
            "SELECT * FROM quarantine WHERE customer_id = ? AND id = ? AND visible_at <= ?",
            (customer_id, message_id, now),
        )
        return quarantine_out(row, now) if row else None

    def set_quarantine_status(self, message_id: str, status: str, now: int) -> None:
        column = "released_at" if status == "released" else "reported_at"
        with self._tx() as db:
            db.execute(
                f"UPDATE quarantine SET status = ?, {column} = ? WHERE id = ?",  # noqa: S608
                (status, now, message_id),
            )

    def stats(
        self, customer_id: str, since: int, until: int, now: int, domain: str | None
    ) -> dict[str, Any]:
        where = "customer_id = ? AND scanned_at >= ? AND scanned_at < ? AND visible_at <= ?"
        args: list[Any] = [customer_id, since, until, now]
        if domain:
            where += " AND domain = ?"
            args.append(domain)
        by_verdict = {
            r["verdict"]: r["n"]
            for r in self._all(
                f"SELECT verdict, COUNT(*) AS n FROM verdicts WHERE {where} GROUP BY verdict",  # noqa: S608
                args,
            )
        }
        by_action = {
            r["action"]: r["n"]
            for r in self._all(
                f"SELECT action, COUNT(*) AS n FROM verdicts WHERE {where} GROUP BY action",  # noqa: S608
                args,
            )
        }
        held_where = "customer_id = ? AND status = 'held' AND expires_at > ? AND visible_at <= ?"
        held_args: list[Any] = [customer_id, now, now]
        if domain:
            held_where += " AND domain = ?"
            held_args.append(domain)
        held = self._one(f"SELECT COUNT(*) AS n FROM quarantine WHERE {held_where}", held_args)  # noqa: S608
        return {"by_verdict": by_verdict, "by_action": by_action, "held": held["n"] if held else 0}

    # pagination ----------------------------------------------------------------------------------
    def _page(
        self,
        table: str,
        time_column: str,
        customer_id: str,
        query: PageQuery,
        *,
        visible_at: int | None = None,
        domain: str | None = None,
        verdict: list[str] | None = None,
        action: list[str] | None = None,
        status_at: tuple[list[str], int] | None = None,
    ) -> Page:
        where = ["customer_id = ?"]
        args: list[Any] = [customer_id]
        if visible_at is not None:
            where.append("visible_at <= ?")
            args.append(visible_at)
        if domain:
            where.append("domain = ?")
            args.append(domain)
        for column, values in (("verdict", verdict), ("action", action)):
            if values:
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                args.extend(values)
        if status_at and status_at[0]:
            where.append(f"({STATUS_SQL}) IN ({','.join('?' * len(status_at[0]))})")
            args.append(status_at[1])
            args.extend(status_at[0])
        if query.since is not None:
            where.append(f"{time_column} >= ?")
            args.append(query.since)
        if query.until is not None:
            where.append(f"{time_column} < ?")
            args.append(query.until)
        direction = "ASC" if query.order == "asc" else "DESC"
        if query.after is not None:
            # The plain bound on the time column lets SQLite start its index scan at the cursor
            # instead of at ``since``, so deep pages cost as little as the first.
            forward = direction == "ASC"
            where.append(f"{time_column} {'>=' if forward else '<='} ?")
            where.append(f"({time_column}, id) {'>' if forward else '<'} (?, ?)")
            args.extend([query.after[0], *query.after])
        sql = (
            f"SELECT * FROM {table} WHERE {' AND '.join(where)} "  # noqa: S608 - no user text
            f"ORDER BY {time_column} {direction}, id {direction} LIMIT ?"
        )
        rows = self._all(sql, [*args, query.limit + 1])
        has_more = len(rows) > query.limit
        rows = rows[: query.limit]
        last_key = (rows[-1][time_column], rows[-1]["id"]) if rows else None
        convert = {"domains": domain_out, "sender_rules": rule_out, "verdicts": verdict_out}
        if table in convert:
            rows = [convert[table](r) for r in rows]
        return Page(rows, has_more, last_key)


STATUS_SQL = "CASE WHEN status = 'held' AND expires_at <= ? THEN 'expired' ELSE status END"


def domain_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "domain": row["domain"],
        "real_mx_host": row["real_mx_host"],
        "status": row["status"],
        "mx_records": MX_RECORDS,
        "created_at": format_us(row["created_at"]),
        "updated_at": format_us(row["updated_at"]),
    }


def rule_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "domain": row["domain"],
        "pattern": row["pattern"],
        "action": row["action"],
        "note": row["note"],
        "created_at": format_us(row["created_at"]),
    }


def verdict_out(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "message_id", "domain", "sender", "recipient", "subject", "verdict", "action")
    out = {key: row[key] for key in keys}
    out["score"] = row["score"]
    out["scanned_at"] = format_us(row["scanned_at"])
    return out


def quarantine_out(row: dict[str, Any], now: int) -> dict[str, Any]:
    status = row["status"]
    if status == "held" and row["expires_at"] <= now:
        status = "expired"
    optional = {
        key: format_us(row[key]) if row[key] is not None else None
        for key in ("released_at", "reported_at")
    }
    keys = ("id", "verdict_id", "domain", "sender", "recipient", "subject", "reason")
    return {
        **{key: row[key] for key in keys},
        "status": status,
        "quarantined_at": format_us(row["quarantined_at"]),
        "expires_at": format_us(row["expires_at"]),
        **optional,
    }
