"""`explain`: how one account's interest of one date came about, from the stored rows."""

from typing import Any

import click


@click.command()
@click.option("--account", "account_id", type=int, required=True, help="The account id.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="The business date D.")
def explain(account_id: int, day: Any) -> None:
    """The balance used, tier(s) and rate, day count and fraction, exact amount and its rounding; for a
    posting date also its accruals, carry in and out, gross, tax, net and journal lines."""
    from interest_pipeline.db.engine import raw_connection
    from interest_pipeline.reporting.explain import ExplainError, render
    from interest_pipeline.reporting.explain import explain as explain_account

    try:
        with raw_connection() as conn:
            explanation = explain_account(conn, account_id, day.date())
    except ExplainError as error:
        raise click.ClickException(str(error)) from error
    click.echo(render(explanation))
