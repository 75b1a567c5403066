"""Each reconciliation check passes on a correct book and fails, with the offending rows, on a book
corrupted in exactly its way. Corruptions happen inside a transaction the test rolls back, past the
guards (triggers, constraints) that would otherwise stop them."""

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from interest_pipeline.batch.chunks import MAX_ID, MIN_ID
from interest_pipeline.checks import sql as checks
from interest_pipeline.db.local_settings import local_settings
from interest_pipeline.reporting.sql import posting_run
from interest_pipeline.settings import libpq_url
from interest_pipeline_tests.checks.books import (
    ACCOUNTS,
    JAN_31,
    ZERO_BALANCE,
    PostedBook,
    accrue_january,
    posted_january,
    write_book,
)
from interest_pipeline_tests.posting.support import Book, accrue_days, days, post_day, product
from interest_pipeline_tests.support.plans import plan_nodes


@pytest.fixture
def book(conn: psycopg.Connection) -> PostedBook:
    return posted_january(conn)


@pytest.fixture
def corrupting(conn: psycopg.Connection, book: PostedBook) -> Iterator[psycopg.Connection]:
    """The connection, once the book is made, inside a transaction rolled back at the test's end."""
    with conn.transaction(force_rollback=True):
        yield conn


def by_name(results: list[checks.CheckResult]) -> dict[str, checks.CheckResult]:
    return {r.name: r for r in results}


class TestCorrectBook:
    def test_every_posting_check_passes_with_the_books_figures(
        self, conn: psycopg.Connection, book: PostedBook
    ) -> None:
        results = by_name(checks.posting_checks(conn, book.posting_execution))
        assert {name: r.passed for name, r in results.items()} == {
            checks.JOURNALS_BALANCE: True,
            checks.JOURNALS_EQUAL_POSTINGS: True,
            checks.CAPITALIZED_ACCRUALS_MATCH: True,
            checks.GROSS_IS_NET_PLUS_TAX: True,
            checks.DUE_ACCOUNTS_HAVE_OUTCOME: True,
        }
        assert all(r.offending == [] and r.offending_count == 0 for r in results.values())
        stored = {
            c.strip(): {"postings": n, "gross": f"{g:f}", "tax": f"{t:f}", "net": f"{x:f}"}
            for c, n, g, t, x in conn.execute(
                "SELECT currency, count(*), sum(gross), sum(tax), sum(net) FROM interest_postings GROUP BY 1"
            )
        }
        assert results[checks.GROSS_IS_NET_PLUS_TAX].figures["by_currency"] == stored
        assert results[checks.GROSS_IS_NET_PLUS_TAX].figures["postings"] == ACCOUNTS
        assert results[checks.JOURNALS_BALANCE].figures["journals"] == ACCOUNTS
        # expense and deposit lines, and a tax line where the tax is not 0 (small JPY postings)
        [[with_tax]] = conn.execute("SELECT count(*) FROM interest_postings WHERE tax > 0")
        assert results[checks.JOURNALS_BALANCE].figures["lines"] == 2 * ACCOUNTS + with_tax
        debit = {
            c: v["journal_debit"]
            for c, v in results[checks.JOURNALS_EQUAL_POSTINGS].figures["by_currency"].items()
        }
        assert debit == {c: v["gross"] for c, v in stored.items()}
        assert results[checks.CAPITALIZED_ACCRUALS_MATCH].figures["accruals_capitalized"] == 31 * ACCOUNTS
        assert results[checks.DUE_ACCOUNTS_HAVE_OUTCOME].figures == {
            "execution_id": book.posting_execution,
            "due_accounts": ACCOUNTS + 1,
            "posted": ACCOUNTS,
            "blocked": 0,
            "nothing_to_post": 1,
            "unaccounted": 0,
        }

    def test_the_accrual_check_passes_with_its_figures(
        self, conn: psycopg.Connection, book: PostedBook
    ) -> None:
        [result] = checks.accrual_checks(conn, book.accrual_execution)
        assert result.passed and result.offending == []
        [[amount]] = conn.execute(
            "SELECT sum(amount) FROM interest_accruals WHERE accrual_date = %s", (JAN_31,)
        )
        assert result.figures == {
            "execution_id": book.accrual_execution,
            "eligible_accounts": ACCOUNTS + 1,
            "accrued": ACCOUNTS,
            "skipped": 1,
            "failed": 0,
            "amount_accrued": f"{amount:f}",
        }


class TestCorruptedBook:
    def test_an_unbalanced_journal_fails_the_ledger_checks(
        self, corrupting: psycopg.Connection, book: PostedBook
    ) -> None:
        # replica mode skips the ledger's balance trigger for this transaction only
        corrupting.execute("SET LOCAL session_replication_role = replica")
        corrupting.execute(
            "INSERT INTO ledger_entries (journal_key, line_no, gl_account, debit, credit, currency, value_date)"
            " VALUES ('BAD-JOURNAL', 1, 'INTEREST_EXPENSE', 1.2300, 0, 'USD', %s)",
            (JAN_31,),
        )
        results = by_name(checks.posting_checks(corrupting, book.posting_execution))
        balance = results[checks.JOURNALS_BALANCE]
        assert not balance.passed
        assert balance.columns == ("journal_key", "value_date", "currencies", "debit", "credit")
        assert balance.offending == [("BAD-JOURNAL", JAN_31, "USD", "1.2300", "0.0000")]
        assert balance.offending_count == 1
        equal = results[checks.JOURNALS_EQUAL_POSTINGS]
        assert (equal.passed, equal.offending, equal.offending_count) == (
            False,
            [("BAD-JOURNAL", "USD", "1.2300", None)],
            1,
        )
        assert [n for n, r in results.items() if not r.passed] == [
            checks.JOURNALS_BALANCE,
            checks.JOURNALS_EQUAL_POSTINGS,
        ]

    def test_a_posting_without_its_journal_fails_only_the_equal_check_and_keeps_its_currency(
        self, corrupting: psycopg.Connection, book: PostedBook
    ) -> None:
        """Both ledger checks come from one read of the lines (checks.journal_checks): a posting whose
        journal is gone leaves every journal balanced, fails journals-equal-postings with the
        posting as offender, and its currency keeps its gross against a debit short of it."""
        before = by_name(checks.posting_checks(corrupting, book.posting_execution))
        [[key, currency, gross]] = corrupting.execute(
            "SELECT idempotency_key, currency, gross FROM interest_postings WHERE gross > 0"
            " ORDER BY account_id LIMIT 1"
        ).fetchall()
        # replica mode skips the ledger's append-only trigger for this transaction only
        corrupting.execute("SET LOCAL session_replication_role = replica")
        corrupting.execute("DELETE FROM ledger_entries WHERE journal_key = %s", (key,))
        results = by_name(checks.posting_checks(corrupting, book.posting_execution))
        balance, equal = results[checks.JOURNALS_BALANCE], results[checks.JOURNALS_EQUAL_POSTINGS]
        assert (
            balance.passed
            and balance.figures["journals"] == before[checks.JOURNALS_BALANCE].figures["journals"] - 1
        )
        assert (equal.passed, equal.offending_count) == (False, 1)
        assert equal.columns == ("journal_key", "currency", "journal_debit", "posting_gross")
        assert equal.offending == [(key, currency, None, f"{gross:f}")]
        was = before[checks.JOURNALS_EQUAL_POSTINGS].figures["by_currency"][currency.strip()]
        now = equal.figures["by_currency"][currency.strip()]
        assert now["posting_gross"] == was["posting_gross"] == was["journal_debit"]
        assert Decimal(now["journal_debit"]) == Decimal(was["journal_debit"]) - gross

    def test_a_balanced_journal_in_two_currencies_fails_and_is_counted_under_each(
        self, corrupting: psycopg.Connection, book: PostedBook
    ) -> None:
        before = by_name(checks.posting_checks(corrupting, book.posting_execution))[checks.JOURNALS_BALANCE]
        assert before.passed and before.columns == (
            "journal_key",
            "value_date",
            "currencies",
            "debit",
            "credit",
        )
        corrupting.execute("SET LOCAL session_replication_role = replica")
        corrupting.execute(
            "INSERT INTO ledger_entries (journal_key, line_no, gl_account, debit, credit, currency, value_date)"
            " VALUES ('MIXED', 1, 'INTEREST_EXPENSE', 2.5000, 0, 'USD', %(d)s),"
            "        ('MIXED', 2, 'CUSTOMER_DEPOSITS', 0, 2.5000, 'EUR', %(d)s)",
            {"d": JAN_31},
        )
        balance = by_name(checks.posting_checks(corrupting, book.posting_execution))[checks.JOURNALS_BALANCE]
        assert (balance.passed, balance.offending_count) == (False, 1)
        assert balance.offending == [("MIXED", JAN_31, "EUR,USD", "2.5000", "2.5000")]
        # per line currency: the journal once under each, its line's amount in each
        assert balance.figures["journals"] == before.figures["journals"] + 2
        assert balance.figures["lines"] == before.figures["lines"] + 2
        eur = balance.figures["by_currency"]["EUR"]
        old_eur = before.figures["by_currency"].get("EUR", {"journals": 0, "lines": 0, "credit": "0"})
        assert (eur["journals"], eur["lines"]) == (old_eur["journals"] + 1, old_eur["lines"] + 1)
        assert Decimal(eur["credit"]) == Decimal(old_eur["credit"]) + Decimal("2.5000")

    def test_an_accrual_changed_after_capitalization_fails_the_capitalization_check(
        self, corrupting: psycopg.Connection, book: PostedBook
    ) -> None:
        [[recorded]] = corrupting.execute("SELECT accrued FROM interest_postings WHERE account_id = 5")
        corrupting.execute(
            "UPDATE interest_accruals SET amount = amount + 0.0000000001"
            " WHERE account_id = 5 AND accrual_date = '2025-01-15' AND status = 'CAPITALIZED'"
        )
        results = by_name(checks.posting_checks(corrupting, book.posting_execution))
        result = results[checks.CAPITALIZED_ACCRUALS_MATCH]
        assert not result.passed and result.offending_count == 1
        [row] = result.offending
        named = dict(zip(result.columns, row, strict=True))
        assert named["account_id"] == 5
        assert named["idempotency_key"] == "INT-CAP-5-2025-01"
        assert named["recorded_accrued"] == f"{recorded:f}"
        assert Decimal(named["capitalized_amount"]) - Decimal(named["recorded_accrued"]) == Decimal("1E-10")
        assert (named["recorded_count"], named["capitalized_count"]) == (31, 31)
        assert [n for n, r in results.items() if not r.passed] == [checks.CAPITALIZED_ACCRUALS_MATCH]

    def test_at_most_twenty_offending_rows_are_listed_with_their_count(
        self, corrupting: psycopg.Connection, book: PostedBook
    ) -> None:
        corrupting.execute(
            "UPDATE interest_accruals SET amount = amount + 0.0000000001 WHERE accrual_date = '2025-01-02'"
        )
        result = checks.capitalized_accruals_match(corrupting, [JAN_31])
        assert result.offending_count == ACCOUNTS
        assert [row[0] for row in result.offending] == list(range(1, 21))

    def test_a_posting_whose_gross_is_not_net_plus_tax_fails(
        self, corrupting: psycopg.Connection, book: PostedBook
    ) -> None:
        corrupting.execute(
            "ALTER TABLE interest_postings DROP CONSTRAINT ck_interest_postings_gross_is_net_plus_tax"
        )
        corrupting.execute("UPDATE interest_postings SET net = net - 0.01 WHERE account_id = 7")
        [[gross, net, tax]] = corrupting.execute(
            "SELECT gross, net, tax FROM interest_postings WHERE account_id = 7"
        )
        result = checks.gross_is_net_plus_tax(corrupting, [JAN_31])
        assert (result.passed, result.offending_count) == (False, 1)
        assert result.offending == [(7, "INT-CAP-7-2025-01", f"{gross:f}", f"{net:f}", f"{tax:f}")]

    def test_a_due_account_without_an_outcome_fails(
        self, corrupting: psycopg.Connection, book: PostedBook
    ) -> None:
        corrupting.execute(
            "DELETE FROM interest_batch_account_result WHERE execution_id = %s AND account_id = %s",
            (book.posting_execution, ZERO_BALANCE),
        )
        result = checks.due_accounts_have_outcome(corrupting, book.posting_execution)
        assert (result.passed, result.offending_count) == (False, 1)
        assert result.offending == [(ZERO_BALANCE, None, None, False)]
        assert result.figures["unaccounted"] == 1 and result.figures["nothing_to_post"] == 0

    def test_an_eligible_account_without_an_accrual_outcome_fails(
        self, corrupting: psycopg.Connection, book: PostedBook
    ) -> None:
        corrupting.execute(
            "DELETE FROM interest_batch_account_result WHERE execution_id = %s AND account_id = 3",
            (book.accrual_execution,),
        )
        [[amount]] = corrupting.execute(
            "SELECT amount FROM interest_accruals WHERE account_id = 3 AND accrual_date = %s", (JAN_31,)
        )
        [result] = checks.accrual_checks(corrupting, book.accrual_execution)
        assert (result.passed, result.offending_count) == (False, 1)
        assert result.offending == [(3, 0, None, None, f"{amount:f}")]
        assert (
            result.figures["eligible_accounts"] == ACCOUNTS + 1 and result.figures["accrued"] == ACCOUNTS - 1
        )

    def test_an_accrued_outcome_without_its_accrual_row_fails(
        self, corrupting: psycopg.Connection, book: PostedBook
    ) -> None:
        corrupting.execute("SET LOCAL session_replication_role = replica")
        corrupting.execute(
            "DELETE FROM interest_accruals WHERE account_id = 4 AND accrual_date = %s", (JAN_31,)
        )
        [result] = checks.accrual_checks(corrupting, book.accrual_execution)
        assert result.offending_count == 1
        assert result.offending[0][:4] == (4, 1, "SUCCESS", None)
        assert result.offending[0][4] is None


def test_a_blocked_due_account_is_accounted_for(conn: psycopg.Connection) -> None:
    """Blocked with a reason is an outcome: the check passes and counts it."""
    book = Book()
    facts = book.add_product(product("SAV"))
    for n in (1, 2, 3):
        book.add_account(facts, n)
    book.write(conn)
    accrue_days(conn, book, days(date(2025, 1, 1), date(2025, 1, 9)))
    accrue_days(conn, book, [date(2025, 1, 10)], fail=[2])
    accrue_days(conn, book, days(date(2025, 1, 11), JAN_31))
    execution = post_day(conn, JAN_31).execution
    result = checks.due_accounts_have_outcome(conn, execution.id)
    assert result.passed
    assert (result.figures["posted"], result.figures["blocked"], result.figures["unaccounted"]) == (2, 1, 0)


# The per-account sets the accrual check joins: the execution's results and D's accrual rows.
_PER_ACCOUNT = ("interest_batch_account_result", "interest_accrual_entries")


def _reads_per_account_set(plan: dict) -> bool:
    return any(str(n.get("Relation Name", "")).startswith(_PER_ACCOUNT) for n in plan_nodes(plan))


def _joins_over_per_account_sets(plan: dict) -> list[str]:
    """The join methods of the plan's joins with a per-account set on one side (subplans, such as
    the balance probe, are no joins). A nested loop counts only when its inner side, the one it
    rescans per outer row, reads such a set: one whose inner side is the execution's one-row CTE
    reads every set once (the embedded server's planner joins that CTE so, the CI server's not)."""
    found: list[str] = []
    children = [c for c in plan.get("Plans", []) if c.get("Parent Relationship") != "SubPlan"]
    if plan["Node Type"] == "Nested Loop":
        rescanned = [c for c in children if c.get("Parent Relationship") == "Inner"]
        if any(_reads_per_account_set(c) for c in rescanned):
            found.append(plan["Node Type"])
    elif plan["Node Type"] in ("Hash Join", "Merge Join") and any(
        _reads_per_account_set(c) for c in children
    ):
        found.append(plan["Node Type"])
    for child in plan.get("Plans", []):
        found += _joins_over_per_account_sets(child)
    return found


class TestAccrualOutcomesPlan:
    """The accrual check joins the accounts in scope, the execution's results and D's accruals; a
    new execution and a new date are in no statistics, so the planner expects a row or two of each
    and, left alone, may compare every pair in a nested loop (10 minutes at 200,000 accounts,
    measured). It walks the three in account order instead, side by side."""

    def _plan(self, conn: psycopg.Connection, execution_id: str, day: date) -> dict:
        """The statement's plan under the check's planner settings."""
        with conn.transaction(force_rollback=True):
            checks.merge_joined(conn)
            [[plan]] = conn.execute(
                "EXPLAIN (FORMAT JSON) " + checks.ACCRUAL_OUTCOMES_SQL,
                {"execution_id": execution_id, "business_date": day, "first_id": MIN_ID, "last_id": MAX_ID},
            ).fetchall()
        return plan[0]["Plan"]

    def test_the_check_merges_results_and_accruals_in_account_order_never_pairwise(
        self, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        write_book(conn)
        execution = accrue_january(last=date(2025, 1, 1))
        # Left alone, the planner may pick the pairwise loop for a fresh execution (it does on the CI
        # server, autovacuum off; the embedded server's may not): the check must not depend on it.
        assert _joins_over_per_account_sets(self._plan(conn, execution, date(2025, 1, 1))) == [
            "Merge Join",
            "Merge Join",
        ]
        # The check plans its statement so: the settings come before it, in its transaction.
        executed: list[str] = []
        execute = conn.execute

        def recording(query: Any, params: Any = None, **kwargs: Any) -> Any:
            executed.append(str(query).strip())
            return execute(query, params, **kwargs)

        monkeypatch.setattr(conn, "execute", recording)
        result = checks.accrual_outcomes(conn, execution)
        monkeypatch.undo()
        outcomes = next(i for i, q in enumerate(executed) if "in_scope" in q)
        assert {
            "SET LOCAL enable_nestloop = off",
            "SET LOCAL enable_hashjoin = off",
            "SET LOCAL enable_seqscan = off",
            "SET LOCAL jit = off",
            "SET LOCAL work_mem = '128MB'",
        } <= set(executed[:outcomes])
        # And the check still counts every outcome: 24 accounts accrued, the zero balance skipped.
        assert result.passed
        assert (result.figures["eligible_accounts"], result.figures["accrued"]) == (ACCOUNTS + 1, ACCOUNTS)


class TestOnTwoConnections:
    def test_the_accrual_check_reads_its_upper_accounts_on_the_other_connection_after_the_table(
        self, conn: psycopg.Connection, book: PostedBook, clean_db: Any
    ) -> None:
        [alone] = checks.accrual_checks(conn, book.accrual_execution)
        with psycopg.connect(libpq_url(clean_db)) as other:
            [same] = checks.accrual_checks(conn, book.accrual_execution, other)
            assert same == alone and alone.passed
            # A change only the second connection sees (uncommitted there): the zero-balance account
            # (99, above 70 % of the ids 1-99) loses its result; the table runs there first.
            other.execute(
                "DELETE FROM interest_batch_account_result WHERE execution_id = %s AND account_id = %s",
                (book.accrual_execution, ZERO_BALANCE),
            )
            tables: list[tuple[bool, int]] = []

            def table(c: psycopg.Connection) -> None:
                [[n]] = c.execute(
                    "SELECT count(*) FROM interest_batch_account_result WHERE execution_id = %s",
                    (book.accrual_execution,),
                ).fetchall()
                tables.append((c is other, n))

            [apart] = checks.accrual_checks(conn, book.accrual_execution, other, meanwhile=table)
            other.rollback()
        assert tables == [(True, ACCOUNTS)]
        assert (apart.passed, apart.offending_count, apart.offending) == (
            False,
            1,
            [(ZERO_BALANCE, 0, None, None, None)],
        )
        assert apart.figures == {**alone.figures, "skipped": alone.figures["skipped"] - 1}
        # on the first connection alone the book is as it was
        [after] = checks.accrual_checks(conn, book.accrual_execution)
        assert after == alone

    def test_the_accrual_re_count_runs_on_its_own_connection_the_rest_on_the_first(
        self, conn: psycopg.Connection, book: PostedBook, clean_db: Any
    ) -> None:
        alone = by_name(checks.posting_checks(conn, book.posting_execution))
        # A change only the second connection sees (uncommitted there): its check must fail, and only it.
        with psycopg.connect(libpq_url(clean_db)) as other:
            other.execute(
                "UPDATE interest_accruals SET amount = amount + 0.0000000001"
                " WHERE account_id = 5 AND accrual_date = '2025-01-15'"
            )
            apart = by_name(checks.posting_checks(conn, book.posting_execution, other))
            other.rollback()
        assert [n for n, r in apart.items() if not r.passed] == [checks.CAPITALIZED_ACCRUALS_MATCH]
        taken = apart[checks.CAPITALIZED_ACCRUALS_MATCH]
        assert taken.offending_count == 1 and taken.offending[0][:2] == (5, "INT-CAP-5-2025-01")
        assert list(apart) == list(alone)  # the same checks, in the same order
        for name in alone:
            assert apart[name].figures == alone[name].figures
        for name in set(alone) - {checks.CAPITALIZED_ACCRUALS_MATCH}:
            assert apart[name] == alone[name]

    def test_the_journals_gross_and_table_run_on_the_first_connection_the_accrual_re_read_apart(
        self, conn: psycopg.Connection, book: PostedBook, clean_db: Any
    ) -> None:
        # The halves are balanced by cost (docs/benchmarks.md): the journal checks, the due
        # accounts' outcomes, the gross check and then the close's run table on the first
        # connection; the accrual re-read on the other. A posting changed where only the other connection
        # sees it (uncommitted): accrued, gross and net up by a cent, every table constraint holding.
        key = "INT-CAP-5-2025-01"
        committed_table = posting_run(conn, book.posting_execution)
        committed_gross = {
            c.strip(): f"{g:f}"
            for c, g in conn.execute("SELECT currency, sum(gross) FROM interest_postings GROUP BY 1")
        }
        conn.commit()
        seen: list[tuple[bool, list[tuple[Any, ...]]]] = []
        with psycopg.connect(libpq_url(clean_db)) as other:
            other.execute(
                "UPDATE interest_postings SET accrued = accrued + 0.01, gross = gross + 0.01, net = net + 0.01"
                " WHERE idempotency_key = %s",
                (key,),
            )
            changed_table = posting_run(other, book.posting_execution)
            results = by_name(
                checks.posting_checks(
                    conn,
                    book.posting_execution,
                    other,
                    meanwhile=lambda c: seen.append((c is conn, posting_run(c, book.posting_execution))),
                )
            )
            other.rollback()
        # Only the re-read on the other connection sees the changed posting; the journals check,
        # on the first, still finds every journal equal to its posting.
        assert [n for n, r in results.items() if not r.passed] == [checks.CAPITALIZED_ACCRUALS_MATCH]
        assert results[checks.CAPITALIZED_ACCRUALS_MATCH].offending[0][:2] == (5, key)
        assert results[checks.JOURNALS_EQUAL_POSTINGS].offending_count == 0
        # the gross check read the postings on the first connection: the committed sums, not the cent
        gross = results[checks.GROSS_IS_NET_PLUS_TAX]
        assert gross.passed
        assert {c: v["gross"] for c, v in gross.figures["by_currency"].items()} == committed_gross
        # and the table was read on the first connection: the committed figures, not the cent
        assert changed_table != committed_table
        assert seen == [(True, committed_table)]

    def test_without_a_second_connection_the_table_is_read_on_the_one(
        self, conn: psycopg.Connection, book: PostedBook
    ) -> None:
        expected = posting_run(conn, book.posting_execution)
        seen: list[tuple[bool, list[tuple[Any, ...]]]] = []
        results = checks.posting_checks(
            conn,
            book.posting_execution,
            conn,
            meanwhile=lambda c: seen.append((c is conn, posting_run(c, book.posting_execution))),
        )
        assert all(r.passed for r in results) and len(results) == 5
        assert seen == [(True, expected)] and expected

    def test_the_checks_run_without_jit_and_with_room_to_group_and_leave_the_session_as_it_was(
        self, conn: psycopg.Connection, book: PostedBook, clean_db: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seen: dict[str, tuple[Any, ...]] = {}
        for name in ("journal_checks", "capitalized_accruals_match"):
            original = getattr(checks, name)

            def recording(c: psycopg.Connection, *args: Any, _name: str = name, _f: Any = original) -> Any:
                seen[_name] = c.execute(
                    "SELECT current_setting('jit'), current_setting('work_mem')"
                ).fetchone()
                return _f(c, *args)

            monkeypatch.setattr(checks, name, recording)
        before = conn.execute("SELECT current_setting('jit'), current_setting('work_mem')").fetchone()
        with psycopg.connect(libpq_url(clean_db)) as other:
            results = checks.posting_checks(conn, book.posting_execution, other)
            after_other = other.execute(
                "SELECT current_setting('jit'), current_setting('work_mem')"
            ).fetchone()
        assert all(r.passed for r in results)
        assert seen == {"journal_checks": ("off", "128MB"), "capitalized_accruals_match": ("off", "128MB")}
        assert conn.execute("SELECT current_setting('jit'), current_setting('work_mem')").fetchone() == before
        assert after_other == before and before != ("off", "128MB")


class TestRunTables:
    """The close's per-currency tables read the run's results through the result log's primary key,
    and an account's currency only for a result that has none."""

    def test_the_accrual_table_counts_every_result_by_currency_through_the_index(
        self, conn: psycopg.Connection
    ) -> None:
        from interest_pipeline.reporting.sql import ACCRUAL_RUN_SQL, accrual_run, by_execution

        write_book(conn)
        execution = accrue_january(last=date(2025, 1, 1))
        before = accrual_run(conn, execution)
        # one result without a currency: counted under its account's
        [[account]] = conn.execute(
            "UPDATE interest_batch_account_result r SET currency = NULL"
            " FROM accounts a WHERE a.id = r.account_id AND r.execution_id = %s"
            " AND r.account_id = (SELECT min(account_id) FROM interest_batch_account_result"
            "                      WHERE execution_id = %s AND status = 'SUCCESS')"
            " RETURNING r.account_id",
            (execution, execution),
        ).fetchall()
        assert account is not None and accrual_run(conn, execution) == before
        # every result counted: the 24 accrued and the zero balance skipped
        assert [sum(row[i] for row in before) for i in (1, 2, 3, 4)] == [ACCOUNTS + 1, ACCOUNTS, 1, 0]
        with conn.transaction(force_rollback=True):
            with by_execution(conn):
                [[plan]] = conn.execute(
                    "EXPLAIN (FORMAT JSON) " + ACCRUAL_RUN_SQL, {"execution_id": execution}
                ).fetchall()
            # read inside a caller's transaction, the table leaves its planner settings as they were
            settings = "SELECT current_setting('enable_seqscan'), current_setting('jit'), current_setting('work_mem')"
            before_settings = conn.execute(settings).fetchone()
            accrual_run(conn, execution)
            assert conn.execute(settings).fetchone() == before_settings
            assert before_settings is not None and before_settings[0] == "on"
        scans = {
            (n["Node Type"], n.get("Relation Name"), n.get("Parent Relationship"))
            for n in plan_nodes(plan[0]["Plan"])
            if "Relation Name" in n
        }
        # the result log by its key, the accounts only in the subplan for a missing currency
        assert ("Seq Scan", "interest_batch_account_result", None) not in scans
        assert {r for t, r, p in scans if p != "SubPlan"} == {"interest_batch_account_result"}


def _probes_per_row(plan: dict, relation: str) -> list[str]:
    """The outer sides of the plan's nested loops that read `relation` on their inner side, but
    for the execution's own one-row CTE (a loop over it runs its inner side once)."""
    found: list[str] = []
    if plan["Node Type"] == "Nested Loop":
        sides = {c.get("Parent Relationship"): c for c in plan.get("Plans", [])}
        outer, inner = sides.get("Outer", {}), sides.get("Inner", {})
        reads = any(n.get("Relation Name") == relation for n in plan_nodes(inner))
        if reads and outer.get("CTE Name") != "e":
            found.append(str(outer.get("Relation Name") or outer.get("Node Type")))
    for child in plan.get("Plans", []):
        found += _probes_per_row(child, relation)
    return found


class TestDueOutcomesPlan:
    """The due check reads the execution's results once, by the result log's key prefix, and joins
    them whole: probing them once per due account was ~1.1 s of its 2.5 s at 1M accounts."""

    def test_the_results_are_joined_whole_and_the_setting_ends_with_the_check(
        self, conn: psycopg.Connection, book: PostedBook
    ) -> None:
        params = {"execution_id": book.posting_execution}
        with conn.transaction(force_rollback=True):
            checks.tuned_for_checks(conn)
            with local_settings(conn, enable_nestloop="off"):
                [[plan]] = conn.execute("EXPLAIN (FORMAT JSON) " + checks.DUE_FIGURES_SQL, params).fetchall()
            assert _probes_per_row(plan[0]["Plan"], "interest_batch_account_result") == []
            # the capitalized check runs after it on a single connection, and is a loop by design
            due = checks.due_accounts_have_outcome(conn, book.posting_execution)
            assert conn.execute("SELECT current_setting('enable_nestloop')").fetchone() == ("on",)
        assert (
            due.passed
            and due.figures["due_accounts"]
            == due.figures["posted"] + due.figures["blocked"] + due.figures["nothing_to_post"]
        )
        assert due.figures["posted"] == ACCOUNTS


def _idle_within(monitor: psycopg.Connection, backend_pid: int, seconds: float = 5.0) -> bool:
    """The backend `backend_pid` reached state 'idle' (no transaction open) within `seconds`."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        [[state]] = monitor.execute(
            "SELECT state FROM pg_stat_activity WHERE pid = %s", (backend_pid,)
        ).fetchall()
        if state == "idle":
            return True
        time.sleep(0.05)
    return False


class TestNoWaitInsideATransaction:
    """The first connection's transaction ends before the close waits on the second connection.

    Waiting inside it held the first connection's locks while the second's statement could be
    queued behind a lock request waiting for them (a test's TRUNCATE, a partition's DDL): a CI run
    hung so, a deadlock PostgreSQL cannot see. Each test makes the second connection wait until
    the first is idle (5 s at most); inside the transaction it never would be."""

    def test_the_accrual_close(self, conn: psycopg.Connection, book: PostedBook, clean_db: Any) -> None:
        seen: list[bool] = []
        with (
            psycopg.connect(libpq_url(clean_db)) as other,
            psycopg.connect(libpq_url(clean_db), autocommit=True) as monitor,
        ):
            [result] = checks.accrual_checks(
                conn,
                book.accrual_execution,
                other,
                meanwhile=lambda _c: seen.append(_idle_within(monitor, conn.info.backend_pid)),
            )
        assert seen == [True]
        assert result.passed and result.figures["eligible_accounts"] == ACCOUNTS + 1

    def test_the_posting_close(
        self, conn: psycopg.Connection, book: PostedBook, clean_db: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seen: list[bool] = []
        original = checks.capitalized_accruals_match
        with (
            psycopg.connect(libpq_url(clean_db)) as other,
            psycopg.connect(libpq_url(clean_db), autocommit=True) as monitor,
        ):

            def waiting(c: psycopg.Connection, dates: Any) -> checks.CheckResult:
                if c is other:
                    seen.append(_idle_within(monitor, conn.info.backend_pid))
                return original(c, dates)

            monkeypatch.setattr(checks, "capitalized_accruals_match", waiting)
            results = by_name(checks.posting_checks(conn, book.posting_execution, other))
        assert seen == [True]
        assert all(r.passed for r in results.values()) and len(results) == 5
