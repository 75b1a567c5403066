"""The real migrations create the spec's schema exactly, match the models, and downgrade cleanly."""

from collections.abc import Iterator

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL

from interest_pipeline.db import migrate
from interest_pipeline.db.models import PROCESSING_TIME_COMMENT, Base
from interest_pipeline.db.partitions import is_partition
from interest_pipeline.settings import libpq_url
from interest_pipeline_tests.support.database import fresh_database
from interest_pipeline_tests.support.plans import plan_nodes

# Spec sections 1 and 4: each table with the columns the contract names (more are allowed).
SPEC_COLUMNS = {
    "currencies": {"code", "minor_units"},
    "interest_products": {
        "code",
        "account_type",
        "day_count",
        "posting_frequency",
        "tier_mode",
        "min_balance_for_interest",
        "withholding_tax_rate",
    },
    "interest_rate_tiers": {"product_code", "effective_from", "min_balance", "annual_rate"},
    "accounts": {
        "id",
        "account_number",
        "product_code",
        "currency",
        "status",
        "opened_on",
        "closed_on",
        "maturity_date",
        "rate_override",
    },
    "account_balances": {"account_id", "balance_date", "closing_balance"},
    "interest_accruals": {
        "account_id",
        "accrual_date",
        "balance",
        "amount",
        "status",
        "capitalization_date",
        "posting_id",
    },
    "interest_postings": {
        "id",
        "account_id",
        "posting_date",
        "idempotency_key",
        "currency",
        "carry_in",
        "gross",
        "carry_out",
        "tax",
        "net",
        "is_final",
    },
    "ledger_entries": {
        "journal_key",
        "line_no",
        "gl_account",
        "account_id",
        "debit",
        "credit",
        "currency",
        "value_date",
    },
    "interest_batch_config": {
        "job_type",
        "batch_size",
        "parallel_threads",
        "max_retries",
        "retry_interval_seconds",
        "timeout_seconds",
        "account_types",
        "custom_parameters",
        "cron_expression",
        "enabled",
    },
    "interest_batch_execution": {
        "id",
        "job_type",
        "business_date",
        "trigger",
        "status",
        "started_at",
        "completed_at",
        "accounts_processed",
        "accounts_succeeded",
        "accounts_skipped",
        "accounts_failed",
        "totals_by_currency",
    },
    "interest_batch_account_result": {
        "execution_id",
        "account_id",
        "status",
        "amount",
        "reason",
        "error_message",
        "processing_time_ms",
    },
    "interest_batch_account_status": {"account_id", "job_type", "last_status", "last_business_date"},
}

# The spec's SQL types, as information_schema spells them: (type, precision, scale).
SPEC_TYPES = {
    ("currencies", "code"): ("character", None, None),
    ("currencies", "minor_units"): ("smallint", 16, 0),
    ("interest_products", "min_balance_for_interest"): ("numeric", 19, 4),
    ("interest_products", "withholding_tax_rate"): ("numeric", 9, 6),
    ("interest_rate_tiers", "min_balance"): ("numeric", 19, 4),
    ("interest_rate_tiers", "annual_rate"): ("numeric", 9, 6),
    ("interest_rate_tiers", "effective_from"): ("date", None, None),
    ("accounts", "id"): ("bigint", 64, 0),
    ("accounts", "rate_override"): ("numeric", 9, 6),
    ("accounts", "closed_on"): ("date", None, None),
    ("account_balances", "closing_balance"): ("numeric", 19, 4),
    ("interest_accruals", "amount"): ("numeric", 28, 10),
    ("interest_accruals", "balance"): ("numeric", 19, 4),
    ("interest_postings", "carry_in"): ("numeric", 28, 10),
    ("interest_postings", "carry_out"): ("numeric", 28, 10),
    ("interest_postings", "gross"): ("numeric", 19, 4),
    ("interest_postings", "tax"): ("numeric", 19, 4),
    ("interest_postings", "net"): ("numeric", 19, 4),
    ("ledger_entries", "debit"): ("numeric", 19, 4),
    ("ledger_entries", "credit"): ("numeric", 19, 4),
}


@pytest.fixture(scope="module")
def scratch_url() -> Iterator[URL]:
    """A database of this module's own, since it is migrated down and up again."""
    with fresh_database(migrated=False, prefix="ip_migr") as url:
        yield url


def columns(url: URL) -> dict[str, set[str]]:
    engine = create_engine(url)
    try:
        insp = inspect(engine)
        # the views too: interest_accruals is one (migration 0011)
        names = [*insp.get_table_names(), *insp.get_view_names()]
        return {t: {c["name"] for c in insp.get_columns(t)} for t in names}
    finally:
        engine.dispose()


class TestUpgrade:
    def test_creates_every_spec_table_and_column(self, database_url: URL) -> None:
        present = columns(database_url)
        for table, wanted in SPEC_COLUMNS.items():
            assert table in present, table
            assert wanted <= present[table], (table, wanted - present[table])

    @pytest.mark.parametrize(("table_column", "sql_type"), SPEC_TYPES.items(), ids=lambda v: str(v))
    def test_money_and_rate_columns_have_spec_types(
        self, database_url: URL, table_column: tuple[str, str], sql_type: tuple[str, int | None, int | None]
    ) -> None:
        table, column = table_column
        with psycopg.connect(libpq_url(database_url)) as conn:
            row = conn.execute(
                "SELECT data_type, numeric_precision, numeric_scale FROM information_schema.columns"
                " WHERE table_name = %s AND column_name = %s",
                (table, column),
            ).fetchone()
        assert row == sql_type

    def test_models_match_migrations(self, database_url: URL) -> None:
        engine = create_engine(database_url)
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(
                    conn,
                    opts={
                        "compare_type": True,
                        "include_name": lambda name, kind, _parent: (
                            not (kind == "table" and (name == migrate.VERSION_TABLE or is_partition(name)))
                        ),
                    },
                )
                diff = compare_metadata(context, Base.metadata)
        finally:
            engine.dispose()
        # Triggers and functions are hand-written in the migrations; tables, columns, keys and
        # indexes must be exactly the models'.
        assert diff == []

    def test_executions_have_no_cross_currency_total(self, database_url: URL) -> None:
        present = columns(database_url)["interest_batch_execution"]
        assert "total_amount" not in present
        assert "totals_by_currency" in present

    def test_processing_time_is_commented_as_the_statements_time_per_row(self, database_url: URL) -> None:
        with psycopg.connect(libpq_url(database_url)) as conn:
            row = conn.execute(
                "SELECT col_description('interest_batch_account_result'::regclass, attnum)"
                " FROM pg_attribute WHERE attrelid = 'interest_batch_account_result'::regclass"
                " AND attname = 'processing_time_ms'"
            ).fetchone()
        assert row == (PROCESSING_TIME_COMMENT,)
        assert "divided by the number of rows it wrote" in PROCESSING_TIME_COMMENT
        assert "not a measurement of this account" in PROCESSING_TIME_COMMENT

    def test_head_is_current(self, database_url: URL) -> None:
        heads = migrate.alembic_config(database_url)
        from alembic.script import ScriptDirectory

        assert migrate.current_revision(database_url) == ScriptDirectory.from_config(heads).get_current_head()


class TestDowngrade:
    def test_downgrade_to_base_removes_everything_and_upgrade_restores(self, scratch_url: URL) -> None:
        migrate.upgrade(scratch_url)
        migrate.downgrade(scratch_url, "base")
        assert set(columns(scratch_url)) == {migrate.VERSION_TABLE}
        with psycopg.connect(libpq_url(scratch_url)) as conn:
            functions = conn.execute(
                "SELECT proname FROM pg_proc JOIN pg_namespace n ON n.oid = pronamespace"
                " WHERE nspname = 'public'"
            ).fetchall()
        assert functions == []
        migrate.upgrade(scratch_url)
        assert set(SPEC_COLUMNS) <= set(columns(scratch_url))

    def test_each_step_downgrades_and_upgrades(self, scratch_url: URL) -> None:
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(migrate.alembic_config(scratch_url))
        revisions = [r.revision for r in script.walk_revisions("base", "heads")]
        migrate.upgrade(scratch_url)
        for revision in revisions:
            migrate.downgrade(scratch_url, "-1")
            assert migrate.current_revision(scratch_url) != revision
        assert migrate.current_revision(scratch_url) is None
        migrate.upgrade(scratch_url)
        assert migrate.current_revision(scratch_url) == revisions[0]


SCHEMA_CATALOG = """
SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
  FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL SELECT 'function ' || oid::regprocedure || ' ' || md5(prosrc)
  FROM pg_proc WHERE pronamespace = 'public'::regnamespace
UNION ALL SELECT 'trigger ' || tgrelid::regclass || ' ' || tgname FROM pg_trigger WHERE NOT tgisinternal
UNION ALL SELECT 'seed currency ' || code || ' ' || minor_units FROM currencies
UNION ALL SELECT 'seed config ' || job_type FROM interest_batch_config
"""


def schema_catalog(url: URL) -> set[str]:
    with psycopg.connect(libpq_url(url)) as conn:
        return {row[0] for row in conn.execute(SCHEMA_CATALOG).fetchall()}


class TestEmptyRevision:
    def test_0004_changes_nothing_and_what_it_relies_on_is_there_before_it(self, scratch_url: URL) -> None:
        migrate.downgrade(scratch_url, "base")
        migrate.upgrade(scratch_url, "0003")
        before = schema_catalog(scratch_url)

        migrate.upgrade(scratch_url, "0004")

        assert migrate.current_revision(scratch_url) == "0004"
        assert schema_catalog(scratch_url) == before
        # what its docstring says the posting job relies on, already made by 0001..0003
        assert {
            "constraint interest_postings uq_interest_postings_idempotency_key UNIQUE (idempotency_key)",
            "index CREATE INDEX ix_interest_postings_account_id_posting_date ON public.interest_postings"
            " USING btree (account_id, posting_date)",
        } <= before
        migrate.upgrade(scratch_url)


class TestSeeds:
    def test_currencies_are_seeded_with_iso_minor_units(self, database_url: URL) -> None:
        with psycopg.connect(libpq_url(database_url)) as conn:
            rows = dict(conn.execute("SELECT code, minor_units FROM currencies").fetchall())
        assert rows == {
            "USD": 2,
            "EUR": 2,
            "GBP": 2,
            "CHF": 2,
            "JPY": 0,
            "KRW": 0,
            "KWD": 3,
            "BHD": 3,
            "OMR": 3,
        }

    def test_one_config_row_per_job_type_with_defaults(self, clean_db: URL) -> None:
        with psycopg.connect(libpq_url(clean_db)) as conn:
            rows = conn.execute(
                "SELECT job_type, batch_size, parallel_threads, max_retries, retry_interval_seconds,"
                " timeout_seconds, account_types, custom_parameters, cron_expression, enabled"
                " FROM interest_batch_config ORDER BY job_type"
            ).fetchall()
        types = ["SAVINGS", "FIXED_DEPOSIT", "RECURRING_DEPOSIT"]
        assert rows == [
            (
                "daily_interest_accrual",
                250_000,
                2,
                3,
                60,
                3600,
                types,
                {"include_dormant_accounts": False, "process_failed_accounts_first": True},
                "0 0 * * *",
                True,
            ),
            (
                "interest_posting",
                250_000,
                2,
                3,
                60,
                3600,
                types,
                {"process_failed_accounts_first": True},
                "0 1 * * *",
                True,
            ),
        ]


class TestRoundHalfEven:
    @pytest.mark.parametrize(
        ("value", "places", "expected"),
        [
            ("6.34156238125", 10, "6.3415623812"),
            ("6.34156238135", 10, "6.3415623814"),
            ("2.5", 0, "2"),
            ("3.5", 0, "4"),
            ("-2.5", 0, "-2"),
            ("-3.5", 0, "-4"),
            ("2.675", 2, "2.68"),
            ("2.665", 2, "2.66"),
            ("-2.665", 2, "-2.66"),
            ("8.4931506837", 2, "8.49"),
            ("1.2739", 2, "1.27"),
            ("0.0005", 3, "0.000"),
            ("0.0015", 3, "0.002"),
            ("123.4567", 0, "123"),
            ("0", 2, "0.00"),
        ],
    )
    def test_agrees_with_python_decimal(
        self, database_url: URL, value: str, places: int, expected: str
    ) -> None:
        from decimal import ROUND_HALF_EVEN, Decimal

        python = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        assert str(python) == expected
        with psycopg.connect(libpq_url(database_url)) as conn:
            row = conn.execute("SELECT round_half_even(%s::numeric, %s)::text", (value, places)).fetchone()
        assert row == (expected,)

    def test_agrees_with_python_on_many_values(self, database_url: URL) -> None:
        import random
        from decimal import ROUND_HALF_EVEN, Decimal

        rng = random.Random(7)
        values = []
        for _ in range(2000):
            digits = rng.randint(0, 10**9)
            scale = rng.randint(1, 6)
            tie = rng.random() < 0.5  # force a 5 in the dropped position half the time
            text = f"{'-' if rng.random() < 0.3 else ''}{digits}{5 if tie else rng.randint(0, 9)}"
            values.append((Decimal(text).scaleb(-scale), rng.randint(0, scale)))
        with psycopg.connect(libpq_url(database_url)) as conn:
            got = conn.execute(
                "SELECT round_half_even(v, p)::text FROM unnest(%s::numeric[], %s::int[]) AS t(v, p)",
                ([v for v, _ in values], [p for _, p in values]),
            ).fetchall()
        expected = [str(v.quantize(Decimal(1).scaleb(-p), rounding=ROUND_HALF_EVEN)) for v, p in values]
        assert [g for (g,) in got] == expected


VIEW_ROWS = (
    "SELECT account_id, accrual_date, amount, status, capitalization_date, posting_id"
    " FROM interest_accruals ORDER BY account_id, accrual_date"
)


def settings_at(url: URL, monkeypatch: pytest.MonkeyPatch) -> None:
    """The code under test (the jobs' lifecycles of test support) pointed at `url`."""
    from interest_pipeline.settings import DATABASE_URL_ENV, forget_settings

    monkeypatch.setenv(DATABASE_URL_ENV, url.render_as_string(hide_password=False))
    forget_settings()


def fresh_schema(url: URL) -> None:
    """`url` emptied and migrated to head: where a test of a book with data starts, and how it
    leaves the module's database for the other tests."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    migrate.upgrade(url)


def posted_book_at(url: URL, monkeypatch: pytest.MonkeyPatch, revision: str) -> None:
    """A fresh book made by today's code (accrued 1 Jan-28 Feb 2025, posted on 31 Jan), then taken
    down to `revision`: where a migration's test on a posted book starts."""
    from datetime import date

    from interest_pipeline_tests.checks.books import write_book
    from interest_pipeline_tests.posting.support import accrue_days, days, post_day

    settings_at(url, monkeypatch)
    fresh_schema(url)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        book = write_book(conn)
        accrue_days(conn, book, days(date(2025, 1, 1), date(2025, 2, 28)))
        post_day(conn, date(2025, 1, 31))
    migrate.downgrade(url, revision)


class TestCapitalizationByWriteOrder:
    """0011 moves a book with data to derived capitalization, and back, each row as it was."""

    def test_a_book_at_0010_keeps_every_status_and_posts_exactly_after_the_upgrade(
        self, scratch_url: URL, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from datetime import date
        from decimal import Decimal

        from interest_pipeline_tests.checks.books import ACCOUNTS, write_book
        from interest_pipeline_tests.posting.support import accrue_days, days, post_day

        settings_at(scratch_url, monkeypatch)
        fresh_schema(scratch_url)
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            book = write_book(conn)
            accrue_days(conn, book, days(date(2025, 1, 1), date(2025, 2, 28)))
            post_day(conn, date(2025, 1, 31))  # January capitalized, February still ACCRUED
            made = conn.execute(VIEW_ROWS).fetchall()

        # The 0010 layout: status, capitalization_date and posting_id stored on each row.
        migrate.downgrade(scratch_url, "0010")
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(VIEW_ROWS).fetchall() == made
            assert conn.execute(
                "SELECT status, count(*) FROM interest_accruals GROUP BY 1 ORDER BY 1"
            ).fetchall() == [("ACCRUED", ACCOUNTS * 28), ("CAPITALIZED", ACCOUNTS * 31)]
            # a row written at 0010 after January's posting, dated before it: pending
            conn.execute(
                "INSERT INTO interest_accruals (account_id, accrual_date, balance, amount)"
                " VALUES (7, '2024-12-31', 7007.1234, 0.6231940271)"
            )
            before = conn.execute(VIEW_ROWS).fetchall()
            [[pending]] = conn.execute("SELECT sum(amount) FROM interest_accruals WHERE status = 'ACCRUED'")

        migrate.upgrade(scratch_url)
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(VIEW_ROWS).fetchall() == before
            assert conn.execute(
                "SELECT count(*) FROM information_schema.columns"
                " WHERE table_name = 'interest_accrual_entries' AND column_name IN ('status', 'posting_id')"
            ).fetchone() == (0,)

            february = post_day(conn, date(2025, 2, 28))
            assert february.succeeded == ACCOUNTS
            [[accrued, count, first]] = conn.execute(
                "SELECT sum(accrued), sum(accrual_count), min(first_accrual_date) FROM interest_postings"
                " WHERE posting_date = '2025-02-28'"
            ).fetchall()
            assert (accrued, count, first) == (pending, ACCOUNTS * 28 + 1, date(2024, 12, 31))
            assert accrued > Decimal(0)
            assert conn.execute("SELECT status, count(*) FROM interest_accruals GROUP BY 1").fetchall() == [
                ("CAPITALIZED", ACCOUNTS * 59 + 1)
            ]
            after = conn.execute(VIEW_ROWS).fetchall()
        migrate.downgrade(scratch_url, "0010")
        with psycopg.connect(libpq_url(scratch_url)) as conn:
            assert conn.execute(VIEW_ROWS).fetchall() == after
        fresh_schema(scratch_url)


PRIMARY_KEY_COLUMNS = """
SELECT array_agg(a.attname ORDER BY k.n) FILTER (WHERE k.n <= i.indnkeyatts),
       array_agg(a.attname ORDER BY k.n) FILTER (WHERE k.n > i.indnkeyatts)
  FROM pg_index i
  JOIN pg_class t ON t.oid = i.indrelid
 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k (attnum, n)
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
 WHERE t.relname = 'interest_accrual_entries' AND i.indisprimary
"""


class TestPendingRowsIndexOnly:
    """0012: the accrual key carries amount and write_seq, so a posting reads pending rows from it alone."""

    def test_a_book_at_0011_gets_the_covering_key_and_reads_pending_rows_without_the_heap(
        self, scratch_url: URL, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from datetime import date

        from interest_pipeline.db.capitalization import pending_rows
        from interest_pipeline_tests.checks.books import ACCOUNTS, write_book
        from interest_pipeline_tests.posting.support import accrue_days, days, post_day

        settings_at(scratch_url, monkeypatch)
        # The book is made by today's code (which writes today's columns), then taken to 0011.
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            book = write_book(conn)
            accrue_days(conn, book, days(date(2025, 1, 1), date(2025, 2, 28)))
            post_day(conn, date(2025, 1, 31))
            made = conn.execute(VIEW_ROWS).fetchall()
        migrate.downgrade(scratch_url, "0011")
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(PRIMARY_KEY_COLUMNS).fetchone() == (["account_id", "accrual_date"], None)
            assert conn.execute(VIEW_ROWS).fetchall() == made

        migrate.upgrade(scratch_url)
        pending = pending_rows("7", "'2025-02-28'::date", "'2025-01-31'::date", "p.write_seq")
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(PRIMARY_KEY_COLUMNS).fetchone() == (
                ["account_id", "accrual_date"],
                ["amount", "write_seq"],
            )
            # on February's partition since 0015 (a partitioned table has no storage options)
            [[options]] = conn.execute(
                "SELECT reloptions FROM pg_class WHERE relname = 'interest_accrual_entries_y2025m02'"
            )
            assert sorted(options) == [
                "autovacuum_vacuum_insert_scale_factor=0",
                "autovacuum_vacuum_insert_threshold=500000",
            ]
            assert conn.execute(VIEW_ROWS).fetchall() == made
            conn.execute("VACUUM ANALYZE interest_accrual_entries")
            conn.execute("SET enable_seqscan = off")
            conn.execute("SET enable_bitmapscan = off")
            [[explained]] = conn.execute(
                "EXPLAIN (ANALYZE, FORMAT JSON) SELECT sum(x.amount), count(*) FROM interest_postings p"
                f" CROSS JOIN LATERAL ({pending}) x WHERE p.account_id = 7"
            ).fetchall()
            scans = [
                (
                    n["Relation Name"],
                    n["Node Type"],
                    n.get("Heap Fetches"),
                    n["Actual Rows"],
                    n["Actual Loops"],
                )
                for n in plan_nodes(explained[0]["Plan"])
                if str(n.get("Relation Name", "")).startswith("interest_accrual_entries")
            ]
            # February's 28 rows of account 7, every one from the key's leaf entries
            assert ("interest_accrual_entries_y2025m02", "Index Only Scan", 0, 28, 1) in scans
            # and no other month's partition read: January's pruned as the statement runs (its
            # dates are the previous posting's), the later ones as it is planned; the back-dated
            # part (recorded rows only: none here) never reaches the accruals
            assert [scan for scan in scans if scan[4]] == [
                ("interest_accrual_entries_y2025m02", "Index Only Scan", 0, 28, 1)
            ], scans
            [[posted]] = conn.execute("SELECT count(*) FROM interest_postings")
            assert posted == ACCOUNTS

        migrate.downgrade(scratch_url, "0011")
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(PRIMARY_KEY_COLUMNS).fetchone() == (["account_id", "accrual_date"], None)
            assert conn.execute(
                "SELECT reloptions FROM pg_class WHERE relname = 'interest_accrual_entries'"
            ).fetchone() == (None,)
            assert conn.execute(VIEW_ROWS).fetchall() == made
        fresh_schema(scratch_url)


RESULT_INDEXES = """
SELECT indexname FROM pg_indexes WHERE tablename = 'interest_batch_account_result' ORDER BY 1
"""
FIRST_RESULTS = """
SELECT account_id, job_type, min(business_date) FROM interest_batch_account_result GROUP BY 1, 2 ORDER BY 1, 2
"""
FIRST_DATES = """
SELECT account_id, job_type, first_business_date FROM interest_batch_account_status ORDER BY 1, 2
"""


class TestResultLogWithoutAccountIndex:
    """0014: the result log loses its per-account index; each account's first result date moves to
    its status row, and the completeness check still counts missing dates from it."""

    def test_a_book_at_0013_keeps_its_first_result_dates_and_still_blocks_a_gap(
        self, scratch_url: URL, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from datetime import date

        from interest_pipeline_tests.checks.books import ACCOUNTS, write_book
        from interest_pipeline_tests.posting.support import accrue_day, accrue_days, days, post_day

        settings_at(scratch_url, monkeypatch)
        fresh_schema(scratch_url)
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            book = write_book(conn)
            accrue_days(conn, book, days(date(2025, 1, 3), date(2025, 1, 31)))
            # a backfill of an earlier date, after the later ones: it moves the first date back
            accrue_day(conn, book, date(2025, 1, 1))
            first_results = conn.execute(FIRST_RESULTS).fetchall()
            assert {d for _, _, d in first_results} == {date(2025, 1, 1)}
            assert len(first_results) == ACCOUNTS + 1  # and the zero balance's SKIPPED
            assert conn.execute(FIRST_DATES).fetchall() == first_results

        migrate.downgrade(scratch_url, "0013")
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert [name for (name,) in conn.execute(RESULT_INDEXES)] == [
                "ix_interest_batch_account_result_account_id_job_type_bu_cc1d",
                "ix_interest_batch_account_result_execution_not_success",
                "ix_interest_batch_account_result_failed_postings",
                "ix_interest_batch_account_result_not_success",
                "pk_interest_batch_account_result",
            ]
            assert conn.execute(
                "SELECT count(*) FROM information_schema.columns"
                " WHERE table_name = 'interest_batch_account_status' AND column_name = 'first_business_date'"
            ).fetchone() == (0,)

        migrate.upgrade(scratch_url)
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert [name for (name,) in conn.execute(RESULT_INDEXES)] == [
                "ix_interest_batch_account_result_execution_not_success",
                "ix_interest_batch_account_result_failed_postings",
                "ix_interest_batch_account_result_not_success",
                "ix_interest_batch_account_result_posting_results",
                "pk_interest_batch_account_result",
            ]
            assert conn.execute(FIRST_DATES).fetchall() == first_results

            # January 2nd was never accrued: every account's posting of the 31st is blocked by it
            blocked = post_day(conn, date(2025, 1, 31))
            assert (blocked.succeeded, blocked.execution.accounts_failed) == (0, ACCOUNTS + 1)
            reasons = conn.execute(
                "SELECT DISTINCT reason FROM interest_batch_account_result"
                " WHERE job_type = 'interest_posting' AND status = 'FAILED'"
            ).fetchall()
            assert len(reasons) == 1 and "2025-01-02" in reasons[0][0]
            assert conn.execute("SELECT count(*) FROM interest_postings").fetchone() == (0,)

            # repaired, the next posting run makes them all (the owed check reads the new index)
            accrue_day(conn, book, date(2025, 1, 2))
            made = post_day(conn, date(2025, 1, 31))
            assert (made.succeeded, made.execution.accounts_failed) == (ACCOUNTS, 0)
            assert conn.execute(
                "SELECT count(*), min(first_accrual_date), max(last_accrual_date) FROM interest_postings"
            ).fetchone() == (ACCOUNTS, date(2025, 1, 1), date(2025, 1, 31))
        fresh_schema(scratch_url)


PARTITION_ROWS = """
SELECT e.tableoid::regclass::text, min(e.accrual_date), max(e.accrual_date), count(*)
  FROM interest_accrual_entries e GROUP BY 1 ORDER BY 2
"""
ENTRIES_KIND = "SELECT relkind FROM pg_class WHERE relname = 'interest_accrual_entries'"
BACKDATED_ROWS = "SELECT account_id, accrual_date FROM interest_accrual_backdated ORDER BY 1, 2"


class TestAccrualsByMonth:
    """0015: a book's accruals move into month partitions, each row as it was, and the rows written
    after a posting though dated before it are recorded where the next posting finds them."""

    def test_a_book_at_0014_is_partitioned_by_month_and_its_back_dated_row_still_posts(
        self, scratch_url: URL, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from datetime import date

        from interest_pipeline.db.partitions import months_between, next_month, partition_name
        from interest_pipeline_tests.checks.books import ACCOUNTS
        from interest_pipeline_tests.posting.support import post_day

        posted_book_at(scratch_url, monkeypatch, "0014")
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(ENTRIES_KIND).fetchone() == ("r",)
            # written at 0014 after January's posting, dated before it: the next posting's
            conn.execute(
                "INSERT INTO interest_accruals (account_id, accrual_date, balance, amount)"
                " VALUES (7, '2024-12-31', 7007.1234, 0.6231940271)"
            )
            # and a row written before the posting, dated after it (February): not back-dated
            made = conn.execute(VIEW_ROWS).fetchall()
            [[pending]] = conn.execute("SELECT sum(amount) FROM interest_accruals WHERE status = 'ACCRUED'")

        migrate.upgrade(scratch_url)
        today = date.today()
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(ENTRIES_KIND).fetchone() == ("p",)
            assert conn.execute(VIEW_ROWS).fetchall() == made
            # each month's rows in its own partition: from the first row's month to the month after
            # this one, the default partition empty
            assert conn.execute(PARTITION_ROWS).fetchall() == [
                ("interest_accrual_entries_y2024m12", date(2024, 12, 31), date(2024, 12, 31), 1),
                ("interest_accrual_entries_y2025m01", date(2025, 1, 1), date(2025, 1, 31), ACCOUNTS * 31),
                ("interest_accrual_entries_y2025m02", date(2025, 2, 1), date(2025, 2, 28), ACCOUNTS * 28),
            ]
            partitions = {
                name
                for (name,) in conn.execute(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                    " WHERE i.inhparent = 'interest_accrual_entries'::regclass"
                )
            }
            months = months_between(date(2024, 12, 1), next_month(today))
            assert partitions == {partition_name(m) for m in months} | {"interest_accrual_entries_default"}
            # the key, its covering columns and the indexes on every partition
            assert conn.execute(PRIMARY_KEY_COLUMNS).fetchone() == (
                ["account_id", "accrual_date"],
                ["amount", "write_seq"],
            )
            [[indexes]] = conn.execute(
                "SELECT array_agg(indexname ORDER BY indexname) FROM pg_indexes"
                " WHERE tablename = 'interest_accrual_entries_y2025m01'"
            )
            assert len(indexes) == 2  # the key and the date index (no write_seq index since 0015)
            assert conn.execute(BACKDATED_ROWS).fetchall() == [(7, date(2024, 12, 31))]

            february = post_day(conn, date(2025, 2, 28))
            assert february.succeeded == ACCOUNTS
            [[accrued, count, first]] = conn.execute(
                "SELECT sum(accrued), sum(accrual_count), min(first_accrual_date) FROM interest_postings"
                " WHERE posting_date = '2025-02-28'"
            ).fetchall()
            assert (accrued, count, first) == (pending, ACCOUNTS * 28 + 1, date(2024, 12, 31))
            after = conn.execute(VIEW_ROWS).fetchall()
            assert {status for _, _, _, status, _, _ in after} == {"CAPITALIZED"}

        migrate.downgrade(scratch_url, "0014")
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(ENTRIES_KIND).fetchone() == ("r",)
            assert conn.execute(VIEW_ROWS).fetchall() == after
            assert conn.execute("SELECT to_regclass('interest_accrual_backdated')").fetchone() == (None,)
            assert conn.execute(
                "SELECT count(*) FROM pg_class WHERE relname LIKE 'interest_accrual_entries_%'"
                " AND relkind = 'r'"
            ).fetchone() == (0,)
        fresh_schema(scratch_url)


class TestCheckedThrough:
    """0016: a posting run that found nothing pending bounds the next posting's read, so the rows
    such a run did not see, written before 0016 and not recorded then, are recorded by it."""

    def test_a_row_written_at_0015_after_a_run_with_nothing_to_post_is_recorded_and_posted(
        self, scratch_url: URL, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from datetime import date
        from decimal import Decimal

        from interest_pipeline_tests.posting.support import Book, accrue_day, days, post_day, product

        settings_at(scratch_url, monkeypatch)
        fresh_schema(scratch_url)
        book = Book()
        facts = book.add_product(product("SAV"), rate="3.65")
        book.add_account(facts, 1, balance="1000.0000")
        book.add_account(facts, 2, balance="0.0000")  # nothing to post on January 31st
        book.balances[2] += [(date(2025, 2, 1), Decimal("1000.0000"))]
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            book.write(conn)
            for d in days(date(2025, 1, 1), date(2025, 1, 31)):
                accrue_day(conn, book, d)
            post_day(conn, date(2025, 1, 31))

        migrate.downgrade(scratch_url, "0015")
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            # written at 0015 after that run: account 2 has no posting, so 0015 records nothing
            conn.execute(
                "INSERT INTO interest_accruals (account_id, accrual_date, balance, amount)"
                " VALUES (2, '2025-01-10', 1000, 0.1)"
            )
            assert conn.execute(BACKDATED_ROWS).fetchall() == []

        migrate.upgrade(scratch_url)
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(BACKDATED_ROWS).fetchall() == [(2, date(2025, 1, 10))]
            for d in days(date(2025, 2, 1), date(2025, 2, 28)):
                accrue_day(conn, book, d)
            assert post_day(conn, date(2025, 2, 28)).succeeded == 2
            assert conn.execute(
                "SELECT account_id, accrued, accrual_count, first_accrual_date FROM interest_postings"
                " WHERE posting_date = '2025-02-28' ORDER BY account_id"
            ).fetchall() == [
                (1, Decimal("2.8000000000"), 28, date(2025, 2, 1)),
                (2, Decimal("2.9000000000"), 29, date(2025, 1, 10)),
            ]

        migrate.downgrade(scratch_url, "0015")
        fresh_schema(scratch_url)


KEY_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
 WHERE indexname IN ('uq_interest_postings_idempotency_key', 'uq_ledger_entries_journal_key_line_no')
 ORDER BY 1
"""


class TestKeysByMonth:
    """0017: the postings' and journals' keys indexed month first, still unique, still what a
    re-run of a posting date stops at, and what a lookup by key reads."""

    def test_a_posted_book_keeps_its_keys_unique_and_read_by_month(
        self, scratch_url: URL, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from datetime import date

        from interest_pipeline.reporting.sql import JOURNAL_SQL
        from interest_pipeline_tests.checks.books import ACCOUNTS
        from interest_pipeline_tests.posting.support import post_day

        posted_book_at(scratch_url, monkeypatch, "0016")
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert {name for name, _ in conn.execute(KEY_INDEXES)} == {
                "uq_interest_postings_idempotency_key",
                "uq_ledger_entries_journal_key_line_no",
            }
            made = conn.execute("SELECT * FROM interest_postings ORDER BY id").fetchall()
            lines = conn.execute("SELECT * FROM ledger_entries ORDER BY id").fetchall()

        migrate.upgrade(scratch_url)
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(KEY_INDEXES).fetchall() == [
                (
                    "uq_interest_postings_idempotency_key",
                    "CREATE UNIQUE INDEX uq_interest_postings_idempotency_key ON public.interest_postings"
                    ' USING btree ("right"(idempotency_key, 7), idempotency_key)',
                ),
                (
                    "uq_ledger_entries_journal_key_line_no",
                    "CREATE UNIQUE INDEX uq_ledger_entries_journal_key_line_no ON public.ledger_entries"
                    ' USING btree ("right"(journal_key, 7), journal_key, line_no)',
                ),
            ]
            assert conn.execute("SELECT * FROM interest_postings ORDER BY id").fetchall() == made
            assert conn.execute("SELECT * FROM ledger_entries ORDER BY id").fetchall() == lines
            # January's keys are taken: its re-run makes nothing; February's are new
            again = post_day(conn, date(2025, 1, 31))
            assert (again.succeeded, again.failed) == (0, 0)
            february = post_day(conn, date(2025, 2, 28)).succeeded
            assert february == ACCOUNTS
            assert conn.execute(
                "SELECT right(idempotency_key, 7), count(*) FROM interest_postings GROUP BY 1 ORDER BY 1"
            ).fetchall() == [("2025-01", len(made)), ("2025-02", february)]
            # a duplicate still fails by the constraint's old name
            with pytest.raises(psycopg.errors.UniqueViolation, match="uq_ledger_entries_journal_key_line_no"):
                conn.execute(
                    "INSERT INTO ledger_entries (journal_key, line_no, gl_account, debit, credit, currency,"
                    " value_date) SELECT journal_key, line_no, gl_account, debit, credit, currency, value_date"
                    " FROM ledger_entries ORDER BY id LIMIT 1"
                )
            # a journal read by its key: the key's index, month and key as its conditions (a
            # ledger this small is read whole unless the planner is told not to)
            key = "INT-CAP-1-2025-02"
            conn.execute("SET enable_seqscan = off")
            [[plan]] = conn.execute("EXPLAIN (FORMAT JSON) " + JOURNAL_SQL, {"key": key}).fetchall()
            scans = [n for n in plan_nodes(plan[0]["Plan"]) if n.get("Index Name")]
            assert [n["Index Name"] for n in scans] == ["uq_ledger_entries_journal_key_line_no"]
            assert scans[0]["Index Cond"].startswith('(("right"(journal_key, 7) = ')
            assert len(conn.execute(JOURNAL_SQL, {"key": key}).fetchall()) >= 2
        fresh_schema(scratch_url)


class TestPostingsByExecution:
    """0018: a run's postings found by its execution id through an index, not a scan of every
    posting ever made (the close's dates and table, the dry run)."""

    def test_a_posted_book_upgraded_finds_a_runs_postings_by_the_index(
        self, scratch_url: URL, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from datetime import date

        from interest_pipeline.checks.sql import posting_dates
        from interest_pipeline.reporting.sql import POSTING_RUN_SQL, posting_run
        from interest_pipeline_tests.checks.books import ACCOUNTS
        from interest_pipeline_tests.posting.support import post_day

        index = "ix_interest_postings_execution_id"
        posted_book_at(scratch_url, monkeypatch, "0017")
        named = "SELECT indexdef FROM pg_indexes WHERE indexname = %s"
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(named, (index,)).fetchall() == []
        migrate.upgrade(scratch_url)
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(named, (index,)).fetchall() == [
                (f"CREATE INDEX {index} ON public.interest_postings USING btree (execution_id)",)
            ]
            february = post_day(conn, date(2025, 2, 28))
            assert february.succeeded == ACCOUNTS
            [[run]] = conn.execute(
                "SELECT id FROM interest_batch_execution WHERE job_type = 'interest_posting'"
                " AND business_date = '2025-02-28'"
            ).fetchall()
            # what the close reads: February's date, and its table of ACCOUNTS postings
            assert posting_dates(conn, run) == [date(2025, 2, 28)]
            assert sum(row[2] for row in posting_run(conn, run)) == ACCOUNTS
            # both by the index (a book this small is read whole unless the planner is told not to)
            conn.execute("SET enable_seqscan = off")
            [[plan]] = conn.execute(
                "EXPLAIN (FORMAT JSON) " + POSTING_RUN_SQL, {"execution_id": run}
            ).fetchall()
            assert index in {n.get("Index Name") for n in plan_nodes(plan[0]["Plan"])}
        migrate.downgrade(scratch_url, "0017")
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(named, (index,)).fetchall() == []
        fresh_schema(scratch_url)


class TestDefaultBatchSize:
    """0019: the seeded config rows nobody changed go from 50,000 accounts a chunk to 250,000; an
    operator's rows, at 50,000 or not, stay as they are, and downgrade puts back only what it changed."""

    def test_only_untouched_seeded_rows_change_both_ways(self, scratch_url: URL) -> None:
        fresh_schema(scratch_url)
        migrate.downgrade(scratch_url, "0018")
        sizes = "SELECT job_type, name, batch_size FROM interest_batch_config ORDER BY id"
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(sizes).fetchall() == [
                ("daily_interest_accrual", "default", 50_000),
                ("interest_posting", "default", 50_000),
            ]
            # the posting's default row edited by an operator (kept at 50,000 on purpose), and a
            # named row created through the API at 50,000
            conn.execute(
                "UPDATE interest_batch_config SET parallel_threads = 2, updated_by = 'ops',"
                " updated_at = clock_timestamp() WHERE job_type = 'interest_posting'"
            )
            conn.execute(
                "INSERT INTO interest_batch_config (job_type, name, batch_size, parallel_threads, max_retries,"
                " retry_interval_seconds, timeout_seconds, account_types, custom_parameters, cron_expression,"
                " created_by, updated_by)"
                " SELECT job_type, 'nightly-fd', 50000, parallel_threads, max_retries, retry_interval_seconds,"
                " timeout_seconds, account_types, custom_parameters, cron_expression, 'ops', 'ops'"
                " FROM interest_batch_config WHERE job_type = 'daily_interest_accrual'"
            )
        migrate.upgrade(scratch_url)
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(sizes).fetchall() == [
                ("daily_interest_accrual", "default", 250_000),
                ("interest_posting", "default", 50_000),
                ("daily_interest_accrual", "nightly-fd", 50_000),
            ]
        migrate.downgrade(scratch_url, "0018")
        with psycopg.connect(libpq_url(scratch_url), autocommit=True) as conn:
            assert conn.execute(sizes).fetchall() == [
                ("daily_interest_accrual", "default", 50_000),
                ("interest_posting", "default", 50_000),
                ("daily_interest_accrual", "nightly-fd", 50_000),
            ]
        fresh_schema(scratch_url)
