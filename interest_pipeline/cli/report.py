"""`report`: the month per product and currency, as a table, CSV or Parquet, and as a picture."""

from pathlib import Path

import click

FORMATS = ("table", "csv", "parquet")


@click.command()
@click.option("--month", required=True, help="The month to report, YYYY-MM.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw interest accrued per day and each posting date's gross, per currency, to this PNG.",
)
def report(month: str, fmt: str, out: Path | None, plot: Path | None) -> None:
    """Per product and currency: accounts, accrued, posted gross, tax, net, carry outstanding, and
    the failures and skips by reason. Reads only; amounts exact."""
    from interest_pipeline.db.engine import raw_connection
    from interest_pipeline.reporting.month import (
        ReportError,
        currency_totals,
        month_bounds,
        month_report,
        render_table,
        write_report,
    )
    from interest_pipeline.reporting.plot import plot_month

    # Every argument is checked before anything is read or written.
    try:
        first, last = month_bounds(month)
    except ReportError as error:
        raise click.BadParameter(str(error), param_hint="--month") from error
    if fmt == "parquet" and out is None:
        raise click.UsageError("--format parquet needs --out PATH")
    if plot is not None and plot.suffix.lower() != ".png":
        raise click.BadParameter(f"must end in .png, got {plot}", param_hint="--plot")
    with raw_connection() as conn:
        frame = month_report(conn, first, last)
        text = write_report(frame, fmt, out)
        if plot is not None:
            plot_month(conn, first, last, plot, f"Interest {month}: accrued per day and posted gross")
    if text is not None:
        click.echo(text.rstrip("\n"))
    if fmt == "table" and out is None:
        click.echo(f"\nper currency\n{render_table(currency_totals(frame))}")
    for path in (out, plot):
        if path is not None:
            click.echo(f"wrote {path}")
