"""Time `generate` of a large book (default 1,000,000 accounts over 31 days).

Not a test: it replaces the input tables (every output and the ledger too) of the database
at INTEREST_DATABASE_URL, so point that at a scratch database migrated with
`interest-pipeline db upgrade`:

    createdb -h 127.0.0.1 -U postgres ip_bench
    export INTEREST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/ip_bench
    .venv/bin/interest-pipeline db upgrade && .venv/bin/python benchmarks/bench_generate.py
"""

import argparse
import os
import sys
import time
from datetime import date

from interest_pipeline.data.generate import generate_book
from interest_pipeline.db.engine import raw_connection
from interest_pipeline.settings import DATABASE_URL_ENV


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1))
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not os.environ.get(DATABASE_URL_ENV):
        sys.exit(f"set {DATABASE_URL_ENV} to a scratch database: this replaces its book")

    began = time.perf_counter()
    with raw_connection() as conn:
        # A scratch database: its ledger, if any, goes with the book (as TRUNCATE CASCADE did).
        summary = generate_book(
            conn,
            accounts=args.accounts,
            start=args.start,
            days=args.days,
            seed=args.seed,
            replace=True,
            discard_ledger=True,
        )
    elapsed = time.perf_counter() - began

    rows = sum(summary.rows().values())
    for table, count in summary.rows().items():
        print(f"{table:<22} {count:>12,} rows")
    print(f"generate {args.accounts:,} accounts x {args.days} days: {elapsed:.1f} s wall")
    print(f"{rows:,} rows, {rows / elapsed:,.0f} rows/s")


if __name__ == "__main__":
    main()
