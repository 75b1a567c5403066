"""The synthetic book: deterministic, covering every rule's inputs, sparse, and written safely."""

import ast
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import URL

import interest_pipeline.data
from interest_pipeline.cli import main
from interest_pipeline.data.errors import BookNotEmptyError, InvalidArguments, LedgerNotEmptyError
from interest_pipeline.data.generate import (
    INPUT_TABLES,
    PRODUCTS,
    REPLACED_OUTPUTS,
    Summary,
    add_months,
    format_money,
    generate_book,
)
from interest_pipeline.db import migrate
from interest_pipeline.db.engine import raw_connection
from interest_pipeline.db.models import ACCOUNT_TYPES, DAY_COUNTS, POSTING_FREQUENCIES, TIER_MODES
from interest_pipeline_tests.support.database import fresh_database

START = date(2025, 1, 1)
DAYS = 40
END = START + timedelta(days=DAYS - 1)
ACCOUNTS = 300
SEED = 42

# Ordered by primary key, so equal tables give equal digests.
DIGEST_QUERIES = {
    "interest_products": "SELECT md5(string_agg(t::text, E'\\n' ORDER BY code)) FROM interest_products t",
    "interest_rate_tiers": "SELECT md5(string_agg(t::text, E'\\n' ORDER BY product_code, effective_from,"
    " min_balance)) FROM interest_rate_tiers t",
    "accounts": "SELECT md5(string_agg(t::text, E'\\n' ORDER BY id)) FROM accounts t",
    "account_balances": "SELECT md5(string_agg(t::text, E'\\n' ORDER BY account_id, balance_date))"
    " FROM account_balances t",
}


def generate(url: URL, *, seed: int = SEED, replace: bool = False, discard_ledger: bool = False) -> Summary:
    with raw_connection(url) as connection:
        return generate_book(
            connection,
            accounts=ACCOUNTS,
            start=START,
            days=DAYS,
            seed=seed,
            replace=replace,
            discard_ledger=discard_ledger,
        )


def digests(url: URL) -> dict[str, str]:
    with raw_connection(url) as connection:
        return {table: str(connection.execute(query).fetchone()) for table, query in DIGEST_QUERIES.items()}


def counts(conn: psycopg.Connection) -> dict[str, int]:
    result = {}
    for table in DIGEST_QUERIES:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        result[table] = row[0]
    return result


def column(
    conn: psycopg.Connection, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
) -> list[Any]:
    return [row[0] for row in conn.execute(query, params).fetchall()]


@pytest.fixture
def book(clean_db: URL, conn: psycopg.Connection) -> psycopg.Connection:
    """A connection to a database holding the standard test book."""
    generate(clean_db)
    return conn


class TestDeterminism:
    def test_same_arguments_give_identical_tables_in_another_database(self, clean_db: URL) -> None:
        generate(clean_db)
        with fresh_database() as other:
            generate(other)
            assert digests(other) == digests(clean_db)

    def test_another_seed_gives_other_accounts_and_balances(self, clean_db: URL) -> None:
        generate(clean_db)
        first = digests(clean_db)
        generate(clean_db, seed=SEED + 1, replace=True)
        second = digests(clean_db)
        assert second["accounts"] != first["accounts"]
        assert second["account_balances"] != first["account_balances"]

    def test_the_catalogue_does_not_depend_on_the_seed(self, clean_db: URL) -> None:
        generate(clean_db)
        first = digests(clean_db)
        generate(clean_db, seed=SEED + 1, replace=True)
        second = digests(clean_db)
        assert second["interest_products"] == first["interest_products"]
        assert second["interest_rate_tiers"] == first["interest_rate_tiers"]


class TestCatalogue:
    @pytest.mark.parametrize(
        ("name", "values"),
        [
            ("account_type", ACCOUNT_TYPES),
            ("day_count", DAY_COUNTS),
            ("posting_frequency", POSTING_FREQUENCIES),
            ("tier_mode", TIER_MODES),
        ],
    )
    def test_every_value_of_each_vocabulary_is_used_by_a_product(
        self, book: psycopg.Connection, name: str, values: tuple[str, ...]
    ) -> None:
        assert set(column(book, f"SELECT DISTINCT {name} FROM interest_products")) == set(values)

    @pytest.mark.parametrize(
        ("name", "values"),
        [
            ("account_type", ACCOUNT_TYPES),
            ("day_count", DAY_COUNTS),
            ("posting_frequency", POSTING_FREQUENCIES),
            ("tier_mode", TIER_MODES),
        ],
    )
    def test_every_value_of_each_vocabulary_has_accounts(
        self, book: psycopg.Connection, name: str, values: tuple[str, ...]
    ) -> None:
        used = column(
            book,
            f"SELECT DISTINCT p.{name} FROM accounts a JOIN interest_products p ON p.code = a.product_code",
        )
        assert set(used) == set(values)

    def test_some_products_have_a_minimum_balance_and_some_none(self, book: psycopg.Connection) -> None:
        minimums = column(book, "SELECT min_balance_for_interest FROM interest_products")
        assert None in minimums
        assert {Decimal("500"), Decimal("1000")} <= set(minimums)

    def test_withholding_tax_rates_include_none_ten_and_fifteen_percent(
        self, book: psycopg.Connection
    ) -> None:
        rates = set(column(book, "SELECT DISTINCT withholding_tax_rate FROM interest_products"))
        assert rates == {Decimal("0"), Decimal("10"), Decimal("15")}

    def test_every_schedule_has_a_tier_at_zero(self, book: psycopg.Connection) -> None:
        without_zero = column(
            book,
            "SELECT product_code || ' ' || effective_from FROM interest_rate_tiers"
            " GROUP BY product_code, effective_from HAVING min(min_balance) <> 0",
        )
        assert without_zero == []

    def test_every_schedule_has_several_tiers_rising_with_the_balance(self, book: psycopg.Connection) -> None:
        rows = book.execute(
            "SELECT product_code, effective_from, array_agg(annual_rate ORDER BY min_balance)"
            " FROM interest_rate_tiers GROUP BY 1, 2"
        ).fetchall()
        for code, effective_from, rates in rows:
            assert len(rates) >= 2, (code, effective_from)
            assert rates == sorted(rates) and len(set(rates)) == len(rates), (code, effective_from, rates)

    def test_rates_are_between_one_basis_point_and_six_percent(self, book: psycopg.Connection) -> None:
        row = book.execute("SELECT min(annual_rate), max(annual_rate) FROM interest_rate_tiers").fetchone()
        assert row == (Decimal("0.010000"), Decimal("5.875000"))

    def test_a_rate_with_six_decimals_exists(self, book: psycopg.Connection) -> None:
        assert column(
            book, "SELECT annual_rate FROM interest_rate_tiers WHERE annual_rate * 1e5 % 1 <> 0"
        ) == [Decimal("4.654321")]

    def test_some_schedules_change_inside_the_period(self, book: psycopg.Connection) -> None:
        changes = book.execute(
            "SELECT DISTINCT product_code, effective_from FROM interest_rate_tiers"
            " WHERE effective_from BETWEEN %s AND %s ORDER BY 1",
            (START, END),
        ).fetchall()
        assert changes == [
            ("FD-12M", START + timedelta(days=DAYS // 2)),
            ("SAV-EVERYDAY", START + timedelta(days=20)),
        ]

    def test_base_schedules_start_before_every_account_opened(self, book: psycopg.Connection) -> None:
        row = book.execute(
            "SELECT count(*) FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM interest_rate_tiers t"
            " WHERE t.product_code = a.product_code AND t.effective_from <= a.opened_on)"
        ).fetchone()
        assert row == (0,)


class TestAccounts:
    def test_ids_run_from_one_to_n_with_padded_numbers(self, book: psycopg.Connection) -> None:
        row = book.execute(
            "SELECT min(id), max(id), count(*), count(DISTINCT account_number),"
            " bool_and(account_number = 'ACC' || lpad(id::text, 10, '0')) FROM accounts"
        ).fetchone()
        assert row == (1, ACCOUNTS, ACCOUNTS, ACCOUNTS, True)

    def test_currencies_include_zero_and_three_digit_ones(self, book: psycopg.Connection) -> None:
        digits = column(
            book,
            "SELECT DISTINCT c.minor_units FROM accounts a JOIN currencies c ON c.code = a.currency ORDER BY 1",
        )
        assert digits == [0, 2, 3]
        assert len(column(book, "SELECT DISTINCT currency FROM accounts")) == 9

    def test_most_accounts_are_active_some_dormant_some_closed(self, book: psycopg.Connection) -> None:
        by_status: dict[str, int] = dict(
            book.execute("SELECT status, count(*) FROM accounts GROUP BY status").fetchall()
        )
        assert set(by_status) == {"ACTIVE", "DORMANT", "CLOSED"}
        assert by_status["ACTIVE"] > ACCOUNTS * 3 // 4

    def test_closed_accounts_close_before_and_inside_the_period(self, book: psycopg.Connection) -> None:
        inside = [
            row[0]
            for row in book.execute(
                "SELECT closed_on >= %s FROM accounts WHERE status = 'CLOSED' GROUP BY 1 ORDER BY 1", (START,)
            )
        ]
        assert inside == [False, True]

    def test_some_active_accounts_have_a_closing_date_inside_the_period(
        self, book: psycopg.Connection
    ) -> None:
        closing = column(
            book, "SELECT closed_on FROM accounts WHERE status = 'ACTIVE' AND closed_on IS NOT NULL"
        )
        assert closing
        assert all(START <= day <= END for day in closing)

    def test_deposits_and_only_deposits_mature(self, book: psycopg.Connection) -> None:
        rows = book.execute(
            "SELECT p.account_type, bool_and(a.maturity_date IS NOT NULL), bool_or(a.maturity_date IS NOT NULL)"
            " FROM accounts a JOIN interest_products p ON p.code = a.product_code GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert rows == [
            ("FIXED_DEPOSIT", True, True),
            ("RECURRING_DEPOSIT", True, True),
            ("SAVINGS", False, False),
        ]

    def test_maturity_is_the_products_term_after_opening(self, book: psycopg.Connection) -> None:
        terms = {p.code: p.term_months for p in PRODUCTS}
        rows = book.execute(
            "SELECT product_code, opened_on, maturity_date FROM accounts WHERE maturity_date IS NOT NULL"
        )
        for code, opened_on, maturity_date in rows:
            term = terms[code]
            assert term is not None
            assert maturity_date == add_months(opened_on, term)

    def test_some_deposits_mature_inside_the_period(self, book: psycopg.Connection) -> None:
        row = book.execute(
            "SELECT count(*) FROM accounts WHERE maturity_date BETWEEN %s AND %s", (START, END)
        ).fetchone()
        assert row is not None and row[0] >= 3

    def test_a_few_accounts_have_a_rate_override(self, book: psycopg.Connection) -> None:
        overrides = column(book, "SELECT rate_override FROM accounts WHERE rate_override IS NOT NULL")
        assert 1 <= len(overrides) <= ACCOUNTS // 20
        assert all(Decimal("0.25") <= rate <= Decimal("6") for rate in overrides)

    def test_most_accounts_opened_before_the_period_some_during_it(self, book: psycopg.Connection) -> None:
        row = book.execute(
            "SELECT count(*) FILTER (WHERE opened_on < %(s)s), count(*) FILTER (WHERE opened_on BETWEEN %(s)s AND"
            " %(e)s), count(*) FILTER (WHERE opened_on > %(e)s) FROM accounts",
            {"s": START, "e": END},
        ).fetchone()
        assert row is not None
        before, during, after = row
        assert before > ACCOUNTS * 3 // 4 and during > 0 and after == 0


class TestBalances:
    def test_snapshots_are_sparse(self, book: psycopg.Connection) -> None:
        row = book.execute("SELECT count(*), count(DISTINCT account_id) FROM account_balances").fetchone()
        assert row is not None
        rows, accounts = row
        assert accounts == ACCOUNTS
        assert ACCOUNTS < rows < ACCOUNTS * DAYS // 4

    def test_balances_change_on_days_inside_the_period(self, book: psycopg.Connection) -> None:
        days = [
            row[0]
            for row in book.execute(
                "SELECT DISTINCT balance_date FROM account_balances WHERE balance_date >= %s", (START,)
            )
        ]
        assert len(days) > DAYS // 2
        assert max(days) <= END

    def test_every_account_has_a_snapshot_by_its_first_day_in_the_period(
        self, book: psycopg.Connection
    ) -> None:
        # First day it can earn: opened_on or the period's start, if that comes before it ends.
        missing = column(
            book,
            "SELECT a.id FROM accounts a WHERE greatest(a.opened_on, %(s)s) < least(a.closed_on, a.maturity_date,"
            " %(e)s::date + 1) AND NOT EXISTS (SELECT 1 FROM account_balances b WHERE b.account_id = a.id"
            " AND b.balance_date <= greatest(a.opened_on, %(s)s))",
            {"s": START, "e": END},
        )
        assert missing == []

    def test_snapshots_before_the_period_are_openings_or_final_zeros(self, book: psycopg.Connection) -> None:
        early = book.execute(
            "SELECT b.balance_date = %(s)s::date - 1, coalesce(b.balance_date = least(a.closed_on, a.maturity_date)"
            " AND b.closing_balance = 0, false), count(*) FROM account_balances b JOIN accounts a ON a.id = b.account_id"
            " WHERE b.balance_date < %(s)s GROUP BY 1, 2 ORDER BY 1, 2",
            {"s": START},
        ).fetchall()
        assert [(opening, final) for opening, final, _ in early] == [(False, True), (True, False)]

    def test_balances_spread_from_overdrawn_to_millions(self, book: psycopg.Connection) -> None:
        row = book.execute(
            "SELECT count(*) FILTER (WHERE closing_balance < 0), count(*) FILTER (WHERE closing_balance = 0),"
            " count(*) FILTER (WHERE closing_balance > 0 AND closing_balance < 100),"
            " count(*) FILTER (WHERE closing_balance > 250000) FROM account_balances"
        ).fetchone()
        assert row is not None
        assert all(n > 0 for n in row), row

    def test_dormant_accounts_have_no_activity(self, book: psycopg.Connection) -> None:
        row = book.execute(
            "SELECT count(*) FROM account_balances b JOIN accounts a ON a.id = b.account_id"
            " WHERE a.status = 'DORMANT' AND b.balance_date >= %s AND b.closing_balance <> 0",
            (START,),
        ).fetchone()
        assert row == (0,)

    @pytest.mark.parametrize(("minor_units", "step"), [(0, "1"), (2, "0.01"), (3, "0.001")])
    def test_balances_are_whole_minor_units_of_their_currency(
        self, book: psycopg.Connection, minor_units: int, step: str
    ) -> None:
        row = book.execute(
            "SELECT count(*), count(*) FILTER (WHERE b.closing_balance %% %s <> 0) FROM account_balances b"
            " JOIN accounts a ON a.id = b.account_id JOIN currencies c ON c.code = a.currency"
            " WHERE c.minor_units = %s",
            (Decimal(step), minor_units),
        ).fetchone()
        assert row is not None
        assert row[0] > 0 and row[1] == 0


class TestWriting:
    def test_returns_the_rows_written_per_table(self, clean_db: URL, conn: psycopg.Connection) -> None:
        summary = generate(clean_db)
        assert summary.rows() == counts(conn)

    def test_refuses_a_non_empty_book_and_changes_nothing(
        self, book: psycopg.Connection, clean_db: URL
    ) -> None:
        before = digests(clean_db)
        with pytest.raises(BookNotEmptyError, match="--replace"):
            generate(clean_db, seed=SEED + 1)
        assert digests(clean_db) == before


# Every table the schema has besides Alembic's, as after a pipeline run (pipeline_state).
OUTPUT_COUNTS = {
    "interest_accrual_entries": 3,
    "interest_accrual_backdated": 1,
    "interest_postings": 1,
    "ledger_entries": 3,
    "interest_batch_execution": 2,
    "interest_batch_account_result": 2,
    "interest_batch_account_status": 2,
}
KEPT_TABLES = {"currencies": 9, "interest_batch_config": 2}


def pipeline_state(conn: psycopg.Connection, *, with_ledger: bool = True) -> None:
    """What an accrual run and a posting run leave for account 1: accruals (one capitalized, one back-dated),
    a posting, its journal, both executions with a result each, and both account statuses."""
    [currency] = column(conn, "SELECT currency FROM accounts WHERE id = 1")
    conn.execute(
        "INSERT INTO interest_batch_execution (id, job_type, business_date, trigger, status, account_types,"
        " completed_at) VALUES ('run-a', 'daily_interest_accrual', %(d)s, 'MANUAL', 'SUCCESS', ARRAY['SAVINGS'], now()),"
        " ('run-p', 'interest_posting', %(d)s, 'MANUAL', 'SUCCESS', ARRAY['SAVINGS'], now())",
        {"d": START},
    )
    # The first row is written before the posting (write_seq), which so capitalizes it.
    conn.execute(
        "INSERT INTO interest_accruals (account_id, accrual_date, balance, amount) VALUES (1, %(d)s, 100, 3)",
        {"d": START},
    )
    conn.execute(
        "INSERT INTO interest_postings (id, account_id, posting_date, made_on, idempotency_key, currency, carry_in,"
        " accrued, gross, carry_out, tax, net, withholding_tax_rate, accrual_count, execution_id)"
        " VALUES (1, 1, %(d)s, %(d)s, 'INT-CAP-1-2025-01', %(c)s, 0, 3, 3, 0, 0, 3, 0, 1, 'run-p')",
        {"d": START, "c": currency},
    )
    # Written after it: the day after (the next posting's), and the day before (back-dated, so
    # recorded in interest_accrual_backdated for the next posting, migration 0015).
    conn.execute(
        "INSERT INTO interest_accruals (account_id, accrual_date, balance, amount)"
        " VALUES (1, %(d)s::date + 1, 100, 3), (1, %(d)s::date - 1, 100, 3)",
        {"d": START},
    )
    conn.execute(
        "INSERT INTO interest_batch_account_result (execution_id, job_type, business_date, account_id, status, amount)"
        " VALUES ('run-a', 'daily_interest_accrual', %(d)s, 1, 'SUCCESS', 3),"
        " ('run-p', 'interest_posting', %(d)s, 1, 'SUCCESS', 3)",
        {"d": START},
    )
    conn.execute(
        "INSERT INTO interest_batch_account_status (account_id, job_type, last_business_date, last_status,"
        " last_execution_id, first_business_date) VALUES (1, 'daily_interest_accrual', %(d)s, 'SUCCESS', 'run-a', %(d)s),"
        " (1, 'interest_posting', %(d)s, 'SUCCESS', 'run-p', %(d)s)",
        {"d": START},
    )
    if with_ledger:
        conn.execute(
            "INSERT INTO ledger_entries (journal_key, line_no, gl_account, account_id, debit, credit, currency,"
            " value_date) VALUES ('INT-CAP-1-2025-01', 1, 'INTEREST_EXPENSE', NULL, 3, 0, %(c)s, %(d)s),"
            " ('INT-CAP-1-2025-01', 2, 'CUSTOMER_DEPOSITS', 1, 0, 2.5, %(c)s, %(d)s),"
            " ('INT-CAP-1-2025-01', 3, 'WITHHOLDING_TAX_PAYABLE', NULL, 0, 0.5, %(c)s, %(d)s)",
            {"d": START, "c": currency},
        )


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Rows per table of the schema (Alembic's own table and the API's tokens left out: tokens are
    credentials, not the book, and the API's end-to-end tests keep theirs for the session). A
    partitioned table counts once, its partitions' rows in it (the accruals' months, migration 0015)."""
    tables = column(
        conn,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        " AND c.relname <> ALL(%s) ORDER BY 1",
        ([migrate.VERSION_TABLE, "api_tokens"],),
    )
    return {t: column(conn, f"SELECT count(*) FROM {t}")[0] for t in tables}


class TestReplace:
    """--replace empties exactly what it says: the inputs, every output, the ledger only on request."""

    def test_replace_empties_every_output_and_keeps_currencies_and_config(
        self, book: psycopg.Connection, clean_db: URL
    ) -> None:
        pipeline_state(book, with_ledger=False)
        summary = generate(clean_db, seed=SEED + 1, replace=True)
        after = table_counts(book)
        assert after == {
            **summary.rows(),
            **{t: 0 for t in OUTPUT_COUNTS},
            **KEPT_TABLES,
        }

    def test_replace_refuses_a_ledger_with_entries_and_writes_nothing(
        self, book: psycopg.Connection, clean_db: URL
    ) -> None:
        pipeline_state(book)
        before, book_digests = table_counts(book), digests(clean_db)
        assert {t: before[t] for t in OUTPUT_COUNTS} == OUTPUT_COUNTS
        with pytest.raises(LedgerNotEmptyError) as caught:
            generate(clean_db, seed=SEED + 1, replace=True)
        assert str(caught.value) == (
            f"ledger_entries holds 3 lines in 1 journal, value dates {START} to {START}; the ledger is"
            " append-only, so --replace leaves it alone and has written nothing: pass --discard-ledger too"
            " to empty it as well"
        )
        assert (table_counts(book), digests(clean_db)) == (before, book_digests)

    def test_replace_with_discard_ledger_empties_the_ledger_too(
        self, book: psycopg.Connection, clean_db: URL
    ) -> None:
        pipeline_state(book)
        summary = generate(clean_db, seed=SEED + 1, replace=True, discard_ledger=True)
        assert table_counts(book) == {**summary.rows(), **{t: 0 for t in OUTPUT_COUNTS}, **KEPT_TABLES}
        # The ledger is guarded again afterwards.
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            book.execute("TRUNCATE ledger_entries")

    def test_discard_ledger_needs_replace(self, book: psycopg.Connection, clean_db: URL) -> None:
        before = digests(clean_db)
        with pytest.raises(InvalidArguments, match="discard_ledger: goes with --replace"):
            generate(clean_db, seed=SEED + 1, discard_ledger=True)
        result = CliRunner().invoke(
            main, ["generate", "--accounts", "5", "--start", "2025-01-01", "--discard-ledger"]
        )
        assert result.exit_code == 2, result.output
        assert "Invalid value for '--discard-ledger': goes with --replace" in result.output
        assert digests(clean_db) == before

    def test_help_names_exactly_what_replace_empties_and_keeps(
        self, book: psycopg.Connection, clean_db: URL
    ) -> None:
        result = CliRunner().invoke(main, ["generate", "--help"])
        assert result.exit_code == 0, result.output
        text = " ".join(result.output.split())
        replace_help = text[text.index("--replace") : text.index("--discard-ledger")]
        discard_help = text[text.index("--discard-ledger") :]
        pipeline_state(book)
        generate(clean_db, seed=SEED + 1, replace=True, discard_ledger=True)
        after = table_counts(book)
        # Every table is named in the help; the ones it says are emptied are, the others keep their rows.
        emptied = {t for t in after if t in INPUT_TABLES or after[t] == 0}
        assert emptied == {*INPUT_TABLES, *REPLACED_OUTPUTS, "ledger_entries"}
        for table in sorted(emptied - {"ledger_entries"}):
            assert table in replace_help, table
        assert "ledger_entries holds entries" in replace_help and "empty ledger_entries" in discard_help
        assert "currencies and interest_batch_config stay" in replace_help
        assert {t: after[t] for t in KEPT_TABLES} == KEPT_TABLES
        assert set(after) == emptied | set(KEPT_TABLES)


class TestCommand:
    def test_generate_prints_the_rows_per_table(self, clean_db: URL, conn: psycopg.Connection) -> None:
        result = CliRunner().invoke(
            main, ["generate", "--accounts", "50", "--start", "2025-01-01", "--days", "10", "--seed", "3"]
        )
        assert result.exit_code == 0, result.output
        for table, rows in counts(conn).items():
            assert f"{table}" in result.stdout and f" {rows:,} rows" in result.stdout
        assert counts(conn)["accounts"] == 50

    def test_generate_refuses_a_non_empty_book_with_a_non_zero_exit(self, book: psycopg.Connection) -> None:
        result = CliRunner().invoke(main, ["generate", "--accounts", "50", "--start", "2025-01-01"])
        assert result.exit_code == 1
        assert "pass --replace" in result.output
        assert counts(book)["accounts"] == ACCOUNTS


class TestHelpers:
    @pytest.mark.parametrize(
        ("ten_thousandths", "text"),
        [(0, "0.0000"), (1, "0.0001"), (-1, "-0.0001"), (123_456_789, "12345.6789"), (-50_000, "-5.0000")],
    )
    def test_format_money(self, ten_thousandths: int, text: str) -> None:
        assert format_money(ten_thousandths) == text

    @pytest.mark.parametrize(
        ("day", "months", "expected"),
        [
            (date(2024, 1, 31), 1, date(2024, 2, 29)),
            (date(2025, 1, 31), 1, date(2025, 2, 28)),
            (date(2024, 11, 15), 3, date(2025, 2, 15)),
            (date(2024, 2, 29), 12, date(2025, 2, 28)),
            (date(2020, 12, 31), 60, date(2025, 12, 31)),
        ],
    )
    def test_add_months_clamps_to_the_months_end(self, day: date, months: int, expected: date) -> None:
        assert add_months(day, months) == expected


class TestNoFloat:
    @pytest.mark.parametrize(
        "module", sorted(Path(interest_pipeline.data.__file__).parent.glob("*.py")), ids=lambda p: p.name
    )
    def test_module_uses_no_float(self, module: Path) -> None:
        tree = ast.parse(module.read_text())
        uses = [
            node.lineno
            for node in ast.walk(tree)
            if (isinstance(node, ast.Name) and node.id == "float")
            or (isinstance(node, ast.Constant) and isinstance(node.value, float))
            or (isinstance(node, ast.Attribute) and node.attr in {"random", "uniform", "gauss", "from_float"})
        ]
        assert uses == []


@pytest.mark.parametrize(
    "module", sorted(Path(interest_pipeline.data.__file__).parent.glob("*.py")), ids=lambda p: p.name
)
def test_data_module_raises_its_own_errors_not_click_ones(module: Path) -> None:
    """Only cli/ turns data/'s refusals (data.errors.DataError) into click errors."""
    imported = {
        name.split(".")[0]
        for node in ast.walk(ast.parse(module.read_text()))
        for name in (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    }
    assert "click" not in imported


class TestStatistics:
    def test_the_planner_knows_each_new_tables_size_at_once(self, book: psycopg.Connection) -> None:
        """A book just written is analyzed: the first run is not planned for empty tables (pg_class
        says -1 rows for a table never analyzed, and 0 after a TRUNCATE)."""
        planned = dict(
            book.execute(
                "SELECT relname, reltuples::bigint FROM pg_class WHERE relname = ANY (%s)",
                (list(DIGEST_QUERIES),),
            ).fetchall()
        )
        assert planned == counts(book)
        assert planned["accounts"] == ACCOUNTS
