"""A blocked posting is made by the first posting run after its repair, as the same posting (spec §3).

The issue's scenario, as a user ran it: a book accrued and posted every day from January to
April 2024 with the accruals of 2024-01-15 and 2024-02-10 left out at first, so January's monthly
postings and every maturity and closure from Feb 10 to Feb 20 are blocked; Jan 15 is repaired on
Feb 2 (a day after the block) and Feb 10 on Apr 5 (two months after), while the daily posting runs
go on. The accruals are written by the accrual job's own statements (its lifecycle, as the ops
call it) and every posting run by the posting job's, in this process. At the end, every posting,
carry, tax, write-off, journal and capitalization equals what an unblocked run makes (the domain
simulator), each key once, and the late ones say when they were made.
"""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import URL

from interest_pipeline.batch.config import BatchRunConfig
from interest_pipeline.cli import main
from interest_pipeline.definitions import defs
from interest_pipeline.domain import AccountType, DayCount, PostingFrequency, SimulationResult
from interest_pipeline.posting import sql as posting_sql
from interest_pipeline.posting.job import JOB_NAME as POSTING_JOB
from interest_pipeline.posting.lifecycle import post_business_date
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource
from interest_pipeline.settings import libpq_url
from interest_pipeline_tests.posting.support import (
    Book,
    accrue_day,
    accrue_days,
    accrue_with_the_job,
    days,
    db_ledger,
    db_postings,
    oracle_ledger,
    oracle_postings,
    post_day,
    product,
)

START = date(2024, 1, 1)
END = date(2024, 4, 10)
JAN_15 = date(2024, 1, 15)
FEB_10 = date(2024, 2, 10)
# Left out on their own day; accrued later, before that day's runs.
REPAIRS = {date(2024, 2, 2): JAN_15, date(2024, 4, 5): FEB_10}

MONTHLY = (1, 2, 3, 13)
QUARTERLY = (4, 5)
# account -> the day it ends (maturity or closure): all between Feb 10 and Feb 20
FINALS = {6: FEB_10, 7: date(2024, 2, 14), 8: date(2024, 2, 20), 9: date(2024, 2, 16), 10: date(2024, 2, 12)}
FINALS[11] = date(2024, 2, 18)


def build_book() -> Book:
    book = Book()
    savings = book.add_product(product("SAV-M", tax="15"))
    quarterly = book.add_product(product("SAV-Q", PostingFrequency.QUARTERLY, day_count=DayCount.ACT_360))
    fd_monthly = book.add_product(
        product("FD-M", tax="10", day_count=DayCount.ACT_ACT, account_type=AccountType.FIXED_DEPOSIT),
        rate="4.5",
    )
    td = book.add_product(
        product("TD", PostingFrequency.AT_MATURITY, account_type=AccountType.FIXED_DEPOSIT), rate="5.25"
    )
    recurring = book.add_product(
        product("RD", day_count=DayCount.THIRTY_360, account_type=AccountType.RECURRING_DEPOSIT), rate="6"
    )
    book.add_account(savings, 1, currency="USD", balance="1000.0000")
    book.add_account(savings, 2, currency="JPY", balance="1234567.0000")
    book.add_account(savings, 3, currency="KWD", balance="2500.1250")
    book.add_account(quarterly, 4, currency="USD", balance="50452.2090")
    book.add_account(quarterly, 5, currency="KWD", balance="777.7770")
    book.add_account(
        fd_monthly, 6, balance="10000.0000", opened_on=date(2023, 11, 10), maturity_date=FINALS[6]
    )
    book.add_account(fd_monthly, 7, currency="JPY", balance="990000.0000", maturity_date=FINALS[7])
    book.add_account(fd_monthly, 8, currency="BHD", balance="3333.3330", maturity_date=FINALS[8])
    book.add_account(td, 9, balance="25000.0000", opened_on=date(2023, 11, 16), maturity_date=FINALS[9])
    book.add_account(savings, 10, balance="4321.0000", closed_on=FINALS[10])
    book.add_account(quarterly, 11, balance="888.8800", closed_on=FINALS[11])
    book.add_account(recurring, 13, balance="1500.5000")
    return book


def accrue(database: DatabaseResource, d: date, run_id: str) -> None:
    accrue_with_the_job(database, d, run_id, batch_size=5)


@dataclass
class PostingRun:
    run_id: str
    chunks: list[posting_sql.PostingChunkTotals] = field(default_factory=list)

    @property
    def late_posted(self) -> int:
        return sum(c.late_posted for c in self.chunks)

    @property
    def late_blocked(self) -> int:
        return sum(c.late_blocked for c in self.chunks)


def post(database: DatabaseResource, d: date, run_id: str, **config: object) -> PostingRun:
    run = PostingRun(run_id)
    post_business_date(
        database,
        d,
        PostgresLedgerResource(),
        run_id=run_id,
        run_config=BatchRunConfig(batch_size=4, **config),  # type: ignore[arg-type]
        on_chunk=run.chunks.append,
    )
    return run


@dataclass(frozen=True)
class Scenario:
    url: URL
    oracle: SimulationResult
    runs: dict[date, PostingRun]


@pytest.fixture(scope="module")
def scenario(database_url: URL, _seeded_config: list[tuple[object, ...]]) -> Iterator[Scenario]:
    from interest_pipeline_tests.support.database import reset_data

    reset_data(database_url, _seeded_config)
    book = build_book()
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        book.write(conn)
    database = DatabaseResource()
    runs: dict[date, PostingRun] = {}
    for d in days(START, END):
        if d in REPAIRS:
            accrue(database, REPAIRS[d], f"repair-{REPAIRS[d]}-on-{d}")
        if d not in REPAIRS.values():
            accrue(database, d, f"accrual-{d}")
        runs[d] = post(database, d, f"posting-{d}")
    yield Scenario(database_url, book.simulate(START, END), runs)
    reset_data(database_url, _seeded_config)


@pytest.fixture
def db(scenario: Scenario) -> Iterator[psycopg.Connection]:
    with psycopg.connect(libpq_url(scenario.url), autocommit=True) as conn:
        yield conn


def made_late(conn: psycopg.Connection) -> dict[str, date]:
    return dict(
        conn.execute(
            "SELECT idempotency_key, made_on FROM interest_postings WHERE made_on <> posting_date ORDER BY 1"
        ).fetchall()
    )


def results_of(conn: psycopg.Connection, run_id: str, account_id: int) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT business_date, status, reason FROM interest_batch_account_result"
        " WHERE execution_id = %s AND account_id = %s ORDER BY business_date",
        (run_id, account_id),
    ).fetchall()


# The module's scenario book is built once: split over two xdist workers, each built it (~55 s).
@pytest.mark.xdist_group("late-postings-scenario")
class TestRepairedBook:
    def test_the_scenario_blocks_what_the_issue_says(
        self, scenario: Scenario, db: psycopg.Connection
    ) -> None:
        blocked = db.execute(
            "SELECT DISTINCT account_id, business_date FROM interest_batch_account_result"
            " WHERE job_type = 'interest_posting' AND status = 'FAILED' ORDER BY 1, 2"
        ).fetchall()
        jan_31, feb_29, mar_31 = date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)
        expected = {(a, jan_31) for a in (1, 2, 3, 6, 7, 8, 10, 13)}
        expected |= {(a, feb_29) for a in MONTHLY} | {(a, mar_31) for a in MONTHLY + QUARTERLY}
        expected |= set(FINALS.items())
        assert set(blocked) == expected
        assert scenario.oracle.posting_failures == {}

    def test_every_posting_is_what_an_unblocked_run_makes(
        self, scenario: Scenario, db: psycopg.Connection
    ) -> None:
        postings = db_postings(db)
        assert postings == oracle_postings(scenario.oracle)
        assert len({p[2] for p in postings}) == len(postings) == 24
        finals = {p[0]: (p[1], p[10], p[11]) for p in postings if p[10]}
        assert {a: d for a, (d, _, _) in finals.items()} == FINALS
        assert any(written_off != 0 for _, _, written_off in finals.values())

    def test_every_journal_line(self, scenario: Scenario, db: psycopg.Connection) -> None:
        assert db_ledger(db) == oracle_ledger(scenario.oracle)

    def test_every_accrual_capitalized_on_its_due_date(
        self, scenario: Scenario, db: psycopg.Connection
    ) -> None:
        rows = db.execute(
            "SELECT a.account_id, a.accrual_date, a.status, a.capitalization_date, p.posting_date"
            " FROM interest_accruals a LEFT JOIN interest_postings p ON p.id = a.posting_id"
        ).fetchall()
        assert {(a, d): (c, p) for a, d, status, c, p in rows if status == "CAPITALIZED"} == {
            k: (v, v) for k, v in scenario.oracle.capitalization_dates.items()
        }
        assert {(a, d) for a, d, status, _, _ in rows if status == "ACCRUED"} == (
            set(scenario.oracle.accruals) - set(scenario.oracle.capitalization_dates)
        )

    def test_late_postings_record_the_run_that_made_them(self, db: psycopg.Connection) -> None:
        on_feb_2 = {f"INT-CAP-{a}-2024-01": date(2024, 2, 2) for a in (1, 2, 3, 6, 7, 8, 10, 13)}
        on_apr_5 = {f"INT-CAP-{a}-2024-02": date(2024, 4, 5) for a in (*MONTHLY, *FINALS)}
        on_apr_5 |= {f"INT-CAP-{a}-2024-03": date(2024, 4, 5) for a in MONTHLY + QUARTERLY}
        assert made_late(db) == on_feb_2 | on_apr_5
        # the journal's value date is the due date, not the day it was made
        assert db.execute(
            "SELECT DISTINCT l.value_date FROM ledger_entries l WHERE l.journal_key = 'INT-CAP-8-2024-02'"
        ).fetchall() == [(FINALS[8],)]

    def test_runs_count_late_postings_made_and_still_blocked(self, scenario: Scenario) -> None:
        counts = {
            d: (r.late_posted, r.late_blocked)
            for d, r in scenario.runs.items()
            if r.late_posted or r.late_blocked
        }
        expected = {date(2024, 2, 1): (0, 8), date(2024, 2, 2): (8, 0)}
        # Finals wait from the day after each ends; Feb 29's monthly postings from Mar 1, and Mar 31's from Apr 1.
        for d in days(date(2024, 2, 11), date(2024, 4, 4)):
            ended = sum(1 for end in FINALS.values() if end < d)
            monthly = len(MONTHLY) if d > date(2024, 2, 29) else 0
            march = len(MONTHLY + QUARTERLY) if d > date(2024, 3, 31) else 0
            expected[d] = (0, ended + monthly + march)
        expected[date(2024, 4, 5)] = (len(FINALS) + len(MONTHLY) + len(MONTHLY + QUARTERLY), 0)
        assert counts == expected

    def test_a_waiting_posting_is_reported_blocked_with_its_dates(self, db: psycopg.Connection) -> None:
        assert results_of(db, "posting-2024-02-01", 1) == [
            (date(2024, 1, 31), "FAILED", "INCOMPLETE_ACCRUALS: missing 2024-01-15")
        ]
        assert results_of(db, "posting-2024-04-04", 1) == [
            (date(2024, 2, 29), "FAILED", "INCOMPLETE_ACCRUALS: missing 2024-02-10"),
            (date(2024, 3, 31), "FAILED", "INCOMPLETE_ACCRUALS: missing 2024-02-10"),
        ]
        assert results_of(db, "posting-2024-04-05", 1) == [
            (date(2024, 2, 29), "SUCCESS", None),
            (date(2024, 3, 31), "SUCCESS", None),
        ]
        # the run's latest word per account: made, not failed
        assert db.execute(
            "SELECT count(*) FROM interest_batch_account_status WHERE job_type = 'interest_posting'"
            " AND last_status = 'FAILED'"
        ).fetchone() == (0,)

    def test_a_run_leaving_postings_blocked_is_partial(self, db: psycopg.Connection) -> None:
        statuses = dict(
            db.execute(
                "SELECT business_date, status FROM interest_batch_execution WHERE job_type = 'interest_posting'"
                " AND business_date IN ('2024-02-01', '2024-02-02', '2024-04-04', '2024-04-05')"
            ).fetchall()
        )
        assert statuses == {
            date(2024, 2, 1): "PARTIAL",
            date(2024, 2, 2): "SUCCESS",
            date(2024, 4, 4): "PARTIAL",
            date(2024, 4, 5): "SUCCESS",
        }

    def test_nothing_is_waiting_at_the_end(self, db: psycopg.Connection) -> None:
        assert posting_sql.waiting_postings(db, END + timedelta(days=1)) == []

    def test_rerunning_every_posting_date_changes_nothing(
        self, scenario: Scenario, db: psycopg.Connection
    ) -> None:
        def snapshot() -> tuple[object, ...]:
            return (
                db.execute("SELECT * FROM interest_postings ORDER BY id").fetchall(),
                db.execute("SELECT * FROM ledger_entries ORDER BY id").fetchall(),
                db.execute(
                    "SELECT account_id, accrual_date, amount, status, capitalization_date, posting_id"
                    " FROM interest_accruals ORDER BY 1, 2"
                ).fetchall(),
            )

        before = snapshot()
        database = DatabaseResource()
        again = [post(database, d, f"again-{d}") for d in days(START, END)]
        assert snapshot() == before
        assert sum(r.late_posted + r.late_blocked for r in again) == 0
        assert sum(c.succeeded for r in again for c in r.chunks) == 0


# --- Smaller books, accrued by the posting tests' stand-in for the accrual job (support.accrue_day) ---

JAN_1_25 = date(2025, 1, 1)
JAN_31_25 = date(2025, 1, 31)
MISSING = date(2025, 1, 14)


def two_savings_accounts(conn: psycopg.Connection) -> Book:
    """A MONTHLY savings account (1) and a MONTHLY fixed deposit (2), January accrued but Jan 14."""
    book = Book()
    book.add_account(book.add_product(product("SAV", tax="15")), 1)
    fd = book.add_product(product("FD", account_type=AccountType.FIXED_DEPOSIT), rate="7")
    book.add_account(fd, 2, balance="2500.0000")
    book.write(conn)
    accrue_days(conn, book, [d for d in days(JAN_1_25, JAN_31_25) if d != MISSING])
    return book


def keys(conn: psycopg.Connection) -> list[tuple[str, date, date]]:
    return conn.execute(
        "SELECT idempotency_key, posting_date, made_on FROM interest_postings ORDER BY 1"
    ).fetchall()


class TestScopedRuns:
    def test_an_account_ids_run_makes_only_its_accounts_owed_postings(
        self, conn: psycopg.Connection, clean_db: URL
    ) -> None:
        book = two_savings_accounts(conn)
        post_day(conn, JAN_31_25)
        accrue_day(conn, book, MISSING)
        post_day(conn, date(2025, 2, 3), account_ids=[1])
        assert keys(conn) == [("INT-CAP-1-2025-01", JAN_31_25, date(2025, 2, 3))]
        post_day(conn, date(2025, 2, 4))
        assert keys(conn)[1] == ("INT-CAP-2-2025-01", JAN_31_25, date(2025, 2, 4))
        assert db_postings(conn) == oracle_postings(book.simulate(JAN_1_25, JAN_31_25))

    def test_an_account_types_run_makes_only_its_types_owed_postings(self, conn: psycopg.Connection) -> None:
        book = two_savings_accounts(conn)
        post_day(conn, JAN_31_25)
        accrue_day(conn, book, MISSING)
        post_day(conn, date(2025, 2, 3), account_types=[AccountType.FIXED_DEPOSIT.value])
        assert keys(conn) == [("INT-CAP-2-2025-01", JAN_31_25, date(2025, 2, 3))]


class TestStillBlocked:
    def test_an_owed_posting_with_incomplete_accruals_waits_with_its_reason(
        self, conn: psycopg.Connection
    ) -> None:
        two_savings_accounts(conn)
        post_day(conn, JAN_31_25)
        later = post_day(conn, date(2025, 2, 5))
        assert keys(conn) == []
        assert (later.failed, sum(c.late_blocked for c in later.chunks)) == (2, 2)
        assert later.execution.status == "PARTIAL"
        reasons = conn.execute(
            "SELECT account_id, business_date, status, reason FROM interest_batch_account_result"
            " WHERE execution_id = %s ORDER BY 1",
            (later.execution.id,),
        ).fetchall()
        reason = "INCOMPLETE_ACCRUALS: missing 2025-01-14"
        assert reasons == [(1, JAN_31_25, "FAILED", reason), (2, JAN_31_25, "FAILED", reason)]
        assert conn.execute("SELECT count(*) FROM interest_accruals WHERE status = 'ACCRUED'").fetchone() == (
            60,
        )

    def test_waiting_postings_name_the_dates_to_repair_then_ready(self, conn: psycopg.Connection) -> None:
        book = two_savings_accounts(conn)
        post_day(conn, JAN_31_25)
        waiting = posting_sql.waiting_postings(conn, date(2025, 2, 1))
        assert [
            (w.account_id, w.due_date, w.idempotency_key, w.is_final, w.blocked_reason) for w in waiting
        ] == [
            (1, JAN_31_25, "INT-CAP-1-2025-01", False, "INCOMPLETE_ACCRUALS: missing 2025-01-14"),
            (2, JAN_31_25, "INT-CAP-2-2025-01", False, "INCOMPLETE_ACCRUALS: missing 2025-01-14"),
        ]
        accrue_day(conn, book, MISSING)
        ready = posting_sql.waiting_postings(conn, date(2025, 2, 1))
        assert [(w.account_id, w.blocked_reason) for w in ready] == [(1, None), (2, None)]
        assert ready[0].accrued == sum(
            book.simulate(JAN_1_25, JAN_31_25).accruals[(1, d)] for d in days(JAN_1_25, JAN_31_25)
        )
        # it only looked: nothing was written
        assert keys(conn) == []
        assert posting_sql.waiting_postings(conn, JAN_31_25) == []

    def test_waiting_postings_run_the_statements_as_a_chunk_does_and_leave_the_session_as_it_was(
        self, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No JIT and a chunk's work_mem while the owed and completeness statements run (at 1M
        accounts the server's default JIT took 5.3-5.6 s of this report, 1.3 s without), and the
        session's own settings afterwards."""
        two_savings_accounts(conn)
        post_day(conn, JAN_31_25)
        conn.execute("SET jit = on")
        conn.execute("SET work_mem = '4MB'")
        conn.commit()
        seen: list[tuple[str, str]] = []
        find_candidates = posting_sql.find_candidates

        def recording(c: psycopg.Connection, params: dict[str, object]) -> bool:
            seen.append(c.execute("SELECT current_setting('jit'), current_setting('work_mem')").fetchone())  # type: ignore[arg-type]
            return find_candidates(c, params)

        monkeypatch.setattr(posting_sql, "find_candidates", recording)
        waiting = posting_sql.waiting_postings(conn, date(2025, 2, 1))
        assert [w.account_id for w in waiting] == [1, 2]
        assert seen == [("off", "64MB")]
        assert conn.execute("SELECT current_setting('jit'), current_setting('work_mem')").fetchone() == (
            "on",
            "4MB",
        )


class TestFinalPostings:
    CLOSED = date(2025, 1, 20)

    def closing_account(self, conn: psycopg.Connection) -> Book:
        book = Book()
        book.add_account(
            book.add_product(product("SAV", tax="15")), 1, balance="1234.5678", closed_on=self.CLOSED
        )
        book.write(conn)
        return book

    def test_a_final_posting_whose_date_was_never_posted_is_made_later_as_final(
        self, conn: psycopg.Connection
    ) -> None:
        book = self.closing_account(conn)
        accrue_days(conn, book, days(JAN_1_25, JAN_31_25))
        run = post_day(conn, JAN_31_25)  # a month end after the closure: not due, yet the final is owed
        assert keys(conn) == [("INT-CAP-1-2025-01", self.CLOSED, JAN_31_25)]
        assert sum(c.late_posted for c in run.chunks) == 1
        assert db_postings(conn) == oracle_postings(book.simulate(JAN_1_25, JAN_31_25))
        [(is_final, written_off, carry_out)] = conn.execute(
            "SELECT is_final, written_off, carry_out FROM interest_postings"
        ).fetchall()
        assert is_final and written_off == carry_out != 0

    def test_two_runs_at_once_make_an_owed_posting_once(
        self, conn: psycopg.Connection, clean_db: URL
    ) -> None:
        book = self.closing_account(conn)
        accrue_days(conn, book, days(JAN_1_25, JAN_31_25))
        barrier = threading.Barrier(2)
        made: list[int] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with psycopg.connect(libpq_url(clean_db), autocommit=True) as own:
                    barrier.wait()
                    made.append(sum(c.late_posted for c in post_day(own, date(2025, 1, 25)).chunks))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(made) == [0, 1]
        assert len(keys(conn)) == 1
        assert db_ledger(conn) == oracle_ledger(book.simulate(JAN_1_25, JAN_31_25))


class TestThroughTheDagsterJob:
    def test_a_blocked_final_posting_is_made_by_the_next_posting_run_of_any_date(
        self, conn: psycopg.Connection
    ) -> None:
        book = Book()
        fd = book.add_product(product("FD", tax="10", account_type=AccountType.FIXED_DEPOSIT), rate="4.75")
        book.add_account(fd, 1, currency="KWD", balance="15000.1230", maturity_date=date(2025, 1, 20))
        book.add_account(fd, 2, currency="USD", balance="700.0000")
        book.write(conn)
        accrue_days(conn, book, [d for d in days(JAN_1_25, date(2025, 1, 22)) if d != MISSING])
        instance = dg.DagsterInstance.ephemeral()

        def post_job(p: date) -> dict[str, object]:
            result = defs.get_job_def(POSTING_JOB).execute_in_process(
                partition_key=p.isoformat(), instance=instance
            )
            [event] = [
                e for e in result.all_node_events if e.is_successful_output and e.step_key == "close_posting"
            ]
            metadata = event.event_specific_data.metadata  # type: ignore[union-attr]
            return {k: metadata[k].value for k in ("status", "late_postings_made", "late_postings_blocked")}

        assert post_job(date(2025, 1, 20)) == {
            "status": "PARTIAL",
            "late_postings_made": 0,
            "late_postings_blocked": 0,
        }
        assert post_job(date(2025, 1, 21)) == {
            "status": "PARTIAL",
            "late_postings_made": 0,
            "late_postings_blocked": 1,
        }
        accrue_day(conn, book, MISSING)
        # Jan 22 is due for nobody; the run still makes the final posting owed since Jan 20
        assert post_job(date(2025, 1, 22)) == {
            "status": "SUCCESS",
            "late_postings_made": 1,
            "late_postings_blocked": 0,
        }
        assert keys(conn) == [("INT-CAP-1-2025-01", date(2025, 1, 20), date(2025, 1, 22))]
        assert db_postings(conn) == oracle_postings(book.simulate(JAN_1_25, date(2025, 1, 22)))
        assert db_ledger(conn) == oracle_ledger(book.simulate(JAN_1_25, date(2025, 1, 22)))


class TestBlockedCommand:
    def test_lists_what_waits_and_what_to_repair(self, conn: psycopg.Connection) -> None:
        book = two_savings_accounts(conn)
        post_day(conn, JAN_31_25)
        runner = CliRunner()
        out = runner.invoke(main, ["blocked"])
        assert out.exit_code == 0, out.output
        lines = out.output.splitlines()
        assert lines[0] == "Postings waiting (as the posting run of 2025-02-01 would find them)"
        assert [[cell.strip() for cell in line.split("|")[1:8]] for line in lines[3:5]] == [
            [
                "1",
                "ACC1",
                "2025-01-31",
                "INT-CAP-1-2025-01",
                "period end",
                "8.2191780810",
                "blocked: re-accrue missing 2025-01-14",
            ],
            [
                "2",
                "ACC2",
                "2025-01-31",
                "INT-CAP-2-2025-01",
                "period end",
                "14.3835616440",
                "blocked: re-accrue missing 2025-01-14",
            ],
        ]
        assert lines[-1] == "2 posting(s) waiting: 2 blocked, 0 ready"
        accrue_day(conn, book, MISSING)
        assert runner.invoke(main, ["blocked", "--account-id", "2"]).output.splitlines()[-1] == (
            "1 posting(s) waiting: 0 blocked, 1 ready"
        )
        post_day(conn, date(2025, 2, 1))
        assert (
            runner.invoke(main, ["blocked"]).output.splitlines()[-1]
            == "0 posting(s) waiting: 0 blocked, 0 ready"
        )
