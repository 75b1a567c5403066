"""Spec §5 for the accrual: re-runs change nothing, or exactly what changed, and report it."""

import threading
import time
from datetime import date
from decimal import Decimal

import dagster as dg
import psycopg
from sqlalchemy.engine import URL

from interest_pipeline.accrual import sql
from interest_pipeline.batch.chunks import ChunkTask
from interest_pipeline.batch.config import BatchRunConfig
from interest_pipeline.batch.lifecycle import start_batch
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.settings import libpq_url
from interest_pipeline_tests.accrual.book import Book, accrue

D = date(2025, 3, 10)
TENTH = Decimal("0.1000000000")


def _book_of_two(book: Book) -> None:
    book.product("P", tiers=[("2020-01-01", "0", "3.65")])
    book.account(1, "P", {"2024-01-01": "1000"})
    book.account(2, "P", {"2024-01-01": "2000"})


def _capitalize(conn: psycopg.Connection, account_id: int, day: date) -> None:
    """Capitalize the account's accruals up to `day` the way the posting job does: a posting of `day`
    made after them (its write_seq, from the column default) is what capitalizes them."""
    amount = conn.execute(
        "SELECT amount FROM interest_accruals WHERE account_id = %s AND accrual_date = %s", (account_id, day)
    ).fetchone()[0]  # type: ignore[index]
    gross = round(amount, 2)
    conn.execute(
        "INSERT INTO interest_postings (account_id, posting_date, idempotency_key, currency, carry_in, accrued,"
        " gross, carry_out, tax, net, withholding_tax_rate, accrual_count, made_on)"
        " VALUES (%s, %s, %s, 'USD', 0, %s, %s, %s, 0, %s, 0, 1, %s)",
        (account_id, day, f"INT-CAP-{account_id}-{day:%Y-%m}", amount, gross, amount - gross, gross, day),
    )
    assert conn.execute(
        "SELECT status FROM interest_accruals WHERE account_id = %s AND accrual_date = %s", (account_id, day)
    ).fetchone() == ("CAPITALIZED",)


class TestRerunWithUnchangedInputs:
    def test_rows_are_not_rewritten(self, book: Book, instance: dg.DagsterInstance) -> None:
        _book_of_two(book)
        first = accrue(D, instance)
        before = {a: book.accrual_row(a, D) for a in (1, 2)}

        second = accrue(D, instance)

        after = {a: book.accrual_row(a, D) for a in (1, 2)}
        assert after == before  # same xmin, updated_at and execution_id: no UPDATE happened
        assert after[1]["execution_id"] == first.run_id  # type: ignore[index]
        results = book.results(second.run_id)
        assert [(r["status"], r["amount"], r["previous_amount"]) for r in results.values()] == [
            ("SUCCESS", TENTH, None),
            ("SUCCESS", Decimal("0.2000000000"), None),
        ]
        assert book.execution(second.run_id)["status"] == "SUCCESS"


class TestRerunAfterCorrection:
    def test_corrected_balance_recomputes_and_reports_previous_amount(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        _book_of_two(book)
        accrue(D, instance)
        untouched = book.accrual_row(2, D)
        book.balance(1, "2024-01-01", "3000")

        rerun = accrue(D, instance)

        row = book.accrual_row(1, D)
        assert row is not None
        assert (row["amount"], row["balance"], row["execution_id"]) == (
            Decimal("0.3000000000"),
            Decimal("3000.0000"),
            rerun.run_id,
        )
        assert book.accrual_row(2, D) == untouched
        result = book.results(rerun.run_id)[1]
        assert (result["status"], result["amount"], result["previous_amount"]) == (
            "SUCCESS",
            Decimal("0.3000000000"),
            TENTH,
        )

    def test_new_rate_recomputes(self, book: Book, instance: dg.DagsterInstance) -> None:
        _book_of_two(book)
        accrue(D, instance)
        book.conn.execute("UPDATE interest_rate_tiers SET annual_rate = 7.3")

        rerun = accrue(D, instance)

        assert book.accruals(D) == {1: Decimal("0.2000000000"), 2: Decimal("0.4000000000")}
        assert {a: r["previous_amount"] for a, r in book.results(rerun.run_id).items()} == {
            1: TENTH,
            2: Decimal("0.2000000000"),
        }

    def test_capitalized_row_is_untouched_and_the_difference_reported(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        _book_of_two(book)
        accrue(D, instance)
        _capitalize(book.conn, 1, D)
        capitalized = book.accrual_row(1, D)
        book.balance(1, "2024-01-01", "3000")

        rerun = accrue(D, instance)

        assert book.accrual_row(1, D) == capitalized
        result = book.results(rerun.run_id)[1]
        assert (result["status"], result["reason"], result["amount"], result["previous_amount"]) == (
            "SUCCESS",
            "ALREADY_CAPITALIZED",
            Decimal("0.3000000000"),
            TENTH,
        )

    def test_account_now_skipped_loses_its_accrued_row(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        _book_of_two(book)
        accrue(D, instance)
        book.balance(1, "2024-01-01", "0")

        rerun = accrue(D, instance)

        assert book.accruals(D) == {2: Decimal("0.2000000000")}
        result = book.results(rerun.run_id)[1]
        assert (result["status"], result["reason"], result["amount"], result["previous_amount"]) == (
            "SKIPPED",
            "NON_POSITIVE_BALANCE",
            None,
            TENTH,
        )

    def test_account_now_ineligible_loses_its_accrued_row(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        _book_of_two(book)
        accrue(D, instance)
        book.conn.execute("UPDATE accounts SET status = 'CLOSED', closed_on = %s WHERE id = 1", (D,))

        rerun = accrue(D, instance)

        assert book.accruals(D) == {2: Decimal("0.2000000000")}
        result = book.results(rerun.run_id)[1]
        assert (result["status"], result["reason"], result["previous_amount"]) == ("SKIPPED", "CLOSED", TENTH)
        assert book.execution(rerun.run_id)["accounts_processed"] == 2

    def test_account_now_failing_loses_its_accrued_row(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        _book_of_two(book)
        book.product("NORATE")
        accrue(D, instance)
        book.conn.execute("UPDATE accounts SET product_code = 'NORATE' WHERE id = 1")

        rerun = accrue(D, instance)

        assert book.accruals(D) == {2: Decimal("0.2000000000")}
        result = book.results(rerun.run_id)[1]
        assert (result["status"], result["reason"], result["previous_amount"]) == ("FAILED", "NO_RATE", TENTH)
        assert book.execution(rerun.run_id)["status"] == "PARTIAL"


class TestConcurrentRuns:
    def test_two_runs_of_one_date_at_once_leave_one_accrual_per_account(self, book: Book) -> None:
        book.product("P", tiers=[("2020-01-01", "0", "3.65")])
        book.conn.execute(
            "INSERT INTO accounts (id, account_number, product_code, currency, status, opened_on)"
            " SELECT g, 'C' || g, 'P', 'USD', 'ACTIVE', '2020-01-01' FROM generate_series(1, 4000) g"
        )
        book.conn.execute(
            "INSERT INTO account_balances SELECT g, '2024-01-01', 1000 FROM generate_series(1, 4000) g"
        )
        start = threading.Barrier(2)
        outcomes: list[dg.ExecuteInProcessResult] = []

        def run() -> None:
            # Each run its own instance, created and disposed in its thread (sqlite objects are per thread).
            instance = dg.DagsterInstance.ephemeral()
            try:
                start.wait()
                outcomes.append(accrue(D, instance, batch_size=500, raise_on_error=False))
            finally:
                instance.dispose()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)

        assert [o.success for o in outcomes] == [True, True]
        count, total = book.conn.execute(
            "SELECT count(DISTINCT account_id), count(*) FROM interest_accruals WHERE accrual_date = %s", (D,)
        ).fetchone()  # type: ignore[misc]
        assert (count, total) == (4000, 4000)
        assert {book.execution(o.run_id)["status"] for o in outcomes} == {"SUCCESS"}
        assert [book.execution(o.run_id)["accounts_succeeded"] for o in outcomes] == [4000, 4000]

    def test_a_correction_applied_by_two_runs_at_once_is_reported_by_one(
        self, book: Book, instance: dg.DagsterInstance, clean_db: URL
    ) -> None:
        """The second run waits for the first (lock_chunk) and then sees its rows: one change reported.

        Without the chunk lock both statements read the old amount before either commits, the
        second one's upsert waits on the first's row and then finds nothing to change, yet it
        reports the same correction again (previous_amount 0.1, changed 1).
        """
        _book_of_two(book)
        accrue(D, instance)
        book.balance(1, "2024-01-01", "3000")
        database = DatabaseResource(url=clean_db.render_as_string(hide_password=False))

        def plan(run_id: str) -> ChunkTask:
            (task,) = start_batch(
                database,
                job_type=sql.JOB_TYPE,
                run_id=run_id,
                business_date=D,
                trigger="MANUAL",
                run_config=BatchRunConfig(),
                run_state=lambda _: "RUNNING",
            )
            return task

        first_task, second_task = plan("first"), plan("second")
        url = libpq_url(clean_db)
        with psycopg.connect(url) as first, psycopg.connect(url) as second:
            first_totals = sql.accrue_chunk(first, first_task)  # holds its rows, uncommitted
            second_totals = []
            waiter = threading.Thread(
                target=lambda: second_totals.append(sql.accrue_chunk(second, second_task))
            )
            waiter.start()
            deadline = time.monotonic() + 30
            while book.conn.execute(
                "SELECT wait_event_type IS DISTINCT FROM 'Lock' FROM pg_stat_activity WHERE pid = %s",
                (second.info.backend_pid,),
            ).fetchone()[0]:  # type: ignore[index]
                assert time.monotonic() < deadline, "the second run never waited for the first"
                time.sleep(0.01)
            first.commit()
            waiter.join(timeout=30)
            second.commit()

        assert (first_totals.changed, [t.changed for t in second_totals]) == (1, [0])
        assert book.accruals(D) == {1: Decimal("0.3000000000"), 2: Decimal("0.2000000000")}
        reported = {
            run: {a: (r["status"], r["amount"], r["previous_amount"]) for a, r in book.results(run).items()}
            for run in ("first", "second")
        }
        assert reported == {
            "first": {
                1: ("SUCCESS", Decimal("0.3000000000"), TENTH),
                2: ("SUCCESS", Decimal("0.2000000000"), None),
            },
            "second": {
                1: ("SUCCESS", Decimal("0.3000000000"), None),
                2: ("SUCCESS", Decimal("0.2000000000"), None),
            },
        }
