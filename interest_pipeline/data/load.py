"""CSV imports into the input tables, validated row by row before anything is written.

A file is read whole and checked against the schema's types, enums, CHECK rules and
references (in the database, and within the file itself); only a file without a single error
is copied, in one transaction. Every error names the file, the physical line (the header is
line 1) and the column, so a clerk can fix the file without reading SQL.
"""

import csv
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext
from enum import StrEnum
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from interest_pipeline.data.errors import DataError
from interest_pipeline.data.statistics import analyze
from interest_pipeline.domain.enums import (
    AccountStatus,
    AccountType,
    DayCount,
    PostingFrequency,
    TierMode,
    values,
)

MAX_REPORTED_ERRORS = 20
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1

_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class InvalidValue(ValueError):
    """A cell that does not parse; the message completes "column 'x': ..."."""


# --- Cell parsers: text in, typed value out, InvalidValue with a readable reason otherwise ----------


Parser = Callable[[str], Any]


def parse_text(raw: str) -> str:
    if "\x00" in raw:
        raise InvalidValue(f"{raw!r} contains a NUL character")
    return raw


def parse_bigint(raw: str) -> int:
    if not _INTEGER.fullmatch(raw):
        raise InvalidValue(f"{raw!r} is not an integer")
    value = int(raw)
    if not BIGINT_MIN <= value <= BIGINT_MAX:
        raise InvalidValue(f"{raw!r} is out of range for a BIGINT")
    return value


def parse_date(raw: str) -> date:
    if _DATE.fullmatch(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise InvalidValue(f"{raw!r} is not a date (YYYY-MM-DD)")


def numeric(
    precision: int, scale: int, *, minimum: Decimal | None = None, maximum: Decimal | None = None
) -> Parser:
    """A parser for NUMERIC(precision, scale) that refuses anything PostgreSQL would round."""

    def parse(raw: str) -> Decimal:
        # The regex keeps out what Decimal would take but the column cannot: NaN, Infinity, 1e5.
        if not _DECIMAL.fullmatch(raw):
            raise InvalidValue(f"{raw!r} is not a decimal number")
        with localcontext() as ctx:
            ctx.prec = len(raw) + 2  # exact: normalize() must never round
            value = Decimal(raw)
            normal = value.normalize()
        exponent = normal.as_tuple().exponent
        assert isinstance(exponent, int)
        digits = len(normal.as_tuple().digits)
        decimals = max(0, -exponent)
        whole_digits = 0 if normal.is_zero() else max(0, digits + exponent)
        if decimals > scale:
            raise InvalidValue(f"{raw!r} has more than {scale} decimal places")
        if whole_digits > precision - scale:
            raise InvalidValue(f"{raw!r} has more than {precision - scale} digits before the decimal point")
        if minimum is not None and value < minimum:
            raise InvalidValue(f"{raw!r} is below {minimum}")
        if maximum is not None and value > maximum:
            raise InvalidValue(f"{raw!r} is above {maximum}")
        return value

    return parse


def one_of(vocabulary: type[StrEnum]) -> Parser:
    """A cell of one of the domain's vocabularies, parsed with it (the stored string)."""

    def parse(raw: str) -> str:
        try:
            return vocabulary(raw).value
        except ValueError:
            raise InvalidValue(f"{raw!r} is not one of {', '.join(values(vocabulary))}") from None

    return parse


MONEY = numeric(19, 4)
NON_NEGATIVE_MONEY = numeric(19, 4, minimum=Decimal(0))
NON_NEGATIVE_RATE = numeric(9, 6, minimum=Decimal(0))
PERCENT = numeric(9, 6, minimum=Decimal(0), maximum=Decimal(100))


@dataclass(frozen=True)
class Column:
    name: str
    parse: Parser
    required: bool = True
    """Required columns must be in the header and non-empty; optional ones may be omitted or empty."""
    default: Any = None
    """What an omitted or empty optional cell stores (None is NULL)."""


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, Any]


@dataclass(frozen=True)
class Issue:
    line: int | None
    """Physical line in the file, header = 1; None when the database could not say which row."""
    column: str | None
    message: str

    def render(self, source: str) -> str:
        where = f"column {self.column!r}: " if self.column else ""
        at = f"{source}:{self.line}" if self.line is not None else source
        return f"{at}: {where}{self.message}"


class LoadError(DataError):
    """A file that was not loaded, and why; nothing of it was written."""

    def __init__(self, source: str, issues: Sequence[Issue]) -> None:
        self.source = source
        self.issues = sorted(issues, key=lambda i: i.line or 0)
        shown = [issue.render(source) for issue in self.issues[:MAX_REPORTED_ERRORS]]
        more = len(self.issues) - len(shown)
        if more > 0:
            shown.append(f"... and {more} more error{'s' if more > 1 else ''}")
        self.message = f"{source}: nothing loaded\n" + "\n".join(shown)
        super().__init__(self.message)


@dataclass
class Issues:
    items: list[Issue] = field(default_factory=list)

    def add(self, line: int | None, column: str | None, message: str) -> None:
        self.items.append(Issue(line, column, message))

    def __bool__(self) -> bool:
        return bool(self.items)


# --- The four kinds of file --------------------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    kind: str
    table: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    check: Callable[[psycopg.Connection, list[Row], Issues], None]
    """Rules across columns, rows and the database, run once every cell has parsed."""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _duplicates_in_file(rows: Iterable[Row], key: tuple[str, ...], issues: Issues) -> None:
    first_line: dict[tuple[Any, ...], int] = {}
    for row in rows:
        value = tuple(row.values[k] for k in key)
        if value in first_line:
            issues.add(
                row.line, key[-1], f"duplicate key {_show_key(key, value)}: also on line {first_line[value]}"
            )
        else:
            first_line[value] = row.line


def _show_key(key: tuple[str, ...], value: tuple[Any, ...]) -> str:
    return "(" + ", ".join(f"{k}={v}" for k, v in zip(key, value, strict=True)) + ")"


def _existing(conn: psycopg.Connection, query: str, *params: Any) -> set[Any]:
    rows = conn.execute(query, params).fetchall()
    return {row[0] if len(row) == 1 else tuple(row) for row in rows}


def _check_products(conn: psycopg.Connection, rows: list[Row], issues: Issues) -> None:
    _duplicates_in_file(rows, ("code",), issues)
    taken = _existing(
        conn, "SELECT code FROM interest_products WHERE code = ANY(%s)", [r.values["code"] for r in rows]
    )
    for row in rows:
        if row.values["code"] in taken:
            issues.add(row.line, "code", f"product {row.values['code']!r} already exists")


def _check_tiers(conn: psycopg.Connection, rows: list[Row], issues: Issues) -> None:
    key = ("product_code", "effective_from", "min_balance")
    _duplicates_in_file(rows, key, issues)
    codes = sorted({r.values["product_code"] for r in rows})
    known = _existing(conn, "SELECT code FROM interest_products WHERE code = ANY(%s)", codes)
    in_db = _existing(
        conn,
        "SELECT product_code, effective_from, min_balance FROM interest_rate_tiers"
        " WHERE product_code = ANY(%s)",
        codes,
    )
    schedules: dict[tuple[str, date], list[Row]] = defaultdict(list)
    for row in rows:
        code = row.values["product_code"]
        if code not in known:
            issues.add(row.line, "product_code", f"unknown product {code!r}")
            continue
        value = tuple(row.values[k] for k in key)
        if value in in_db:
            issues.add(row.line, "min_balance", f"tier {_show_key(key, value)} already exists")
        schedules[(code, row.values["effective_from"])].append(row)
    # Spec 1: every schedule has a tier at 0. The database checks it only at commit, without a line.
    for (code, effective_from), members in schedules.items():
        has_zero = (
            any(r.values["min_balance"] == 0 for r in members) or (code, effective_from, Decimal(0)) in in_db
        )
        if not has_zero:
            issues.add(
                members[0].line,
                "min_balance",
                f"rate schedule {code} from {effective_from} has no tier at min_balance 0",
            )


def _check_accounts(conn: psycopg.Connection, rows: list[Row], issues: Issues) -> None:
    _duplicates_in_file(rows, ("id",), issues)
    _duplicates_in_file(rows, ("account_number",), issues)
    products = _existing(conn, "SELECT code FROM interest_products")
    currencies = _existing(conn, "SELECT code FROM currencies")
    ids = _existing(conn, "SELECT id FROM accounts WHERE id = ANY(%s)", [r.values["id"] for r in rows])
    numbers = _existing(
        conn,
        "SELECT account_number FROM accounts WHERE account_number = ANY(%s)",
        [r.values["account_number"] for r in rows],
    )
    for row in rows:
        v = row.values
        if v["id"] in ids:
            issues.add(row.line, "id", f"account {v['id']} already exists")
        if v["account_number"] in numbers:
            issues.add(row.line, "account_number", f"account number {v['account_number']!r} already exists")
        if v["product_code"] not in products:
            issues.add(row.line, "product_code", f"unknown product {v['product_code']!r}")
        if v["currency"] not in currencies:
            issues.add(row.line, "currency", f"unknown currency {v['currency']!r}")
        if v["status"] == "CLOSED" and v["closed_on"] is None:
            issues.add(row.line, "closed_on", "a CLOSED account needs closed_on")
        if v["closed_on"] is not None and v["closed_on"] < v["opened_on"]:
            issues.add(row.line, "closed_on", f"{v['closed_on']} is before opened_on {v['opened_on']}")
        if v["maturity_date"] is not None and v["maturity_date"] <= v["opened_on"]:
            issues.add(
                row.line, "maturity_date", f"{v['maturity_date']} is not after opened_on {v['opened_on']}"
            )


def _check_balances(conn: psycopg.Connection, rows: list[Row], issues: Issues) -> None:
    _duplicates_in_file(rows, ("account_id", "balance_date"), issues)
    account_ids = [r.values["account_id"] for r in rows]
    known = _existing(conn, "SELECT id FROM accounts WHERE id = ANY(%s)", sorted(set(account_ids)))
    taken = _existing(
        conn,
        "SELECT b.account_id, b.balance_date FROM account_balances b"
        " JOIN unnest(%s::bigint[], %s::date[]) AS f(account_id, balance_date)"
        " USING (account_id, balance_date)",
        account_ids,
        [r.values["balance_date"] for r in rows],
    )
    for row in rows:
        account_id, balance_date = row.values["account_id"], row.values["balance_date"]
        if account_id not in known:
            issues.add(row.line, "account_id", f"unknown account {account_id}")
        elif (account_id, balance_date) in taken:
            issues.add(
                row.line, "balance_date", f"account {account_id} already has a balance on {balance_date}"
            )


TABLES: dict[str, TableSpec] = {
    spec.kind: spec
    for spec in (
        TableSpec(
            "products",
            "interest_products",
            (
                Column("code", parse_text),
                Column("account_type", one_of(AccountType)),
                Column("day_count", one_of(DayCount)),
                Column("posting_frequency", one_of(PostingFrequency)),
                Column("tier_mode", one_of(TierMode)),
                Column("min_balance_for_interest", NON_NEGATIVE_MONEY, required=False),
                Column("withholding_tax_rate", PERCENT, required=False, default=Decimal(0)),
            ),
            ("code",),
            _check_products,
        ),
        TableSpec(
            "tiers",
            "interest_rate_tiers",
            (
                Column("product_code", parse_text),
                Column("effective_from", parse_date),
                Column("min_balance", NON_NEGATIVE_MONEY),
                Column("annual_rate", NON_NEGATIVE_RATE),
            ),
            ("product_code", "effective_from", "min_balance"),
            _check_tiers,
        ),
        TableSpec(
            "accounts",
            "accounts",
            (
                Column("id", parse_bigint),
                Column("account_number", parse_text),
                Column("product_code", parse_text),
                Column("currency", parse_text),
                Column("status", one_of(AccountStatus)),
                Column("opened_on", parse_date),
                Column("closed_on", parse_date, required=False),
                Column("maturity_date", parse_date, required=False),
                Column("rate_override", NON_NEGATIVE_RATE, required=False),
            ),
            ("id",),
            _check_accounts,
        ),
        TableSpec(
            "balances",
            "account_balances",
            (
                Column("account_id", parse_bigint),
                Column("balance_date", parse_date),
                Column("closing_balance", MONEY),
            ),
            ("account_id", "balance_date"),
            _check_balances,
        ),
    )
}
KINDS = tuple(TABLES)


# --- Reading ----------------------------------------------------------------------------------


class _Unreadable(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, fields) of each non-blank record; a quoted field may span lines."""
    # utf-8-sig: spreadsheets put a byte-order mark in front of the header.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, strict=True)
        line = 1
        try:
            for record in reader:
                if record and any(cell.strip() for cell in record):
                    yield line, record
                line = reader.line_num + 1
        except csv.Error as exc:
            raise _Unreadable(reader.line_num, f"not a readable CSV record: {exc}") from exc
        except UnicodeDecodeError as exc:
            # Decoding runs ahead of the parser in blocks, so the line is not known.
            raise _Unreadable(None, f"not UTF-8 text: {exc}") from exc


def _header(spec: TableSpec, line: int, names: list[str], issues: Issues) -> None:
    allowed = spec.column_names
    seen: set[str] = set()
    for name in names:
        if name not in allowed:
            issues.add(line, name, f"unknown column (expected some of: {', '.join(allowed)})")
        elif name in seen:
            issues.add(line, name, "appears twice in the header")
        seen.add(name)
    for column in spec.columns:
        if column.required and column.name not in seen:
            issues.add(line, column.name, "required column is missing from the header")


def parse_file(spec: TableSpec, path: Path, issues: Issues) -> list[Row]:
    """Every row of the file with typed values, or issues; rows with a bad cell are left out."""
    records = _records(path)
    try:
        header_line, raw_names = next(records)
    except StopIteration:
        issues.add(1, None, "the file is empty (a header row is required)")
        return []
    except _Unreadable as exc:
        issues.add(exc.line, None, str(exc))
        return []
    names = [name.strip() for name in raw_names]
    _header(spec, header_line, names, issues)
    if issues:
        return []
    positions = {name: index for index, name in enumerate(names)}
    rows: list[Row] = []
    try:
        for line, record in records:
            if len(record) != len(names):
                issues.add(line, None, f"expected {len(names)} fields, found {len(record)}")
                continue
            values: dict[str, Any] = {}
            good = True
            for column in spec.columns:
                raw = record[positions[column.name]].strip() if column.name in positions else ""
                if raw == "":
                    if column.required:
                        issues.add(line, column.name, "a value is required")
                        good = False
                    values[column.name] = column.default
                    continue
                try:
                    values[column.name] = column.parse(raw)
                except InvalidValue as exc:
                    issues.add(line, column.name, str(exc))
                    good = False
            if good:
                rows.append(Row(line, values))
    except _Unreadable as exc:
        issues.add(exc.line, None, str(exc))
    return rows


# --- Writing ----------------------------------------------------------------------------------

_COPY_LINE = re.compile(r"COPY \w+, line (\d+)")


def _database_issue(exc: psycopg.Error, rows: list[Row]) -> Issue:
    """The database's refusal, pinned to the file's line when PostgreSQL says which COPY row it was."""
    diag = exc.diag
    found = _COPY_LINE.search(diag.context or "")
    line = rows[int(found.group(1)) - 1].line if found and int(found.group(1)) <= len(rows) else None
    detail = f" ({diag.message_detail})" if diag.message_detail else ""
    return Issue(line, None, f"rejected by the database: {diag.message_primary}{detail}")


PROGRESS_ROWS = 10_000


def load_file(
    conn: psycopg.Connection, kind: str, path: str | Path, progress: Callable[[int], None] | None = None
) -> int:
    """Validate `path` fully, then COPY it into `kind`'s table in one transaction; the row count.

    Raises LoadError and writes nothing if any row is wrong. `progress` is told of the rows
    written, every PROGRESS_ROWS of them and at the end.
    """
    spec = TABLES[kind]
    path = Path(path)
    source = str(path)
    issues = Issues()
    # Rows with a bad cell are left out, but the others still go through every check, so that one
    # pass reports as many of the file's errors as possible.
    rows = parse_file(spec, path, issues)
    columns = spec.column_names
    try:
        with conn.transaction():
            # A concurrent load into the same table waits here, so its keys can't slip in between
            # the duplicate check and the COPY.
            conn.execute(
                sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(sql.Identifier(spec.table))
            )
            spec.check(conn, rows, issues)
            if issues:
                raise LoadError(source, issues.items)
            copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(spec.table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            )
            with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                for n, row in enumerate(rows, 1):
                    copy.write_row([row.values[c] for c in columns])
                    if progress and (n % PROGRESS_ROWS == 0 or n == len(rows)):
                        progress(PROGRESS_ROWS if n % PROGRESS_ROWS == 0 else n % PROGRESS_ROWS)
    except (pg_errors.IntegrityError, pg_errors.DataError) as exc:
        raise LoadError(source, [_database_issue(exc, rows)]) from exc
    analyze(conn, [spec.table])
    return len(rows)
