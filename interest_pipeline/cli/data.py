"""`generate` and `load`: synthetic data and validated CSV imports into the input tables."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import click

from interest_pipeline.data.errors import DataError, InvalidArguments
from interest_pipeline.data.generate import INPUT_TABLES, LEDGER_TABLE, REPLACED_OUTPUTS, generate_book
from interest_pipeline.data.load import KINDS, TABLES, load_file
from interest_pipeline.db.engine import raw_connection
from interest_pipeline.progress import CountProgress, track


@contextmanager
def refused_as_click_errors() -> Iterator[None]:
    """data/'s refusals as one clear line: a bad argument is a usage error (exit 2), the rest exit 1."""
    try:
        yield
    except InvalidArguments as refused:
        raise click.BadParameter(
            refused.message, param_hint=f"'--{refused.parameter.replace('_', '-')}'"
        ) from None
    except DataError as refused:
        raise click.ClickException(str(refused)) from None


@click.command()
@click.option(
    "--accounts",
    "account_count",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Number of accounts (ids 1..N).",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="First business date of the period (YYYY-MM-DD).",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=31,
    show_default=True,
    help="Length of the period in days; balances change on some of them.",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="Random seed: the same arguments always give the same rows.",
)
@click.option(
    "--replace",
    is_flag=True,
    help=f"First empty the input tables ({', '.join(INPUT_TABLES)}) and every pipeline output "
    f"and execution record ({', '.join(REPLACED_OUTPUTS)}); currencies and interest_batch_config "
    f"stay. Refused, writing nothing, while {LEDGER_TABLE} holds entries, unless --discard-ledger "
    "is given too. Without --replace, a non-empty book is refused.",
)
@click.option(
    "--discard-ledger",
    is_flag=True,
    help=f"With --replace: empty {LEDGER_TABLE} too, through its one guarded path (the ledger is "
    "otherwise append-only, TRUNCATE included). For demo and test databases only.",
)
def generate(
    account_count: int, start: datetime, days: int, seed: int, replace: bool, discard_ledger: bool
) -> None:
    """Generate a synthetic book: products, rate tiers, accounts and sparse daily balances.

    Writes interest_products, interest_rate_tiers, accounts and account_balances in one
    transaction. The product catalogue is fixed; accounts and balances are drawn from SEED.
    """
    first_day: date = start.date()
    # on stderr: stdout carries the summary; a bar on a terminal, a line per tenth otherwise
    with (
        refused_as_click_errors(),
        raw_connection() as conn,
        track(2 * account_count, "generate", sys.stderr) as tracker,
    ):
        bar = CountProgress(tracker, "account rows")
        summary = generate_book(
            conn,
            accounts=account_count,
            start=first_day,
            days=days,
            seed=seed,
            replace=replace,
            discard_ledger=discard_ledger,
            progress=bar.update,
        )
    click.echo(f"generated a book for {first_day} .. {first_day + timedelta(days=days - 1)}:")
    for table, rows in summary.rows().items():
        click.echo(f"  {table:<22} {rows:>10,} rows")


@click.command()
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load(kind: str, file: Path) -> None:
    """Load FILE (CSV with a header row of the spec's column names) into KIND's table.

    KIND is products, tiers, accounts or balances. Every row is validated first (types, decimals'
    scale and precision, enums, required values, the schema's rules, references, duplicate keys);
    a file with any error is not loaded at all, and the errors name the line and column.
    Optional columns may be left out of the header or left empty (NULL).
    """
    with file.open("rb") as lines:
        estimate = max(sum(1 for _ in lines) - 1, 1)  # records, less the header (the bar's total)
    with (
        refused_as_click_errors(),
        raw_connection() as conn,
        track(estimate, f"load {kind}", sys.stderr) as tracker,
    ):
        count = load_file(conn, kind, file, progress=CountProgress(tracker, "rows").update)
    click.echo(f"loaded {count:,} row{'' if count == 1 else 's'} into {TABLES[kind].table} from {file}")
