"""The journal of a bulk run: what was started and what each row came to, fsynced per row.

An append-only file of JSON lines. The first line names what the journal belongs to: the input
file (its SHA-256 and row count), the server and the token's fingerprint (never the token). A
row is written ``start`` before its request is sent and, once it has an answer, its outcome; each
line is flushed and fsynced before the run goes on. A run killed at any point therefore leaves
every finished row recorded, and at most one row started without an outcome (in flight). Started
again with the same file, the run sends no row whose outcome is final (``FINAL``), sends the
in-flight row again (its action's repeat rule answers ``existing`` or ``absent`` when the first
attempt went through) and rows that ended in ``error`` (nothing a retry can repeat), and finishes
the rest. A line cut short by the kill is dropped.

One process at a time: the journal is locked (``<journal>.lock``) while a run uses it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from filelock import FileLock, Timeout

from connector.bulk.errors import JournalError, JournalInUseError, JournalMismatchError

KIND = "mxguard-bulk-journal"
VERSION = 1
SUCCEEDED = frozenset({"created", "existing", "updated", "removed", "absent"})
FINAL = SUCCEEDED | {"conflict"}
"""Outcomes a resumed run keeps: a conflict is MxGuard's answer about the account's state, and
sending the row again would get it again. ``error`` rows are sent again."""


@dataclass(frozen=True)
class Header:
    """What a journal belongs to."""

    input: str
    """The input file's name, for messages."""
    sha256: str
    rows: int
    server: str | None = None
    """The API's base URL (None: not known yet, as in a dry run)."""
    token: str | None = None
    """The fingerprint of the token the run used (``Secret.fingerprint``, never the token): a
    run with another token resumes only once it sees the objects the journal recorded (the
    same account, a rotated token)."""


@dataclass(frozen=True)
class Entry:
    """What one row came to."""

    line: int
    op: str
    outcome: str
    id: str | None = None
    """The object made, changed or removed (a domain's or a rule's id)."""
    message: str = ""
    replayed: bool = False
    """Sent again after a run stopped while it was in flight."""
    at: float | None = None
    """The run's clock when the answer came (Unix seconds)."""


@dataclass
class JournalState:
    header: Header
    entries: dict[int, Entry] = field(default_factory=dict)
    """The last outcome of each row, by line."""
    in_flight: set[int] = field(default_factory=set)
    """Rows started and not finished since: a run stopped while their request was out."""

    @property
    def done(self) -> set[int]:
        """Lines a resumed run does not send again."""
        return {line for line, entry in self.entries.items() if entry.outcome in FINAL}


def default_journal(input_path: Path) -> Path:
    """``onboard.csv`` -> ``onboard.csv.journal``, beside the input."""
    return input_path.with_name(input_path.name + ".journal")


def read_journal(path: Path) -> JournalState | None:
    """The journal at ``path`` as it stands (None when there is none); nothing is changed."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise JournalError(f"{path} is a folder, not a journal; give --journal a file") from None
    except OSError as error:
        raise JournalError(f"cannot read the journal {path}: {error.strerror}") from None
    if not content:
        return None
    return _parse(path, content)


def check_header(path: Path, found: Header, wanted: Header) -> None:
    """Refuse a journal of another input or server: its rows were not sent here. (Another
    token is checked by the run: ``run.check_account``.)"""
    remedy = f"give this run its own --journal, or remove {path} to start over"
    if found.sha256 != wanted.sha256:
        raise JournalMismatchError(
            f"{path} is the journal of another input file ({found.input}, {found.rows} rows, "
            f"sha256 {found.sha256[:12]}…), not of {wanted.input} (sha256 "
            f"{wanted.sha256[:12]}…): {remedy}"
        )
    if wanted.server is not None and found.server not in (None, wanted.server):
        raise JournalMismatchError(
            f"{path} records a run against {found.server}, not {wanted.server}: {remedy}"
        )


class Journal:
    """A journal open for a run: locked, read, and appended to (``start``, ``finish``)."""

    def __init__(self, path: Path, state: JournalState, handle: BinaryIO, lock: FileLock) -> None:
        self.path = path
        self.state = state
        self._handle = handle
        self._lock = lock

    @classmethod
    def open(cls, path: Path, header: Header) -> Journal:
        """Lock ``path`` and read it, or create it with ``header``; refuse another's journal."""
        if not path.parent.is_dir():
            raise JournalError(f"cannot keep the journal {path}: {path.parent} is not a folder")
        lock = FileLock(f"{path}.lock", timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise JournalInUseError(
                f"another process is applying {path}; let it finish (or stop it) first"
            ) from None
        except OSError as error:
            raise JournalError(f"cannot lock {path}.lock: {error.strerror}") from None
        try:
            state = read_journal(path)
            if state is None:
                _create(path, header)
                state = JournalState(header)
            else:
                check_header(path, state.header, header)
                _drop_torn_tail(path)
            handle = path.open("ab")
        except OSError as error:
            lock.release()
            raise JournalError(f"cannot write the journal {path}: {error.strerror}") from None
        except BaseException:
            lock.release()
            raise
        return cls(path, state, handle, lock)

    def start(self, line: int) -> None:
        """Row ``line`` is about to be sent."""
        self._append({"line": line, "event": "start"})
        self.state.in_flight.add(line)

    def new_token(self, token: str) -> None:
        """The run goes on with another token of the same account (checked)."""
        self._append({"event": "token", "token": token})
        self.state.header = replace(self.state.header, token=token)

    def finish(self, entry: Entry) -> None:
        """Row ``entry.line`` has its outcome."""
        self._append({"event": "done", **asdict(entry)})
        self.state.entries[entry.line] = entry
        self.state.in_flight.discard(entry.line)

    def _append(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        try:
            self._handle.close()
        finally:
            self._lock.release()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _create(path: Path, header: Header) -> None:
    """Write the header line whole (a temporary file renamed), so no journal is ever torn
    before its first row."""
    record = {"kind": KIND, "version": VERSION, **asdict(header)}
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(json.dumps(record).encode() + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows opening a folder)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _drop_torn_tail(path: Path) -> None:
    """A run killed while writing leaves a last line without its newline: cut it off, so the
    next record starts on a line of its own."""
    with path.open("rb+") as journal:
        content = journal.read()
        if content.endswith(b"\n"):
            return
        journal.truncate(content.rfind(b"\n") + 1)
        journal.flush()
        os.fsync(journal.fileno())


def _parse(path: Path, content: bytes) -> JournalState:
    lines = content.split(b"\n")
    if not content.endswith(b"\n"):
        lines = lines[:-1]  # cut short by a kill: that record was never complete
    records = [line for line in lines if line.strip()]
    header = _header(path, records[0] if records else b"")
    state = JournalState(header)
    for number, raw in enumerate(records[1:], start=2):
        try:
            record = json.loads(raw)
            line = int(record.get("line", 0))
            if record["event"] == "start":
                state.in_flight.add(line)
            elif record["event"] == "done":
                state.entries[line] = Entry(
                    line=line,
                    op=str(record["op"]),
                    outcome=str(record["outcome"]),
                    id=record.get("id"),
                    message=str(record.get("message") or ""),
                    replayed=bool(record.get("replayed")),
                    at=record.get("at"),
                )
                state.in_flight.discard(line)
            elif record["event"] == "token":
                state.header = replace(state.header, token=str(record["token"]))
            else:
                raise ValueError(record["event"])
        except (ValueError, KeyError, TypeError):
            raise JournalError(
                f"{path}, line {number}: not a record of a bulk journal; the file was changed "
                "by something else"
            ) from None
    return state


def _header(path: Path, first: bytes) -> Header:
    try:
        record = json.loads(first)
        if record.get("kind") != KIND:
            raise ValueError("kind")
    except (ValueError, AttributeError):
        raise JournalError(
            f"{path} is not a bulk journal (it is never overwritten): give --journal another path"
        ) from None
    if record.get("version") != VERSION:
        raise JournalError(f"{path} is a journal of version {record.get('version')}, not {VERSION}")
    try:
        return Header(
            input=str(record["input"]),
            sha256=str(record["sha256"]),
            rows=int(record["rows"]),
            server=record.get("server"),
            token=record.get("token"),
        )
    except (KeyError, TypeError, ValueError):
        raise JournalError(f"{path}: its first line is not a complete journal header") from None
