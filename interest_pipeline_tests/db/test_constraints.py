"""Each constraint of the schema rejects the bad row it exists for, and accepts the good one."""

import threading
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from psycopg import errors
from sqlalchemy.engine import URL

from interest_pipeline.data.generate import ledger_truncate_allowed
from interest_pipeline.db.partitions import ensure_month_partitions
from interest_pipeline.settings import libpq_url

PRODUCT = (
    "INSERT INTO interest_products (code, account_type, day_count, posting_frequency, tier_mode,"
    " min_balance_for_interest, withholding_tax_rate) VALUES ('SAV', 'SAVINGS', 'ACT/365F', 'MONTHLY', 'WHOLE', NULL, 15)"
)
TIER = "INSERT INTO interest_rate_tiers VALUES ('SAV', '2025-01-01', 0, 3.5)"
ACCOUNT = (
    "INSERT INTO accounts (id, account_number, product_code, currency, status, opened_on)"
    " VALUES (1, 'ACC1', 'SAV', 'USD', 'ACTIVE', '2025-01-01')"
)
BALANCE = "INSERT INTO account_balances VALUES (1, '2025-01-01', 100.0000)"
POSTING = (
    "INSERT INTO interest_postings (id, account_id, posting_date, idempotency_key, currency, carry_in, accrued,"
    " gross, carry_out, tax, net, withholding_tax_rate, accrual_count, made_on)"
    " VALUES (1, 1, '2025-01-31', 'INT-CAP-1-2025-01', 'USD', 0, 8.4931506837, 8.49, 0.0031506837, 1.27, 7.22, 15, 31,"
    " '2025-01-31')"
)
EXECUTION = (
    "INSERT INTO interest_batch_execution (id, job_type, business_date, trigger, status, account_types)"
    " VALUES ('run-1', 'daily_interest_accrual', '2025-01-01', 'MANUAL', 'RUNNING', ARRAY['SAVINGS'])"
)


def posting(**overrides: str) -> str:
    values = {
        "id": "2",
        "account_id": "1",
        "posting_date": "'2025-02-28'",
        "made_on": "'2025-02-28'",
        "idempotency_key": "'INT-CAP-1-2025-02'",
        "currency": "'USD'",
        "carry_in": "0",
        "accrued": "1.004",
        "gross": "1.00",
        "carry_out": "0.004",
        "tax": "0.15",
        "net": "0.85",
        "withholding_tax_rate": "15",
        "accrual_count": "28",
        "is_final": "false",
        "written_off": "0",
    }
    values.update(overrides)
    return f"INSERT INTO interest_postings ({', '.join(values)}) VALUES ({', '.join(values.values())})"


def ledger(lines: list[tuple[int, str, str, str]], key: str = "K1") -> str:
    rows = ", ".join(
        f"('{key}', {no}, '{gl}', NULL, {debit}, {credit}, 'USD', '2025-01-31')"
        for no, gl, debit, credit in lines
    )
    return (
        "INSERT INTO ledger_entries (journal_key, line_no, gl_account, account_id, debit, credit, currency,"
        f" value_date) VALUES {rows}"
    )


# (case, statement, the constraint or error class expected)
BAD_ROWS: list[tuple[str, str, str]] = [
    ("currency code not ISO", "INSERT INTO currencies VALUES ('usd', 2)", "ck_currencies_iso_code"),
    ("currency minor units", "INSERT INTO currencies VALUES ('XAU', 9)", "ck_currencies_minor_units"),
    (
        "product account type",
        PRODUCT.replace("'SAVINGS'", "'CHECKING'").replace("'SAV'", "'X'"),
        "ck_interest_products_account_type",
    ),
    (
        "product day count",
        PRODUCT.replace("'ACT/365F'", "'ACT/364'").replace("'SAV'", "'X'"),
        "ck_interest_products_day_count",
    ),
    (
        "product frequency",
        PRODUCT.replace("'MONTHLY'", "'WEEKLY'").replace("'SAV'", "'X'"),
        "ck_interest_products_posting_frequency",
    ),
    (
        "product tier mode",
        PRODUCT.replace("'WHOLE'", "'STEPPED'").replace("'SAV'", "'X'"),
        "ck_interest_products_tier_mode",
    ),
    (
        "product negative threshold",
        PRODUCT.replace("NULL", "-1").replace("'SAV'", "'X'"),
        "ck_interest_products_min_balance_non_negative",
    ),
    (
        "product tax over 100",
        PRODUCT.replace(", 15)", ", 101)").replace("'SAV'", "'X'"),
        "ck_interest_products_tax_rate_percent",
    ),
    (
        "tier negative rate",
        "INSERT INTO interest_rate_tiers VALUES ('SAV', '2025-02-01', 0, -0.5)",
        "ck_interest_rate_tiers_annual_rate_non_negative",
    ),
    (
        "tier negative min balance",
        "INSERT INTO interest_rate_tiers VALUES ('SAV', '2025-01-01', -5, 1)",
        "ck_interest_rate_tiers_min_balance_non_negative",
    ),
    (
        "tier of unknown product",
        "INSERT INTO interest_rate_tiers VALUES ('NOPE', '2025-01-01', 0, 1)",
        "fk_interest_rate_tiers_product_code_interest_products",
    ),
    ("tier duplicate key", TIER, "pk_interest_rate_tiers"),
    (
        "account status",
        ACCOUNT.replace("'ACTIVE'", "'FROZEN'").replace("(1, 'ACC1'", "(2, 'ACC2'"),
        "ck_accounts_status",
    ),
    (
        "closed without closed_on",
        ACCOUNT.replace("'ACTIVE'", "'CLOSED'").replace("(1, 'ACC1'", "(2, 'ACC2'"),
        "ck_accounts_closed_needs_closed_on",
    ),
    (
        "closed before opened",
        "INSERT INTO accounts (id, account_number, product_code, currency, status, opened_on, closed_on)"
        " VALUES (2, 'ACC2', 'SAV', 'USD', 'CLOSED', '2025-01-10', '2025-01-09')",
        "ck_accounts_closed_after_opened",
    ),
    (
        "matures on opening",
        "INSERT INTO accounts (id, account_number, product_code, currency, status, opened_on, maturity_date)"
        " VALUES (2, 'ACC2', 'SAV', 'USD', 'ACTIVE', '2025-01-10', '2025-01-10')",
        "ck_accounts_matures_after_opened",
    ),
    (
        "negative rate override",
        "INSERT INTO accounts (id, account_number, product_code, currency, status, opened_on, rate_override)"
        " VALUES (2, 'ACC2', 'SAV', 'USD', 'ACTIVE', '2025-01-10', -1)",
        "ck_accounts_rate_override_non_negative",
    ),
    ("duplicate account number", ACCOUNT.replace("(1, 'ACC1'", "(2, 'ACC1'"), "uq_accounts_account_number"),
    (
        "account of unknown currency",
        ACCOUNT.replace("'USD'", "'XXX'").replace("(1, 'ACC1'", "(2, 'ACC2'"),
        "fk_accounts_currency_currencies",
    ),
    (
        "account of unknown product",
        ACCOUNT.replace("'SAV'", "'NOPE'").replace("(1, 'ACC1'", "(2, 'ACC2'"),
        "fk_accounts_product_code_interest_products",
    ),
    (
        "balance of unknown account",
        "INSERT INTO account_balances VALUES (99, '2025-01-01', 1)",
        "fk_account_balances_account_id_accounts",
    ),
    ("duplicate balance snapshot", BALANCE, "pk_account_balances"),
    (
        "accrual on non-positive balance",
        "INSERT INTO interest_accruals (account_id, accrual_date, balance, amount) VALUES (1, '2025-01-01', 0, 0)",
        "ck_interest_accrual_entries_balance_positive",
    ),
    (
        "duplicate accrual per day",
        "INSERT INTO interest_accruals (account_id, accrual_date, balance, amount) VALUES (1, '2025-01-02', 100, 1),"
        " (1, '2025-01-02', 100, 1)",
        # the key of the row's month partition (migration 0015), the parent's key on each of them
        "interest_accrual_entries_y2025m01_pkey",
    ),
    ("posting gross is not net plus tax", posting(net="0.86"), "ck_interest_postings_gross_is_net_plus_tax"),
    ("posting carry does not reconcile", posting(carry_out="0.005"), "ck_interest_postings_carry_reconciles"),
    ("posting negative tax", posting(tax="-0.15", net="1.15"), "ck_interest_postings_amounts_non_negative"),
    (
        "posting write-off when not final",
        posting(written_off="0.004"),
        "ck_interest_postings_write_off_only_when_final",
    ),
    (
        "posting duplicate idempotency key",
        posting(idempotency_key="'INT-CAP-1-2025-01'"),
        "uq_interest_postings_idempotency_key",
    ),
    (
        "posting carry of a whole unit",
        posting(carry_in="1", accrued="0.004", carry_out="0.004"),
        "ck_interest_postings_carry_within_half_minor_unit",
    ),
    ("ledger line on both sides", ledger([(1, "INTEREST_EXPENSE", "1", "1")]), "ck_ledger_entries_one_side"),
    ("ledger line on no side", ledger([(1, "INTEREST_EXPENSE", "0", "0")]), "ck_ledger_entries_one_side"),
    (
        "ledger negative amount",
        ledger([(1, "X", "-1", "0"), (2, "Y", "0", "-1")]),
        "ck_ledger_entries_amounts_non_negative",
    ),
    (
        "ledger duplicate line",
        ledger([(1, "X", "1", "0"), (1, "Y", "0", "1")]),
        "uq_ledger_entries_journal_key_line_no",
    ),
    (
        "ledger journal does not balance",
        ledger([(1, "INTEREST_EXPENSE", "8.49", "0"), (2, "CUSTOMER", "0", "7.22")]),
        "does not balance",
    ),
    (
        "config unknown job type",
        "INSERT INTO interest_batch_config (job_type, batch_size, parallel_threads, max_retries, retry_interval_seconds,"
        " timeout_seconds, account_types, cron_expression) VALUES ('statement', 1, 1, 0, 0, 1, ARRAY['SAVINGS'], '* * * * *')",
        "ck_interest_batch_config_job_type",
    ),
    (
        "config zero batch size",
        "UPDATE interest_batch_config SET batch_size = 0",
        "ck_interest_batch_config_batch_size_positive",
    ),
    (
        "config zero threads",
        "UPDATE interest_batch_config SET parallel_threads = 0",
        "ck_interest_batch_config_parallel_threads_positive",
    ),
    (
        "config negative retries",
        "UPDATE interest_batch_config SET max_retries = -1",
        "ck_interest_batch_config_max_retries_non_negative",
    ),
    (
        "config unknown account type",
        "UPDATE interest_batch_config SET account_types = ARRAY['CHECKING']",
        "ck_interest_batch_config_account_types",
    ),
    (
        "config no account type",
        "UPDATE interest_batch_config SET account_types = ARRAY[]::text[]",
        "ck_interest_batch_config_account_types",
    ),
    (
        "config parameters not an object",
        "UPDATE interest_batch_config SET custom_parameters = '[1]'",
        "ck_interest_batch_config_custom_parameters_object",
    ),
    (
        "config second row per job",
        "INSERT INTO interest_batch_config (job_type, batch_size, parallel_threads,"
        " max_retries, retry_interval_seconds, timeout_seconds, account_types, cron_expression)"
        " VALUES ('interest_posting', 1, 1, 0, 0, 1, ARRAY['SAVINGS'], '* * * * *')",
        "uq_interest_batch_config_job_type",
    ),
    (
        "execution status",
        EXECUTION.replace("account_types)", "account_types, completed_at)")
        .replace("'RUNNING'", "'DONE'")
        .replace("'run-1'", "'run-2'")
        .replace("ARRAY['SAVINGS'])", "ARRAY['SAVINGS'], now())"),
        "ck_interest_batch_execution_status",
    ),
    (
        "execution trigger",
        EXECUTION.replace("'MANUAL'", "'CRON'").replace("'run-1'", "'run-2'"),
        "ck_interest_batch_execution_trigger",
    ),
    (
        "execution finished without completed_at",
        EXECUTION.replace("'RUNNING'", "'SUCCESS'").replace("'run-1'", "'run-2'"),
        "ck_interest_batch_execution_completed_when_not_running",
    ),
    (
        "execution counts do not add up",
        "UPDATE interest_batch_execution SET accounts_processed = 5",
        "ck_interest_batch_execution_counts_add_up",
    ),
    (
        "result status",
        "INSERT INTO interest_batch_account_result (execution_id, job_type, business_date, account_id, status, reason)"
        " VALUES ('run-1', 'daily_interest_accrual', '2025-01-01', 1, 'OK', 'x')",
        "ck_interest_batch_account_result_status",
    ),
    (
        "skipped result without reason",
        "INSERT INTO interest_batch_account_result (execution_id, job_type, business_date, account_id, status)"
        " VALUES ('run-1', 'daily_interest_accrual', '2025-01-01', 1, 'SKIPPED')",
        "ck_interest_batch_account_result_reason_when_not_success",
    ),
    (
        "result of unknown execution",
        "INSERT INTO interest_batch_account_result (execution_id, job_type, business_date, account_id, status)"
        " VALUES ('nope', 'daily_interest_accrual', '2025-01-01', 1, 'SUCCESS')",
        "fk_interest_batch_account_result_execution_id",
    ),
    (
        "status of unknown job",
        "INSERT INTO interest_batch_account_status (account_id, job_type, last_business_date, last_status,"
        " last_execution_id, first_business_date) VALUES (1, 'other', '2025-01-01', 'SUCCESS', 'run-1', '2025-01-01')",
        "ck_interest_batch_account_status_job_type",
    ),
    (
        "status whose first result date is after its last",
        "INSERT INTO interest_batch_account_status (account_id, job_type, last_business_date, last_status,"
        " last_execution_id, first_business_date)"
        " VALUES (1, 'daily_interest_accrual', '2025-01-01', 'SUCCESS', 'run-1', '2025-01-02')",
        "ck_interest_batch_account_status_first_date_not_after_last",
    ),
]


@pytest.fixture
def book(conn: psycopg.Connection) -> psycopg.Connection:
    """One valid product, schedule, account, snapshot, posting, execution: each bad row is one change away."""
    for statement in (PRODUCT, TIER, ACCOUNT, BALANCE, POSTING, EXECUTION):
        conn.execute(statement)
    # the accruals' rows go to their month's partition, as the jobs make it ahead of a run
    ensure_month_partitions(conn, date(2025, 1, 1), date(2025, 1, 1))
    return conn


class TestConstraints:
    @pytest.mark.parametrize(
        ("statement", "expected"), [(s, e) for _, s, e in BAD_ROWS], ids=[case for case, _, _ in BAD_ROWS]
    )
    def test_rejects_bad_row(self, book: psycopg.Connection, statement: str, expected: str) -> None:
        with pytest.raises(psycopg.errors.IntegrityError) as caught:
            book.execute(statement)
        diag = caught.value.diag
        assert expected in (diag.constraint_name or "") or expected in (diag.message_primary or "")

    def test_the_fixture_rows_are_valid(self, book: psycopg.Connection) -> None:
        assert book.execute("SELECT count(*) FROM interest_postings").fetchone() == (1,)

    def test_a_balanced_journal_is_accepted(self, book: psycopg.Connection) -> None:
        book.execute(
            ledger(
                [
                    (1, "INTEREST_EXPENSE", "8.49", "0"),
                    (2, "CUSTOMER_DEPOSITS", "0", "7.22"),
                    (3, "WITHHOLDING_TAX_PAYABLE", "0", "1.27"),
                ]
            )
        )
        assert book.execute("SELECT sum(debit)::text, sum(credit)::text FROM ledger_entries").fetchone() == (
            "8.4900",
            "8.4900",
        )


class TestLedgerIsAppendOnly:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE ledger_entries SET credit = 7.00 WHERE line_no = 2",
            "DELETE FROM ledger_entries",
            "TRUNCATE ledger_entries",
            # reaches the ledger through its foreign key to accounts
            "TRUNCATE accounts CASCADE",
        ],
    )
    def test_rejects_changes_to_posted_lines(self, book: psycopg.Connection, statement: str) -> None:
        book.execute(ledger([(1, "INTEREST_EXPENSE", "8.49", "0"), (2, "CUSTOMER_DEPOSITS", "0", "8.49")]))
        with pytest.raises(errors.RestrictViolation, match="ledger_entries is append-only"):
            book.execute(statement)
        assert book.execute("SELECT count(*), sum(credit)::text FROM ledger_entries").fetchone() == (
            2,
            "8.4900",
        )
        assert _count(book, "accounts") == 1

    def test_the_one_explicit_path_empties_it_and_restores_the_guard(self, book: psycopg.Connection) -> None:
        book.execute(ledger([(1, "INTEREST_EXPENSE", "8.49", "0"), (2, "CUSTOMER_DEPOSITS", "0", "8.49")]))
        with ledger_truncate_allowed(book):
            book.execute("TRUNCATE ledger_entries")
        assert _count(book, "ledger_entries") == 0
        book.execute(ledger([(1, "INTEREST_EXPENSE", "1.00", "0"), (2, "CUSTOMER_DEPOSITS", "0", "1.00")]))
        with pytest.raises(errors.RestrictViolation):
            book.execute("TRUNCATE ledger_entries")
        assert _count(book, "ledger_entries") == 2

    def test_a_failure_inside_the_path_keeps_the_ledger_and_the_guard(self, book: psycopg.Connection) -> None:
        book.execute(ledger([(1, "INTEREST_EXPENSE", "8.49", "0"), (2, "CUSTOMER_DEPOSITS", "0", "8.49")]))
        with pytest.raises(RuntimeError, match="changed my mind"), ledger_truncate_allowed(book):
            book.execute("TRUNCATE ledger_entries")
            raise RuntimeError("changed my mind")
        assert _count(book, "ledger_entries") == 2
        with pytest.raises(errors.RestrictViolation):
            book.execute("TRUNCATE ledger_entries")
        assert book.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgname = 'trg_ledger_entries_no_truncate'"
        ).fetchone() == ("O",)


# Half a minor unit per currency of each minor-unit count (the seeded ISO digits).
HALF_UNITS = [("JPY", 0, Decimal("0.5")), ("USD", 2, Decimal("0.005")), ("KWD", 3, Decimal("0.0005"))]
JUST_OVER = Decimal("0.0000000001")  # one unit of the carries' 10th decimal
CARRY_CHECK = "ck_interest_postings_carry_within_half_minor_unit"


def _carry_posting(
    key: str, currency: str, carry_in: Decimal, carry_out: Decimal
) -> tuple[str, dict[str, object]]:
    """A posting of gross 1 (no tax) whose carries are as given; it reconciles and balances."""
    return (
        "INSERT INTO interest_postings (id, account_id, posting_date, made_on, idempotency_key, currency, carry_in,"
        " accrued, gross, carry_out, tax, net, withholding_tax_rate, accrual_count)"
        " VALUES (2, 1, '2025-02-28', '2025-02-28', %(key)s, %(currency)s, %(carry_in)s, %(accrued)s, 1, %(carry_out)s,"
        " 0, 1, 0, 28)",
        {
            "key": key,
            "currency": currency,
            "carry_in": carry_in,
            "carry_out": carry_out,
            "accrued": 1 - carry_in + carry_out,
        },
    )


class TestCarryWithinHalfAMinorUnit:
    """Migration 0007: |carry_in|, |carry_out| <= 0.5 * 10^-minor_units of the posting's currency."""

    @pytest.mark.parametrize(
        ("currency", "minor_units", "half"), HALF_UNITS, ids=[c for c, _, _ in HALF_UNITS]
    )
    def test_exactly_half_a_minor_unit_either_sign_is_accepted(
        self, book: psycopg.Connection, currency: str, minor_units: int, half: Decimal
    ) -> None:
        assert book.execute("SELECT minor_units FROM currencies WHERE code = %s", (currency,)).fetchone() == (
            minor_units,
        )
        book.execute(*_carry_posting("K-HALF", currency, -half, half))
        assert book.execute(
            "SELECT carry_in, carry_out FROM interest_postings WHERE idempotency_key = 'K-HALF'"
        ).fetchone() == (-half, half)

    @pytest.mark.parametrize(
        ("currency", "minor_units", "half"), HALF_UNITS, ids=[c for c, _, _ in HALF_UNITS]
    )
    @pytest.mark.parametrize("side", ["carry_in", "carry_out"])
    def test_just_over_half_a_minor_unit_is_rejected(
        self, book: psycopg.Connection, currency: str, minor_units: int, half: Decimal, side: str
    ) -> None:
        over = half + JUST_OVER
        carries = (-over, Decimal(0)) if side == "carry_in" else (Decimal(0), over)
        with pytest.raises(errors.CheckViolation) as caught:
            book.execute(*_carry_posting("K-OVER", currency, *carries))
        assert caught.value.diag.constraint_name == CARRY_CHECK
        assert caught.value.diag.table_name == "interest_postings"
        message = caught.value.diag.message_primary or ""
        assert "posting K-OVER" in message and f"half a minor unit of {currency}" in message
        assert str(-over if side == "carry_in" else over) in message
        assert _count(book, "interest_postings") == 1  # the fixture's posting only

    @pytest.mark.parametrize(
        ("currency", "minor_units", "half"), HALF_UNITS, ids=[c for c, _, _ in HALF_UNITS]
    )
    def test_one_bad_row_in_a_thousand_row_insert_writes_nothing(
        self, book: psycopg.Connection, currency: str, minor_units: int, half: Decimal
    ) -> None:
        with pytest.raises(errors.CheckViolation, match="posting BULK-617 ") as caught:
            book.execute(
                "INSERT INTO interest_postings (id, account_id, posting_date, made_on, idempotency_key, currency,"
                " carry_in, accrued, gross, carry_out, tax, net, withholding_tax_rate, accrual_count)"
                " SELECT 1 + n, 1, '2025-02-28', '2025-02-28', 'BULK-' || n, %(currency)s, 0, 1 + c.carry, 1, c.carry,"
                " 0, 1, 0, 28"
                "   FROM generate_series(1, 1000) n,"
                "        LATERAL (SELECT CASE WHEN n = 617 THEN %(over)s::numeric ELSE %(good)s::numeric END"
                "                 AS carry) c",
                {"currency": currency, "over": half + JUST_OVER, "good": half / 2},
            )
        assert caught.value.diag.constraint_name == CARRY_CHECK
        assert _count(book, "interest_postings") == 1

    def test_an_update_past_half_a_minor_unit_is_rejected(self, book: psycopg.Connection) -> None:
        # The fixture's USD posting: gross 8.49 of accrued 8.4931506837, carry_out 0.0031506837.
        with pytest.raises(errors.CheckViolation, match="posting INT-CAP-1-2025-01 ") as caught:
            book.execute("UPDATE interest_postings SET carry_out = 0.0051, accrued = 8.4951")
        assert caught.value.diag.constraint_name == CARRY_CHECK
        assert book.execute("SELECT carry_out FROM interest_postings").fetchone() == (
            Decimal("0.0031506837"),
        )
        book.execute("UPDATE interest_postings SET carry_out = 0.005, accrued = 8.495")
        assert book.execute("SELECT carry_out FROM interest_postings").fetchone() == (
            Decimal("0.0050000000"),
        )


class TestZeroTier:
    def test_schedule_without_zero_tier_is_rejected_at_commit(self, conn: psycopg.Connection) -> None:
        conn.execute(PRODUCT)
        with pytest.raises(errors.CheckViolation, match="no tier at min_balance 0"):
            conn.execute("INSERT INTO interest_rate_tiers VALUES ('SAV', '2025-01-01', 1000, 3.5)")
        assert conn.execute("SELECT count(*) FROM interest_rate_tiers").fetchone() == (0,)

    def test_tiers_may_arrive_in_any_order_within_a_transaction(self, conn: psycopg.Connection) -> None:
        conn.execute(PRODUCT)
        with conn.transaction():
            conn.execute("INSERT INTO interest_rate_tiers VALUES ('SAV', '2025-01-01', 1000, 3.5)")
            conn.execute("INSERT INTO interest_rate_tiers VALUES ('SAV', '2025-01-01', 0, 1.5)")
        assert conn.execute("SELECT count(*) FROM interest_rate_tiers").fetchone() == (2,)

    def test_deleting_the_zero_tier_of_a_schedule_is_rejected(self, conn: psycopg.Connection) -> None:
        conn.execute(PRODUCT)
        conn.execute(
            "INSERT INTO interest_rate_tiers VALUES ('SAV', '2025-01-01', 0, 1.5), ('SAV', '2025-01-01', 1000, 3.5)"
        )
        with pytest.raises(errors.CheckViolation):
            conn.execute("DELETE FROM interest_rate_tiers WHERE min_balance = 0")
        assert conn.execute("SELECT count(*) FROM interest_rate_tiers").fetchone() == (2,)


def _result(execution_id: str, account_id: int) -> str:
    return (
        "INSERT INTO interest_batch_account_result (execution_id, job_type, business_date, account_id, status)"
        f" VALUES ('{execution_id}', 'daily_interest_accrual', '2025-01-01', {account_id}, 'SUCCESS')"
    )


def _count(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]


class TestResultsBelongToAnExecution:
    """Migration 0005: a foreign key's guarantees, checked once per statement."""

    def test_a_statement_naming_one_unknown_execution_writes_nothing(self, conn: psycopg.Connection) -> None:
        conn.execute(EXECUTION)
        with pytest.raises(
            errors.ForeignKeyViolation, match="execution nope, which does not exist"
        ) as caught:
            conn.execute(
                "INSERT INTO interest_batch_account_result (execution_id, job_type, business_date, account_id,"
                " status) SELECT CASE WHEN n = 500 THEN 'nope' ELSE 'run-1' END, 'daily_interest_accrual',"
                " '2025-01-01', n, 'SUCCESS' FROM generate_series(1, 1000) n"
            )
        assert caught.value.diag.constraint_name == "fk_interest_batch_account_result_execution_id"
        assert _count(conn, "interest_batch_account_result") == 0

    def test_moving_a_result_to_an_unknown_execution_is_refused(self, conn: psycopg.Connection) -> None:
        conn.execute(EXECUTION)
        conn.execute(_result("run-1", 1))
        with pytest.raises(errors.ForeignKeyViolation):
            conn.execute("UPDATE interest_batch_account_result SET execution_id = 'nope'")
        assert conn.execute("SELECT execution_id FROM interest_batch_account_result").fetchone() == ("run-1",)

    def test_deleting_an_execution_deletes_its_results_only(self, conn: psycopg.Connection) -> None:
        conn.execute(EXECUTION)
        conn.execute(EXECUTION.replace("run-1", "run-2"))
        for execution_id in ("run-1", "run-2"):
            conn.execute(_result(execution_id, 1))
            conn.execute(_result(execution_id, 2))
        conn.execute("DELETE FROM interest_batch_execution WHERE id = 'run-1'")
        assert conn.execute(
            "SELECT execution_id, count(*) FROM interest_batch_account_result GROUP BY execution_id"
        ).fetchall() == [("run-2", 2)]

    def test_an_execution_id_never_changes(self, conn: psycopg.Connection) -> None:
        conn.execute(EXECUTION)
        with pytest.raises(errors.RestrictViolation, match="never changes"):
            conn.execute("UPDATE interest_batch_execution SET id = 'run-9'")
        conn.execute("UPDATE interest_batch_execution SET total_chunks = 3 WHERE id = 'run-1'")

    def test_a_delete_waits_for_an_inserting_chunk_and_removes_its_results(
        self, conn: psycopg.Connection, clean_db: URL
    ) -> None:
        conn.execute(EXECUTION)
        with psycopg.connect(libpq_url(clean_db)) as chunk, psycopg.connect(libpq_url(clean_db)) as deleter:
            chunk.execute(_result("run-1", 1))  # uncommitted: holds the execution's key-share lock
            deleter.execute("SET lock_timeout = '500ms'")
            with pytest.raises(errors.LockNotAvailable):
                deleter.execute("DELETE FROM interest_batch_execution WHERE id = 'run-1'")
            deleter.rollback()
            chunk.commit()
            deleter.execute("DELETE FROM interest_batch_execution WHERE id = 'run-1'")
            deleter.commit()
        assert (_count(conn, "interest_batch_execution"), _count(conn, "interest_batch_account_result")) == (
            0,
            0,
        )

    def test_an_insert_behind_a_delete_fails_when_the_delete_commits(
        self, conn: psycopg.Connection, clean_db: URL
    ) -> None:
        conn.execute(EXECUTION)
        with psycopg.connect(libpq_url(clean_db)) as deleter, psycopg.connect(libpq_url(clean_db)) as chunk:
            deleter.execute("DELETE FROM interest_batch_execution WHERE id = 'run-1'")  # not committed yet
            failure: list[BaseException] = []

            def insert() -> None:
                try:
                    chunk.execute(_result("run-1", 1))
                except psycopg.Error as error:
                    failure.append(error)

            worker = threading.Thread(target=insert)
            worker.start()
            worker.join(0.5)
            assert worker.is_alive()  # waiting on the deleter's row lock, as a foreign key check would
            deleter.commit()
            worker.join(10)
        assert [type(f) for f in failure] == [errors.ForeignKeyViolation]
        assert _count(conn, "interest_batch_account_result") == 0


def _lines(key: str, currency: str) -> str:
    lines = [(1, "INTEREST_EXPENSE", "1", "0"), (2, "CUSTOMER_DEPOSITS", "0", "1")]
    return ledger(lines, key=key).replace("'USD'", f"'{currency}'")


class TestCurrencyCheckedPerStatement:
    """Migration 0013: the currency foreign keys of postings and journal lines, once per statement."""

    def test_a_posting_statement_naming_one_unknown_currency_writes_nothing(
        self, book: psycopg.Connection
    ) -> None:
        statements = [
            posting(id=str(n), idempotency_key=f"'K-{n}'", currency="'XXX'" if n == 7 else "'USD'")
            for n in range(2, 10)
        ]
        columns = statements[0].split(" VALUES ", 1)[0]
        values = ", ".join(statement.split(" VALUES ", 1)[1] for statement in statements)
        with pytest.raises(errors.ForeignKeyViolation, match="currency XXX, which does not exist") as caught:
            book.execute(f"{columns} VALUES {values}")
        assert caught.value.diag.constraint_name == "fk_interest_postings_currency_currencies"
        assert _count(book, "interest_postings") == 1  # the fixture's only
        known = values.replace("'XXX'", "'EUR'")
        book.execute(f"{columns} VALUES {known}")
        assert _count(book, "interest_postings") == 9

    def test_a_journal_in_an_unknown_currency_is_refused(self, book: psycopg.Connection) -> None:
        with pytest.raises(errors.ForeignKeyViolation) as caught:
            book.execute(_lines("J-1", "XXX"))
        assert caught.value.diag.constraint_name == "fk_ledger_entries_currency_currencies"
        assert _count(book, "ledger_entries") == 0
        book.execute(_lines("J-2", "EUR"))
        assert _count(book, "ledger_entries") == 2

    def test_moving_a_posting_to_an_unknown_currency_is_refused(self, book: psycopg.Connection) -> None:
        with pytest.raises(errors.ForeignKeyViolation):
            book.execute("UPDATE interest_postings SET currency = 'XXX'")
        assert book.execute("SELECT currency FROM interest_postings").fetchone() == ("USD",)

    @pytest.mark.parametrize(
        "change",
        [
            "DELETE FROM currencies WHERE code = 'CHF'",
            "UPDATE currencies SET code = 'CHX' WHERE code = 'CHF'",
        ],
    )
    def test_a_currency_named_by_a_posting_or_a_line_stays(
        self, book: psycopg.Connection, change: str
    ) -> None:
        # no account is in CHF: only the posting and the journal name it
        book.execute(posting(currency="'CHF'"))
        with pytest.raises(errors.ForeignKeyViolation, match="currency CHF is still named"):
            book.execute(change)
        book.execute("DELETE FROM interest_postings WHERE currency = 'CHF'")
        book.execute(_lines("J-CHF", "CHF"))
        with pytest.raises(errors.ForeignKeyViolation, match="currency CHF is still named"):
            book.execute(change)
        assert book.execute("SELECT count(*) FROM currencies WHERE code = 'CHF'").fetchone() == (1,)
        # one no row names is deleted, another's digits can change
        book.execute("INSERT INTO currencies VALUES ('XTS', 2)")
        book.execute("DELETE FROM currencies WHERE code = 'XTS'")
        book.execute("UPDATE currencies SET minor_units = minor_units WHERE code = 'CHF'")

    def test_a_currency_delete_waits_for_an_inserting_chunk_and_then_finds_its_posting(
        self, book: psycopg.Connection, clean_db: URL
    ) -> None:
        with psycopg.connect(libpq_url(clean_db)) as chunk, psycopg.connect(libpq_url(clean_db)) as deleter:
            chunk.execute(posting(currency="'CHF'"))  # uncommitted: holds CHF's key-share lock
            deleter.execute("SET lock_timeout = '500ms'")
            with pytest.raises(errors.LockNotAvailable):
                deleter.execute("DELETE FROM currencies WHERE code = 'CHF'")
            deleter.rollback()
            chunk.commit()
            with pytest.raises(errors.ForeignKeyViolation):
                deleter.execute("DELETE FROM currencies WHERE code = 'CHF'")
        assert book.execute("SELECT count(*) FROM currencies WHERE code = 'CHF'").fetchone() == (1,)
