"""A synthetic book: a fixed product catalogue, seeded random accounts and sparse balances.

Everything is derived from `random.Random(seed)` in a fixed order, so the same arguments give
byte-identical tables. Money is drawn as whole minor units (integers) and formatted as text;
no float is ever involved. Rows go to PostgreSQL through COPY in one transaction.

Replacing a book empties every pipeline output and execution record with it (they describe the
old book), but never a ledger by the way: the ledger is append-only, so a replace that finds
entries refuses, writing nothing, unless the caller asks to discard it (`generate_book`).
"""

import random
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
from psycopg import sql

from interest_pipeline.data.errors import BookNotEmptyError, InvalidArguments, LedgerNotEmptyError
from interest_pipeline.data.statistics import analyze

INPUT_TABLES = ("interest_products", "interest_rate_tiers", "accounts", "account_balances")
# What --replace empties besides the inputs: every pipeline output and execution record, since
# none of them means anything for another book. Not emptied: currencies, interest_batch_config.
REPLACED_OUTPUTS = (
    "interest_accrual_entries",
    "interest_accrual_backdated",
    "interest_postings",
    "interest_batch_account_result",
    "interest_batch_account_status",
    "interest_batch_execution",
)
LEDGER_TABLE = "ledger_entries"
# Migration 0007's guard; only ledger_truncate_allowed lifts it, inside one transaction.
LEDGER_TRUNCATE_GUARD = "trg_ledger_entries_no_truncate"

NULL = "\\N"
# Rows are joined into one string per batch: one copy.write per batch is far cheaper than write_row.
BATCH_ACCOUNTS = 20_000
# How far back accounts without a term were opened.
HISTORY_DAYS = 5 * 365
# Far enough in the future to mean "never" in day offsets.
OPEN_ENDED = 1 << 30


@dataclass(frozen=True)
class ProductSpec:
    code: str
    account_type: str
    day_count: str
    posting_frequency: str
    tier_mode: str
    min_balance_for_interest: str | None
    withholding_tax_rate: str
    term_months: int | None
    """Deposits mature this many months after opening; None for savings."""
    weight: int
    """Share of the book, in percent."""
    tiers: tuple[tuple[str, str], ...]
    """(min_balance, annual_rate %) in force since long before the period."""
    revised_tiers: tuple[tuple[str, str], ...] = ()
    """A new schedule taking effect in the middle of the generated period."""


# One product per line, so the catalogue reads as a rate sheet. Every account type, day count,
# posting frequency and tier mode occurs; each schedule starts at min_balance 0 and rises.
PRODUCTS: tuple[ProductSpec, ...] = (
    ProductSpec("SAV-EVERYDAY", "SAVINGS", "ACT/365F", "MONTHLY", "WHOLE", None, "0", None, 24,
                (("0", "0.01"), ("1000", "0.25"), ("10000", "0.50"), ("50000", "0.75")),
                (("0", "0.05"), ("1000", "0.35"), ("10000", "0.65"), ("50000", "1.00"))),
    ProductSpec("SAV-PREMIUM", "SAVINGS", "ACT/360", "MONTHLY", "BANDED", "1000", "15", None, 12,
                (("0", "0.50"), ("10000", "1.75"), ("50000", "2.50"), ("250000", "3.10"))),
    ProductSpec("SAV-BONUS", "SAVINGS", "ACT/ACT", "QUARTERLY", "BANDED", "500", "10", None, 10,
                (("0", "0.25"), ("5000", "1.20"), ("25000", "2.05"), ("100000", "2.80"))),
    ProductSpec("SAV-EURO", "SAVINGS", "30/360", "SEMI_ANNUAL", "WHOLE", None, "0", None, 7,
                (("0", "0.05"), ("20000", "0.85"), ("100000", "1.40"))),
    ProductSpec("SAV-ANNUAL", "SAVINGS", "ACT/365F", "ANNUAL", "WHOLE", "100", "15", None, 5,
                (("0", "1.00"), ("25000", "1.75"), ("100000", "2.125"))),
    ProductSpec("SAV-YOUTH", "SAVINGS", "ACT/ACT", "MONTHLY", "BANDED", None, "0", None, 4,
                (("0", "2.50"), ("5000", "3.00"))),
    ProductSpec("FD-12M", "FIXED_DEPOSIT", "ACT/365F", "AT_MATURITY", "WHOLE", "1000", "15", 12, 12,
                (("0", "3.75"), ("10000", "4.10"), ("100000", "4.525")),
                (("0", "3.50"), ("10000", "3.85"), ("100000", "4.255"))),
    ProductSpec("FD-24M", "FIXED_DEPOSIT", "ACT/360", "QUARTERLY", "WHOLE", "5000", "10", 24, 8,
                (("0", "4.00"), ("50000", "4.35"), ("250000", "4.80"))),
    ProductSpec("FD-60M", "FIXED_DEPOSIT", "30/360", "ANNUAL", "BANDED", None, "0", 60, 4,
                (("0", "4.50"), ("100000", "5.25"), ("500000", "5.875"))),
    ProductSpec("RD-12M", "RECURRING_DEPOSIT", "ACT/ACT", "MONTHLY", "WHOLE", None, "0", 12, 9,
                (("0", "3.25"), ("5000", "3.50"))),
    ProductSpec("RD-36M", "RECURRING_DEPOSIT", "30/360", "AT_MATURITY", "BANDED", None, "10", 36, 5,
                (("0", "3.80"), ("10000", "4.20"), ("50000", "4.654321"))),
)  # fmt: skip


@dataclass(frozen=True)
class CurrencySpec:
    code: str
    minor_units: int
    weight: int
    """Share of the book, in percent."""
    per_cent: tuple[int, int]
    """Minor units worth one US cent, as a fraction: balances are drawn in cents and converted."""


CURRENCIES: tuple[CurrencySpec, ...] = (
    CurrencySpec("USD", 2, 40, (1, 1)),
    CurrencySpec("EUR", 2, 20, (23, 25)),
    CurrencySpec("GBP", 2, 10, (79, 100)),
    CurrencySpec("CHF", 2, 5, (22, 25)),
    CurrencySpec("JPY", 0, 8, (3, 2)),
    CurrencySpec("KRW", 0, 4, (27, 2)),
    CurrencySpec("KWD", 3, 5, (307, 100)),
    CurrencySpec("BHD", 3, 4, (15, 4)),
    CurrencySpec("OMR", 3, 4, (77, 20)),
)

KIND_SAVINGS, KIND_FIXED, KIND_RECURRING = 0, 1, 2
KIND_OF_TYPE = {"SAVINGS": KIND_SAVINGS, "FIXED_DEPOSIT": KIND_FIXED, "RECURRING_DEPOSIT": KIND_RECURRING}


@dataclass(frozen=True)
class Summary:
    products: int
    tiers: int
    accounts: int
    balances: int

    def rows(self) -> dict[str, int]:
        return {
            "interest_products": self.products,
            "interest_rate_tiers": self.tiers,
            "accounts": self.accounts,
            "account_balances": self.balances,
        }


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (Jan 31 + 1 month = Feb 28/29)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    next_month = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day.day, (next_month - timedelta(days=1)).day))


def base_effective_from(start: date) -> date:
    # Before any generated account opened, so every account has a schedule on every day it lives.
    return date(start.year - 10, 1, 1)


def revision_date(start: date, days: int) -> date:
    return start + timedelta(days=days // 2)


def product_rows() -> list[tuple[str, str, str, str, str, str | None, str]]:
    return [
        (
            p.code,
            p.account_type,
            p.day_count,
            p.posting_frequency,
            p.tier_mode,
            p.min_balance_for_interest,
            p.withholding_tax_rate,
        )
        for p in PRODUCTS
    ]


def tier_rows(start: date, days: int) -> list[tuple[str, date, str, str]]:
    rows: list[tuple[str, date, str, str]] = []
    for p in PRODUCTS:
        rows.extend((p.code, base_effective_from(start), low, rate) for low, rate in p.tiers)
        rows.extend((p.code, revision_date(start, days), low, rate) for low, rate in p.revised_tiers)
    return rows


def format_money(ten_thousandths: int) -> str:
    """NUMERIC(19,4) text from an integer count of 0.0001."""
    sign = "-" if ten_thousandths < 0 else ""
    whole, fraction = divmod(abs(ten_thousandths), 10_000)
    return f"{sign}{whole}.{fraction:04d}"


class _DateText:
    """ISO text of `start + offset`, memoised: a book has few distinct dates and many rows."""

    def __init__(self, start: date) -> None:
        self.start = start
        self.cache: dict[int, str] = {}

    def __call__(self, offset: int) -> str:
        text = self.cache.get(offset)
        if text is None:
            text = (self.start + timedelta(days=offset)).isoformat()
            self.cache[offset] = text
        return text


@dataclass
class _AccountFacts:
    """What the balance pass needs from the account pass, packed: 1M accounts cost ~14 MB."""

    kind: "array[int]"
    currency: "array[int]"
    dormant: "array[int]"
    opened: "array[int]"
    ends: "array[int]"
    """Day offset of closed_on or maturity_date, whichever is first; OPEN_ENDED when neither."""


def _weighted_table(weights: list[int]) -> tuple[int, ...]:
    return tuple(index for index, weight in enumerate(weights) for _ in range(weight))


def _account_batches(
    rng: random.Random, count: int, start: date, days: int, facts: _AccountFacts
) -> Iterator[tuple[int, str]]:
    """COPY text of accounts 1..count, in batches of (accounts in batch, text)."""
    dates = _DateText(start)
    product_pick = _weighted_table([p.weight for p in PRODUCTS])
    currency_pick = _weighted_table([c.weight for c in CURRENCIES])
    randrange = rng.randrange
    lines: list[str] = []
    for account_id in range(1, count + 1):
        # The first accounts walk the catalogues so that even a tiny book has every product and currency.
        p_index = (
            account_id - 1 if account_id <= len(PRODUCTS) else product_pick[randrange(len(product_pick))]
        )
        c_index = (
            account_id - 1 if account_id <= len(CURRENCIES) else currency_pick[randrange(len(currency_pick))]
        )
        product = PRODUCTS[p_index]
        draw = randrange(100)
        status = "DORMANT" if draw < 5 else "CLOSED" if draw < 9 else "ACTIVE"

        # A dormant account has seen no activity for long, so it cannot be new.
        if randrange(10) == 0 and status != "DORMANT":
            opened = randrange(days)
        else:
            # Deposits still running at the start: opened within one term before it.
            back = product.term_months * 30 if product.term_months else HISTORY_DAYS
            opened = -1 - randrange(back)

        closed: int | None = None
        if status == "CLOSED":
            if opened < 0 and randrange(2) == 0:
                closed = opened + randrange(-opened)
            else:
                first = max(opened, 0)
                closed = first + randrange(days - first)
        elif status == "ACTIVE" and randrange(50) == 0:
            # A closure already booked for a day inside the period.
            first = max(opened, 0)
            closed = first + randrange(days - first)

        matures: int | None = None
        if product.term_months:
            opened_on = start + timedelta(days=opened)
            matures = (add_months(opened_on, product.term_months) - start).days

        override = NULL
        if randrange(100) == 0:
            hundredths = randrange(25, 601)
            override = f"{hundredths // 100}.{hundredths % 100:02d}"

        facts.kind.append(KIND_OF_TYPE[product.account_type])
        facts.currency.append(c_index)
        facts.dormant.append(status == "DORMANT")
        facts.opened.append(opened)
        facts.ends.append(
            min(OPEN_ENDED if closed is None else closed, OPEN_ENDED if matures is None else matures)
        )

        lines.append(
            f"{account_id}\tACC{account_id:010d}\t{product.code}\t{CURRENCIES[c_index].code}\t{status}\t"
            f"{dates(opened)}\t{NULL if closed is None else dates(closed)}\t"
            f"{NULL if matures is None else dates(matures)}\t{override}\n"
        )
        if len(lines) == BATCH_ACCOUNTS:
            yield len(lines), "".join(lines)
            lines = []
    if lines:
        yield len(lines), "".join(lines)


def _opening_cents(rng: random.Random, kind: int, opened: int, instalment: int) -> int:
    randrange = rng.randrange
    if kind == KIND_FIXED:
        return randrange(1, 501) * 1_000_00
    if kind == KIND_RECURRING:
        return instalment * (1 if opened >= 0 else -opened // 30 + 1)
    draw = randrange(100)
    # A few zero and overdrawn accounts exercise the skip rules; the rest spread across the tiers.
    if draw == 0:
        return 0
    if draw == 1:
        return -randrange(1, 500_00)
    if draw < 8:
        return randrange(1, 100_00)
    if draw < 70:
        return randrange(100_00, 20_000_00)
    if draw < 93:
        return randrange(20_000_00, 200_000_00)
    return randrange(200_000_00, 5_000_000_00)


def _savings_move(rng: random.Random, cents: int) -> int:
    randrange = rng.randrange
    size = abs(cents)
    draw = randrange(10)
    if draw < 5:
        moved = cents + randrange(1, size // 10 + 500_00)
    elif draw < 9:
        moved = cents - randrange(size // 5 + 1)
    elif randrange(2) == 0:
        moved = cents + randrange(1_000_00, 100_000_00)
    else:
        moved = cents - randrange(size + 1)
    # Only an account that is already overdrawn goes (further) below zero.
    return moved if moved >= 0 or cents < 0 else 0


def _balance_batches(
    rng: random.Random, count: int, start: date, days: int, facts: _AccountFacts
) -> Iterator[tuple[int, int, str]]:
    """COPY text of the snapshots, in batches of (accounts in batch, rows, text).

    Each account gets an opening snapshot on the day before the period (or the day it opens),
    then a change on a few days only, and a zero balance on the day it closes or matures.
    """
    dates = _DateText(start)
    randrange = rng.randrange
    sample = rng.sample
    factors = [(c.per_cent[0], c.per_cent[1], 10 ** (4 - c.minor_units)) for c in CURRENCIES]
    # Recurring deposits pay in on their opening day of the month (the 28th for later days).
    instalment_days: dict[int, list[int]] = {}
    for offset in range(days):
        instalment_days.setdefault(min((start + timedelta(days=offset)).day, 28), []).append(offset)
    max_changes = days // 6 + 1
    zero = format_money(0)
    lines: list[str] = []
    rows = 0
    pending = 0
    for index in range(count):
        account_id = index + 1
        kind, opened, ends = facts.kind[index], facts.opened[index], facts.ends[index]
        num, den, scale = factors[facts.currency[index]]
        pending += 1
        if ends < 0:
            # Gone before the period: only its final, empty balance.
            lines.append(f"{account_id}\t{dates(ends)}\t{zero}\n")
            rows += 1
        else:
            first = opened if opened >= 0 else -1
            instalment = randrange(5, 201) * 10_00 if kind == KIND_RECURRING else 0
            cents = _opening_cents(rng, kind, opened, instalment)
            lines.append(f"{account_id}\t{dates(first)}\t{format_money(cents * num // den * scale)}\n")
            rows += 1
            stop = min(ends, days)
            if not facts.dormant[index] and stop - first > 1:
                if kind == KIND_SAVINGS:
                    changes = sorted(
                        sample(range(first + 1, stop), min(randrange(max_changes), stop - first - 1))
                    )
                    for offset in changes:
                        cents = _savings_move(rng, cents)
                        lines.append(
                            f"{account_id}\t{dates(offset)}\t{format_money(cents * num // den * scale)}\n"
                        )
                    rows += len(changes)
                elif kind == KIND_RECURRING:
                    day_of_month = min((start + timedelta(days=opened)).day, 28)
                    for offset in instalment_days.get(day_of_month, ()):
                        if first < offset < stop:
                            cents += instalment
                            lines.append(
                                f"{account_id}\t{dates(offset)}\t{format_money(cents * num // den * scale)}\n"
                            )
                            rows += 1
            if first < ends < days:
                lines.append(f"{account_id}\t{dates(ends)}\t{zero}\n")
                rows += 1
        if pending == BATCH_ACCOUNTS:
            yield pending, rows, "".join(lines)
            lines, rows, pending = [], 0, 0
    if pending:
        yield pending, rows, "".join(lines)


@contextmanager
def ledger_truncate_allowed(conn: psycopg.Connection) -> Iterator[None]:
    """The one explicit path that may TRUNCATE ledger_entries, which is otherwise append-only.

    Opens a transaction (a savepoint inside one) that lifts migration 0007's TRUNCATE guard,
    runs the body, and restores the guard before committing. Other sessions never see the guard
    lifted: the change is transactional and ALTER TABLE's lock makes them wait for the commit. If
    the body fails, all of it, the lifting included, is rolled back. UPDATE and DELETE stay
    refused throughout. For demo and test databases (generate --replace --discard-ledger,
    quickstart, the test suite's reset); a bank's ledger is corrected by reversing journals.
    """
    guard = sql.SQL("ALTER TABLE {} {} TRIGGER {}")
    table, trigger = sql.Identifier(LEDGER_TABLE), sql.Identifier(LEDGER_TRUNCATE_GUARD)
    with conn.transaction():
        conn.execute(guard.format(table, sql.SQL("DISABLE"), trigger))
        yield
        conn.execute(guard.format(table, sql.SQL("ENABLE"), trigger))


def _ledger_contents(conn: psycopg.Connection) -> str | None:
    """What the ledger holds, in words; None when it is empty."""
    row = conn.execute(
        "SELECT count(*), count(DISTINCT journal_key), min(value_date), max(value_date) FROM ledger_entries"
    ).fetchone()
    if row is None or row[0] == 0:
        return None
    lines, journals, first, last = row
    return (
        f"{lines:,} line{'s' if lines != 1 else ''} in {journals:,} journal{'s' if journals != 1 else ''},"
        f" value dates {first} to {last}"
    )


def _book_is_empty(conn: psycopg.Connection) -> bool:
    query = sql.SQL(" AND ").join(
        sql.SQL("NOT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table)) for table in INPUT_TABLES
    )
    row = conn.execute(sql.SQL("SELECT {}").format(query)).fetchone()
    return bool(row and row[0])


def generate_book(
    conn: psycopg.Connection,
    *,
    accounts: int,
    start: date,
    days: int,
    seed: int,
    replace: bool = False,
    discard_ledger: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Write a synthetic book into the input tables, all in one transaction.

    Without `replace`, a non-empty book is refused (BookNotEmptyError). With it, the input
    tables and REPLACED_OUTPUTS (accruals, postings, account results, account statuses,
    executions) are emptied first; currencies and the job configuration stay. The ledger is
    append-only, so `replace` refuses a ledger that holds entries (LedgerNotEmptyError, naming
    what it holds, before anything is written) unless `discard_ledger` is given too: then
    ledger_entries is emptied as well, through `ledger_truncate_allowed`, the one path that may.

    `progress` is told how many units of work (accounts written, twice: once for the accounts,
    once for their balances) were just done; the total is `2 * accounts`.
    """
    if accounts < 1:
        raise InvalidArguments("accounts", "must be at least 1")
    if days < 1:
        raise InvalidArguments("days", "must be at least 1")
    if discard_ledger and not replace:
        raise InvalidArguments("discard_ledger", "goes with --replace")
    tick = progress or (lambda _: None)
    tables = sql.SQL(", ").join(sql.Identifier(t) for t in INPUT_TABLES)
    replaced = sql.SQL(", ").join(sql.Identifier(t) for t in (*INPUT_TABLES, *REPLACED_OUTPUTS, LEDGER_TABLE))
    with conn.transaction():
        # Held to commit: a second generator (or an importer) waits instead of interleaving with
        # this one; when replacing, pipeline runs wait too, so the ledger seen empty stays empty.
        if replace:
            conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(replaced))
        else:
            conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(tables))
        if replace:
            ledger = _ledger_contents(conn)
            if ledger is not None and not discard_ledger:
                raise LedgerNotEmptyError(
                    f"ledger_entries holds {ledger}; the ledger is append-only, so --replace leaves "
                    "it alone and has written nothing: pass --discard-ledger too to empty it as well"
                )
            # Without CASCADE: a table that references the book and is not listed here makes
            # this fail instead of being emptied unannounced.
            with ledger_truncate_allowed(conn):
                conn.execute(sql.SQL("TRUNCATE {}").format(replaced))
        elif not _book_is_empty(conn):
            raise BookNotEmptyError(
                "the input tables already hold data; pass --replace to empty them (and every pipeline "
                "output and execution record) first"
            )
        products, tiers = product_rows(), tier_rows(start, days)
        with conn.cursor() as cur:
            with cur.copy(
                "COPY interest_products (code, account_type, day_count, posting_frequency, tier_mode,"
                " min_balance_for_interest, withholding_tax_rate) FROM STDIN"
            ) as copy:
                for product in products:
                    copy.write_row(product)
            with cur.copy(
                "COPY interest_rate_tiers (product_code, effective_from, min_balance, annual_rate) FROM STDIN"
            ) as copy:
                for tier in tiers:
                    copy.write_row(tier)

            rng = random.Random(seed)
            facts = _AccountFacts(array("b"), array("b"), array("b"), array("i"), array("i"))
            with cur.copy(
                "COPY accounts (id, account_number, product_code, currency, status, opened_on, closed_on,"
                " maturity_date, rate_override) FROM STDIN"
            ) as copy:
                for done, text in _account_batches(rng, accounts, start, days, facts):
                    copy.write(text)
                    tick(done)

            # A stream of its own, so that changing how accounts are drawn leaves balances' draws alone.
            balance_rng = random.Random(f"{seed}:balances")
            balances = 0
            with cur.copy(
                "COPY account_balances (account_id, balance_date, closing_balance) FROM STDIN"
            ) as copy:
                for done, rows, text in _balance_batches(balance_rng, accounts, start, days, facts):
                    copy.write(text)
                    balances += rows
                    tick(done)
    analyze(conn, INPUT_TABLES)
    return Summary(products=len(products), tiers=len(tiers), accounts=accounts, balances=balances)
