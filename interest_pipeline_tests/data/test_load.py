"""CSV imports: exact rows for a good file; for a bad one, the line and column, and nothing written."""

import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import URL

from interest_pipeline.cli import main
from interest_pipeline.data.load import TABLES, LoadError, load_file
from interest_pipeline.db.engine import raw_connection

PRODUCTS_HEADER = (
    "code,account_type,day_count,posting_frequency,tier_mode,min_balance_for_interest,withholding_tax_rate"
)
TIERS_HEADER = "product_code,effective_from,min_balance,annual_rate"
ACCOUNTS_HEADER = (
    "id,account_number,product_code,currency,status,opened_on,closed_on,maturity_date,rate_override"
)
BALANCES_HEADER = "account_id,balance_date,closing_balance"

HEADERS = {
    "products": PRODUCTS_HEADER,
    "tiers": TIERS_HEADER,
    "accounts": ACCOUNTS_HEADER,
    "balances": BALANCES_HEADER,
}
# One good row per kind, put first in every bad file, so "nothing written" means something.
GOOD_ROWS = {
    "products": "NEW1,SAVINGS,ACT/365F,MONTHLY,WHOLE,,15",
    "tiers": "SAV,2025-06-01,0,1.5",
    "accounts": "10,ACC-10,SAV,USD,ACTIVE,2024-01-15,,,",
    "balances": "1,2025-01-02,100.5",
}


@pytest.fixture
def book(conn: psycopg.Connection) -> psycopg.Connection:
    """Two products, two accounts, one balance: what the files below refer to or collide with."""
    conn.execute(
        "INSERT INTO interest_products (code, account_type, day_count, posting_frequency, tier_mode) VALUES"
        " ('SAV', 'SAVINGS', 'ACT/365F', 'MONTHLY', 'WHOLE'),"
        " ('FD', 'FIXED_DEPOSIT', 'ACT/360', 'AT_MATURITY', 'BANDED')"
    )
    conn.execute(
        "INSERT INTO interest_rate_tiers VALUES ('SAV', '2020-01-01', 0, 1), ('FD', '2020-01-01', 0, 3),"
        " ('FD', '2020-01-01', 10000, 3.5)"
    )
    conn.execute(
        "INSERT INTO accounts (id, account_number, product_code, currency, status, opened_on) VALUES"
        " (1, 'ACC-1', 'SAV', 'USD', 'ACTIVE', '2024-01-01'), (2, 'ACC-2', 'FD', 'JPY', 'ACTIVE', '2024-06-01')"
    )
    conn.execute("INSERT INTO account_balances VALUES (1, '2025-01-01', 500)")
    return conn


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def load(url: URL, kind: str, path: Path) -> int:
    with raw_connection(url) as connection:
        return load_file(connection, kind, path)


def refusal(url: URL, kind: str, path: Path) -> LoadError:
    with pytest.raises(LoadError) as caught:
        load(url, kind, path)
    return caught.value


def table_rows(conn: psycopg.Connection, kind: str) -> list[tuple[object, ...]]:
    return conn.execute(f"SELECT * FROM {TABLES[kind].table} ORDER BY 1, 2, 3").fetchall()


class TestValidFiles:
    def test_products_load_exactly(self, book: psycopg.Connection, clean_db: URL, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "products.csv",
            PRODUCTS_HEADER,
            "P1,SAVINGS,30/360,QUARTERLY,BANDED,250.5,15",
            "P2,RECURRING_DEPOSIT,ACT/ACT,AT_MATURITY,WHOLE,,",
        )
        assert load(clean_db, "products", path) == 2
        rows = book.execute("SELECT * FROM interest_products WHERE code LIKE 'P%' ORDER BY code").fetchall()
        assert rows == [
            ("P1", "SAVINGS", "30/360", "QUARTERLY", "BANDED", Decimal("250.5000"), Decimal("15.000000")),
            ("P2", "RECURRING_DEPOSIT", "ACT/ACT", "AT_MATURITY", "WHOLE", None, Decimal("0.000000")),
        ]

    def test_optional_columns_may_be_left_out_of_the_header(
        self, book: psycopg.Connection, clean_db: URL, tmp_path: Path
    ) -> None:
        path = write(
            tmp_path,
            "p.csv",
            "tier_mode,code,account_type,day_count,posting_frequency",
            "WHOLE,P3,SAVINGS,ACT/360,ANNUAL",
        )
        assert load(clean_db, "products", path) == 1
        row = book.execute("SELECT * FROM interest_products WHERE code = 'P3'").fetchone()
        assert row == ("P3", "SAVINGS", "ACT/360", "ANNUAL", "WHOLE", None, Decimal("0.000000"))

    def test_tiers_load_exactly(self, book: psycopg.Connection, clean_db: URL, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "tiers.csv",
            TIERS_HEADER,
            "SAV,2025-06-01,10000,2.25",
            "SAV,2025-06-01,0,1.123456",
            "FD,2020-01-01,50000,4",  # a new tier of a schedule whose zero tier is already there
        )
        assert load(clean_db, "tiers", path) == 3
        assert table_rows(book, "tiers") == [
            ("FD", date(2020, 1, 1), Decimal("0.0000"), Decimal("3.000000")),
            ("FD", date(2020, 1, 1), Decimal("10000.0000"), Decimal("3.500000")),
            ("FD", date(2020, 1, 1), Decimal("50000.0000"), Decimal("4.000000")),
            ("SAV", date(2020, 1, 1), Decimal("0.0000"), Decimal("1.000000")),
            ("SAV", date(2025, 6, 1), Decimal("0.0000"), Decimal("1.123456")),
            ("SAV", date(2025, 6, 1), Decimal("10000.0000"), Decimal("2.250000")),
        ]

    def test_accounts_load_exactly(self, book: psycopg.Connection, clean_db: URL, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "accounts.csv",
            ACCOUNTS_HEADER,
            "10,ACC-10,SAV,EUR,ACTIVE,2024-01-15,,,",
            "11,ACC-11,SAV,KWD,CLOSED,2024-01-15,2025-01-20,,2.5",
            "12,ACC-12,FD,JPY,DORMANT,2024-03-31,,2025-03-31,",
        )
        assert load(clean_db, "accounts", path) == 3
        # Analyzed once loaded: the planner knows the table's 5 rows, not a guess for a fresh table.
        assert book.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE relname = 'accounts'"
        ).fetchone() == (5,)
        assert table_rows(book, "accounts")[2:] == [
            (10, "ACC-10", "SAV", "EUR", "ACTIVE", date(2024, 1, 15), None, None, None),
            (
                11,
                "ACC-11",
                "SAV",
                "KWD",
                "CLOSED",
                date(2024, 1, 15),
                date(2025, 1, 20),
                None,
                Decimal("2.500000"),
            ),
            (12, "ACC-12", "FD", "JPY", "DORMANT", date(2024, 3, 31), None, date(2025, 3, 31), None),
        ]

    def test_balances_load_exactly(self, book: psycopg.Connection, clean_db: URL, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "balances.csv",
            BALANCES_HEADER,
            "1,2025-01-02,50452.2090",
            "1,2025-01-05,-12.5",
            "2,2025-01-01,100000000000000.0001",
        )
        assert load(clean_db, "balances", path) == 3
        assert table_rows(book, "balances") == [
            (1, date(2025, 1, 1), Decimal("500.0000")),
            (1, date(2025, 1, 2), Decimal("50452.2090")),
            (1, date(2025, 1, 5), Decimal("-12.5000")),
            (2, date(2025, 1, 1), Decimal("100000000000000.0001")),
        ]

    def test_a_header_only_file_loads_nothing(
        self, book: psycopg.Connection, clean_db: URL, tmp_path: Path
    ) -> None:
        assert load(clean_db, "balances", write(tmp_path, "b.csv", BALANCES_HEADER)) == 0

    def test_a_byte_order_mark_and_padded_cells_are_accepted(
        self, book: psycopg.Connection, clean_db: URL, tmp_path: Path
    ) -> None:
        path = tmp_path / "b.csv"
        path.write_text(
            "\ufeffaccount_id, balance_date ,closing_balance\n2, 2025-02-01 , 7\n", encoding="utf-8"
        )
        assert load(clean_db, "balances", path) == 1
        assert table_rows(book, "balances")[-1] == (2, date(2025, 2, 1), Decimal("7.0000"))


BAD_FILES = [
    # products
    ("products", "bad enum", "NEW2,CHECKING,ACT/365F,MONTHLY,WHOLE,,0", "account_type", "'CHECKING' is not one of"),
    ("products", "bad day count", "NEW2,SAVINGS,ACT/365,MONTHLY,WHOLE,,0", "day_count", "'ACT/365' is not one of"),
    ("products", "missing required", "NEW2,SAVINGS,,MONTHLY,WHOLE,,0", "day_count", "a value is required"),
    ("products", "bad type", "NEW2,SAVINGS,ACT/360,MONTHLY,WHOLE,ten,0", "min_balance_for_interest", "'ten' is not a decimal"),
    ("products", "scale", "NEW2,SAVINGS,ACT/360,MONTHLY,WHOLE,,1.1234567", "withholding_tax_rate", "more than 6 decimal places"),
    ("products", "precision", "NEW2,SAVINGS,ACT/360,MONTHLY,WHOLE,1234567890123456,0", "min_balance_for_interest", "more than 15 digits"),
    ("products", "tax above 100", "NEW2,SAVINGS,ACT/360,MONTHLY,WHOLE,,100.5", "withholding_tax_rate", "'100.5' is above 100"),
    ("products", "negative minimum", "NEW2,SAVINGS,ACT/360,MONTHLY,WHOLE,-1,0", "min_balance_for_interest", "'-1' is below 0"),
    ("products", "duplicate in file", "NEW1,SAVINGS,ACT/360,MONTHLY,WHOLE,,0", "code", "duplicate key (code=NEW1): also on line 2"),
    ("products", "duplicate in database", "SAV,SAVINGS,ACT/360,MONTHLY,WHOLE,,0", "code", "product 'SAV' already exists"),
    # tiers
    ("tiers", "bad date", "SAV,2025-02-30,1000,2", "effective_from", "'2025-02-30' is not a date (YYYY-MM-DD)"),
    ("tiers", "unknown product", "NOPE,2025-06-01,0,1", "product_code", "unknown product 'NOPE'"),
    ("tiers", "rate scale", "SAV,2025-06-01,1000,1.1234567", "annual_rate", "more than 6 decimal places"),
    ("tiers", "balance scale", "SAV,2025-06-01,1000.12345,1", "min_balance", "more than 4 decimal places"),
    ("tiers", "negative rate", "SAV,2025-06-01,1000,-0.5", "annual_rate", "'-0.5' is below 0"),
    ("tiers", "missing required", "SAV,2025-06-01,1000,", "annual_rate", "a value is required"),
    ("tiers", "no zero tier", "SAV,2025-07-01,1000,2", "min_balance", "rate schedule SAV from 2025-07-01 has no tier at min_balance 0"),
    ("tiers", "duplicate in file", "SAV,2025-06-01,0.00,2", "min_balance", "duplicate key"),
    ("tiers", "duplicate in database", "SAV,2020-01-01,0,2", "min_balance", "already exists"),
    # accounts
    ("accounts", "bad date", "11,ACC-11,SAV,USD,ACTIVE,2025-13-01,,,", "opened_on", "'2025-13-01' is not a date (YYYY-MM-DD)"),
    ("accounts", "bad integer", "1O,ACC-11,SAV,USD,ACTIVE,2025-01-01,,,", "id", "'1O' is not an integer"),
    ("accounts", "bad enum", "11,ACC-11,SAV,USD,OPEN,2025-01-01,,,", "status", "'OPEN' is not one of ACTIVE, DORMANT, CLOSED"),
    ("accounts", "missing required", "11,,SAV,USD,ACTIVE,2025-01-01,,,", "account_number", "a value is required"),
    ("accounts", "closed without date", "11,ACC-11,SAV,USD,CLOSED,2025-01-01,,,", "closed_on", "a CLOSED account needs closed_on"),
    ("accounts", "closed before opened", "11,ACC-11,SAV,USD,CLOSED,2025-01-01,2024-12-31,,", "closed_on", "is before opened_on"),
    ("accounts", "matures on opening", "11,ACC-11,FD,USD,ACTIVE,2025-01-01,,2025-01-01,", "maturity_date", "is not after opened_on"),
    ("accounts", "rate scale", "11,ACC-11,SAV,USD,ACTIVE,2025-01-01,,,1.0000001", "rate_override", "more than 6 decimal places"),
    ("accounts", "unknown product", "11,ACC-11,NOPE,USD,ACTIVE,2025-01-01,,,", "product_code", "unknown product 'NOPE'"),
    ("accounts", "unknown currency", "11,ACC-11,SAV,XXX,ACTIVE,2025-01-01,,,", "currency", "unknown currency 'XXX'"),
    ("accounts", "duplicate id in file", "10,ACC-11,SAV,USD,ACTIVE,2025-01-01,,,", "id", "duplicate key (id=10): also on line 2"),
    ("accounts", "duplicate id in database", "1,ACC-11,SAV,USD,ACTIVE,2025-01-01,,,", "id", "account 1 already exists"),
    ("accounts", "duplicate number in database", "11,ACC-1,SAV,USD,ACTIVE,2025-01-01,,,", "account_number", "'ACC-1' already exists"),
    # balances
    ("balances", "unknown account", "999,2025-01-03,1", "account_id", "unknown account 999"),
    ("balances", "exponent", "1,2025-01-03,1e5", "closing_balance", "'1e5' is not a decimal number"),
    ("balances", "scale", "1,2025-01-03,100.12345", "closing_balance", "more than 4 decimal places"),
    ("balances", "precision", "1,2025-01-03,1000000000000000", "closing_balance", "more than 15 digits"),
    ("balances", "bad date", "1,01/03/2025,5", "balance_date", "'01/03/2025' is not a date"),
    ("balances", "missing required", "1,2025-01-03,", "closing_balance", "a value is required"),
    ("balances", "duplicate in file", "1,2025-01-02,7", "balance_date", "duplicate key"),
    ("balances", "duplicate in database", "1,2025-01-01,7", "balance_date", "account 1 already has a balance on 2025-01-01"),
]  # fmt: skip


class TestBadRows:
    @pytest.mark.parametrize(
        ("kind", "rule", "bad_row", "column", "message"),
        BAD_FILES,
        ids=[f"{k}-{r}" for k, r, *_ in BAD_FILES],
    )
    def test_names_file_line_and_column_and_writes_nothing(
        self,
        book: psycopg.Connection,
        clean_db: URL,
        tmp_path: Path,
        kind: str,
        rule: str,
        bad_row: str,
        column: str,
        message: str,
    ) -> None:
        before = table_rows(book, kind)
        path = write(tmp_path, f"{kind}.csv", HEADERS[kind], GOOD_ROWS[kind], bad_row)
        error = refusal(clean_db, kind, path)
        assert f"{path}:3: column '{column}': " in error.message
        assert message in error.message
        assert [(issue.line, issue.column) for issue in error.issues] == [(3, column)]
        assert table_rows(book, kind) == before

    def test_the_spec_example_message_is_exact(
        self, book: psycopg.Connection, clean_db: URL, tmp_path: Path
    ) -> None:
        good = [f"{n},ACC-{n},SAV,USD,ACTIVE,2024-01-15,,," for n in range(10, 15)]
        path = write(
            tmp_path, "accounts.csv", ACCOUNTS_HEADER, *good, "15,ACC-15,SAV,USD,ACTIVE,2025-13-01,,,"
        )
        error = refusal(clean_db, "accounts", path)
        assert (
            error.message.splitlines()[1]
            == f"{path}:7: column 'opened_on': '2025-13-01' is not a date (YYYY-MM-DD)"
        )

    def test_every_bad_row_is_reported_in_line_order(
        self, book: psycopg.Connection, clean_db: URL, tmp_path: Path
    ) -> None:
        path = write(
            tmp_path,
            "balances.csv",
            BALANCES_HEADER,
            "999,2025-01-03,1",
            "1,2025-01-03,x",
            "1,2025-01-04,1",
            "1,2025-01-05,1.00001",
        )
        error = refusal(clean_db, "balances", path)
        assert [(i.line, i.column) for i in error.issues] == [
            (2, "account_id"),
            (3, "closing_balance"),
            (5, "closing_balance"),
        ]

    def test_reports_twenty_errors_and_counts_the_rest(
        self, book: psycopg.Connection, clean_db: URL, tmp_path: Path
    ) -> None:
        path = write(
            tmp_path, "balances.csv", BALANCES_HEADER, *[f"1,2025-02-{day:02d},bad" for day in range(1, 26)]
        )
        lines = refusal(clean_db, "balances", path).message.splitlines()
        assert len(lines) == 1 + 20 + 1
        assert lines[20].startswith(f"{path}:21: ")
        assert lines[-1] == "... and 5 more errors"

    def test_line_numbers_count_physical_lines(
        self, book: psycopg.Connection, clean_db: URL, tmp_path: Path
    ) -> None:
        path = write(
            tmp_path,
            "accounts.csv",
            ACCOUNTS_HEADER,
            '10,"ACC-10',
            'second line",SAV,USD,ACTIVE,2024-01-15,,,',
            "",
            "11,ACC-11,SAV,USD,ACTIVE,2024-01-15,,,oops",
        )
        error = refusal(clean_db, "accounts", path)
        assert [(i.line, i.column) for i in error.issues] == [(5, "rate_override")]

    def test_a_row_with_the_wrong_number_of_fields(
        self, book: psycopg.Connection, clean_db: URL, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "balances.csv", BALANCES_HEADER, "1,2025-01-03", "1,2025-01-04,1,2")
        error = refusal(clean_db, "balances", path)
        assert [(i.line, i.column, i.message) for i in error.issues] == [
            (2, None, "expected 3 fields, found 2"),
            (3, None, "expected 3 fields, found 4"),
        ]

    def test_an_empty_file(self, book: psycopg.Connection, clean_db: URL, tmp_path: Path) -> None:
        path = write(tmp_path, "balances.csv")
        error = refusal(clean_db, "balances", path)
        assert f"{path}:1: the file is empty" in error.message

    def test_a_broken_quote_names_its_line(
        self, book: psycopg.Connection, clean_db: URL, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "balances.csv", BALANCES_HEADER, "1,2025-01-03,5", '1,"2025-01-04"x,5')
        error = refusal(clean_db, "balances", path)
        assert [(i.line, i.column) for i in error.issues] == [(3, None)]
        assert "not a readable CSV record" in error.message

    def test_a_file_that_is_not_utf8(self, book: psycopg.Connection, clean_db: URL, tmp_path: Path) -> None:
        path = tmp_path / "balances.csv"
        path.write_bytes(f"{BALANCES_HEADER}\n1,2025-01-03,5\xe9\n".encode("latin-1"))
        error = refusal(clean_db, "balances", path)
        assert "not UTF-8 text" in error.message
        assert table_rows(book, "balances") == [(1, date(2025, 1, 1), Decimal("500.0000"))]


class TestHeader:
    def test_an_unknown_column_is_an_error_on_line_one(
        self, book: psycopg.Connection, clean_db: URL, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "balances.csv", BALANCES_HEADER + ",colour", "1,2025-01-03,5,red")
        error = refusal(clean_db, "balances", path)
        assert [(i.line, i.column) for i in error.issues] == [(1, "colour")]
        assert f"{path}:1: column 'colour': unknown column" in error.message
        assert table_rows(book, "balances") == [(1, date(2025, 1, 1), Decimal("500.0000"))]

    def test_a_missing_required_column_is_an_error_on_line_one(
        self, book: psycopg.Connection, clean_db: URL, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "tiers.csv", "product_code,effective_from,min_balance", "SAV,2025-06-01,0")
        error = refusal(clean_db, "tiers", path)
        assert f"{path}:1: column 'annual_rate': required column is missing from the header" in error.message

    def test_a_repeated_column_is_an_error(
        self, book: psycopg.Connection, clean_db: URL, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "b.csv", BALANCES_HEADER + ",account_id", "1,2025-01-03,5,1")
        error = refusal(clean_db, "balances", path)
        assert [(i.line, i.column, i.message) for i in error.issues] == [
            (1, "account_id", "appears twice in the header")
        ]


class TestDatabaseRefusal:
    def test_a_violation_only_the_database_sees_rolls_back_and_names_the_line(
        self, book: psycopg.Connection, clean_db: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Stands in for a concurrent writer that took the key between validation and COPY.
        monkeypatch.setitem(
            TABLES, "accounts", dataclasses.replace(TABLES["accounts"], check=lambda *_: None)
        )
        path = write(
            tmp_path,
            "accounts.csv",
            ACCOUNTS_HEADER,
            GOOD_ROWS["accounts"],
            "2,ACC-X,SAV,USD,ACTIVE,2024-01-15,,,",
        )
        before = table_rows(book, "accounts")
        error = refusal(clean_db, "accounts", path)
        assert error.message.splitlines()[1].startswith(
            f"{path}:3: rejected by the database: duplicate key value"
        )
        assert "Key (id)=(2) already exists." in error.message
        assert table_rows(book, "accounts") == before


class TestCommand:
    def test_load_prints_the_row_count(self, book: psycopg.Connection, tmp_path: Path) -> None:
        path = write(tmp_path, "balances.csv", BALANCES_HEADER, "1,2025-01-02,1", "2,2025-01-02,2")
        result = CliRunner().invoke(main, ["load", "balances", str(path)])
        assert result.exit_code == 0, result.output
        assert result.stdout == f"loaded 2 rows into account_balances from {path}\n"

    def test_a_bad_file_exits_non_zero_with_the_message(
        self, book: psycopg.Connection, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "accounts.csv", ACCOUNTS_HEADER, "11,ACC-11,SAV,USD,ACTIVE,2025-13-01,,,")
        result = CliRunner().invoke(main, ["load", "accounts", str(path)])
        assert result.exit_code == 1
        assert f"{path}:2: column 'opened_on': '2025-13-01' is not a date (YYYY-MM-DD)" in result.output
        assert table_rows(book, "accounts")[-1][0] == 2

    def test_an_unknown_kind_is_a_usage_error(self, book: psycopg.Connection, tmp_path: Path) -> None:
        path = write(tmp_path, "x.csv", BALANCES_HEADER)
        result = CliRunner().invoke(main, ["load", "currencies", str(path)])
        assert result.exit_code == 2
