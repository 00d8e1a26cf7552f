"""Reading a bulk file: CSV with a header row, or JSON lines; one operation a row, validated.

Which format: the extension (``.csv`` and ``.tsv``; ``.jsonl``, ``.ndjson`` and ``.json``), else
the content (a first non-blank character ``{`` is JSON lines). CSV is UTF-8 (a byte-order mark,
as spreadsheets write it, is fine), its delimiter a comma, or a semicolon or a tab when the
header row uses one of those and no comma. Column names are matched in either spelling
(``real_mx_host``, ``Real-MX-Host``); empty cells (and ``null`` in JSON) are absent inputs.

Every row is validated with its action's own input model (``ActionDefinition.input``), so a row
the file accepts is exactly one the action would send, normalized as it would be (IDNs as
punycode). What is wrong is reported per row and field with the row's line number in the file
(the header is line 1 of a CSV file; a quoted cell spanning lines counts them all).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from actions import ActionDefinition
from api_client.errors import clip, shown
from connector import registry
from connector.bulk.errors import BulkFileError

OPS = ("add_domain", "update_domain", "remove_domain", "add_sender_rule", "remove_sender_rule")
"""The operations a bulk file may hold, in the order plans list them."""
OP = "op"
CSV_SUFFIXES = (".csv", ".tsv")
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
MESSAGE_LIMIT = 200
"""Characters of one problem's message at most (a value is never echoed whole)."""

Format = Literal["csv", "jsonl"]


def bulk_actions() -> dict[str, ActionDefinition[Any]]:
    """The actions of ``OPS``, by name."""
    found = registry.actions()
    return {op: found[op] for op in OPS}


def input_names() -> tuple[str, ...]:
    """Every input of every bulk operation, in order of first appearance: the result file's
    key columns, and the columns a file may have besides ``op``."""
    names: list[str] = []
    for action in bulk_actions().values():
        names += [name for name in action.input.model_fields if name not in names]
    return tuple(names)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one row: ``field`` is an input, ``op``, or ``row``."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


@dataclass(frozen=True)
class Row:
    """One row of the file: its cells, and the validated input or what is wrong with it."""

    line: int
    op: str
    """The operation, normalized (``add-domain`` -> ``add_domain``); as written when unknown."""
    cells: Mapping[str, Any]
    """The inputs as given (absent ones left out), keyed by normalized column name."""
    data: BaseModel | None = None
    """The action's input, validated and normalized; None when the row is invalid."""
    problems: tuple[Problem, ...] = ()

    @property
    def valid(self) -> bool:
        return self.data is not None

    def inputs(self) -> dict[str, Any]:
        """The key inputs as they will be (or would have been) sent: normalized when valid."""
        if self.data is not None:
            return {k: v for k, v in self.data.model_dump(mode="json").items() if v is not None}
        return {k: v for k, v in self.cells.items() if k != OP}


@dataclass(frozen=True)
class BulkFile:
    """A bulk file read and validated; nothing was sent."""

    path: Path
    format: Format
    sha256: str
    """Of the file's bytes: names the input a journal belongs to."""
    rows: tuple[Row, ...]
    columns: tuple[str, ...] = field(default=())
    """CSV: the header's columns (normalized); JSON lines: empty."""

    @property
    def problems(self) -> list[Problem]:
        return [problem for row in self.rows for problem in row.problems]

    @property
    def invalid(self) -> list[Row]:
        return [row for row in self.rows if not row.valid]


def read_bulk_file(path: Path) -> BulkFile:
    """Read and validate ``path``; ``BulkFileError`` when the file as a whole cannot be used."""
    content = _read_bytes(path)
    text = _decode(path, content)
    kind = detect_format(path, text)
    if kind == "csv":
        columns, raw = _csv_rows(path, text)
    else:
        columns, raw = (), list(_json_rows(text))
    rows = tuple(validate_row(line, cells, problem) for line, cells, problem in raw)
    if not rows:
        raise BulkFileError(f"{path} holds no operations: one row per operation, after the header")
    return BulkFile(path, kind, hashlib.sha256(content).hexdigest(), rows, columns)


def detect_format(path: Path, text: str) -> Format:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in JSON_SUFFIXES:
        return "jsonl"
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BulkFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BulkFileError(f"{path} is a folder, not a file of operations") from None
    except OSError as error:
        raise BulkFileError(f"cannot read {path}: {error.strerror or error}") from None


def _decode(path: Path, content: bytes) -> str:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise BulkFileError(
            f"{path} is not UTF-8 text (byte {content[error.start]:#04x} on line {line}); save "
            "it as UTF-8 (CSV UTF-8 in a spreadsheet)"
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise BulkFileError(f"{path} is not a text file (a NUL character on line {line})")
    return text


def column_name(raw: str) -> str:
    return registry.normalize(raw).replace(" ", "_")


def _check_columns(path: Path, header: list[str]) -> tuple[str, ...]:
    columns = tuple(column_name(cell) for cell in header)
    known = (OP, *input_names())
    for index, name in enumerate(columns, start=1):
        if not name:
            raise BulkFileError(f"{path}, line 1: column {index} has no name")
        if columns.count(name) > 1:
            raise BulkFileError(f"{path}, line 1: column {name!r} appears twice")
        if name not in known:
            raise BulkFileError(
                f"{path}, line 1: {shown(header[index - 1])} is not a column of a bulk file "
                f"(op, {', '.join(input_names())})"
            )
    if OP not in columns:
        raise BulkFileError(
            f"{path}, line 1: no 'op' column (the header names the columns: op, then the "
            f"operations' inputs, e.g. op,domain,real_mx_host); ops: {', '.join(OPS)}"
        )
    return columns


def _delimiter(first_line: str) -> str:
    if "," in first_line:
        return ","
    for candidate in (";", "\t"):
        if candidate in first_line:
            return candidate
    return ","


RawRow = tuple[int, dict[str, Any], Problem | None]
"""A row's line, its cells, and a problem found while reading it (before validation)."""


def _csv_rows(path: Path, text: str) -> tuple[tuple[str, ...], list[RawRow]]:
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_delimiter(first_line), strict=True
    )
    header: tuple[str, ...] | None = None
    rows: list[RawRow] = []
    ended = 0
    try:
        for cells in reader:
            start, ended = ended + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            if header is None:
                header = _check_columns(path, cells)
                continue
            values = {
                name: cell.strip()
                for name, cell in zip(header, cells, strict=False)
                if cell.strip()
            }
            problem = None
            if len(cells) > len(header) and any(cell.strip() for cell in cells[len(header) :]):
                problem = Problem(
                    start, "row", f"{len(cells)} cells, but the header has {len(header)} columns"
                )
            rows.append((start, values, problem))
    except csv.Error as error:
        raise BulkFileError(
            f"{path} is not readable as CSV (line {reader.line_num}: {error})"
        ) from None
    if header is None:
        raise BulkFileError(f"{path} is empty: a header row (op,domain,...) and one row a line")
    return header, rows


def _json_rows(text: str) -> Iterator[RawRow]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            yield number, {}, Problem(number, "row", f"not valid JSON ({error.msg})")
            continue
        if not isinstance(value, dict):
            yield number, {}, Problem(number, "row", "not a JSON object")
            continue
        cells = {
            column_name(str(key)): item
            for key, item in value.items()
            if item is not None and not (isinstance(item, str) and not item.strip())
        }
        yield number, cells, None


def validate_row(line: int, cells: dict[str, Any], problem: Problem | None = None) -> Row:
    """The row, with its action's validated input or every problem found."""
    raw_op = cells.get(OP)
    op = registry.normalize(raw_op) if isinstance(raw_op, str) else ""
    if problem is not None:
        return Row(line, op or str(raw_op or ""), cells, problems=(problem,))
    actions = bulk_actions()
    action = actions.get(op)
    if action is None:
        return Row(line, str(raw_op or ""), cells, problems=(_op_problem(line, raw_op),))
    inputs = {k: v for k, v in cells.items() if k != OP}
    problems = [
        Problem(
            line,
            name,
            f"not an input of {op} (its inputs: {', '.join(action.input.model_fields)})",
        )
        for name in inputs
        if name not in action.input.model_fields
    ]
    inputs = {k: v for k, v in inputs.items() if k in action.input.model_fields}
    try:
        data = action.input.model_validate(inputs)
    except ValidationError as error:
        for found in error.errors(include_url=False):
            name = ".".join(str(part) for part in found["loc"]) or "row"
            message = found["msg"].removeprefix("Value error, ")
            if found["type"] == "missing":
                message = f"required by {op}"
            problems.append(Problem(line, name, clip(message, MESSAGE_LIMIT)))
        return Row(line, op, cells, problems=tuple(problems))
    if problems:
        return Row(line, op, cells, problems=tuple(problems))
    return Row(line, op, cells, data=data)


def _op_problem(line: int, raw_op: Any) -> Problem:
    if raw_op is None:
        return Problem(line, OP, f"missing: one of {', '.join(OPS)}")
    if not isinstance(raw_op, str):
        return Problem(line, OP, f"{shown(raw_op)} is not an operation: one of {', '.join(OPS)}")
    if registry.action(raw_op) is not None:
        return Problem(line, OP, f"{shown(raw_op)} cannot be run in bulk: one of {', '.join(OPS)}")
    return Problem(line, OP, f"{shown(raw_op)} is not an operation: one of {', '.join(OPS)}")
