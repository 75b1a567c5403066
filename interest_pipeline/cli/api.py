"""`interest-pipeline api`: serve the operations API; `api token create|list|revoke` manage its tokens."""

import click
from sqlalchemy import Engine, create_engine

from interest_pipeline.api.auth import ROLES, new_token, token_sha256
from interest_pipeline.settings import database_url


def _engine() -> Engine:
    return create_engine(database_url())


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.pass_context
def api(ctx: click.Context, host: str, port: int) -> None:
    """Serve the GraphQL operations API at http://HOST:PORT/graphql (GraphiQL in a browser).

    It reaches Dagster's GraphQL at INTEREST_DAGSTER_GRAPHQL_URL (default
    http://127.0.0.1:3000/graphql, what `interest-pipeline ui` serves).
    """
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from interest_pipeline.api.app import default_app
    from interest_pipeline.settings import ensure_dagster_home

    # The cancel mutation tags the run through the instance (Dagster's GraphQL has no tag mutation).
    ensure_dagster_home()
    click.echo(f"http://{host}:{port}/graphql", err=True)
    uvicorn.run(default_app(), host=host, port=port, log_level="warning")


@api.group()
def token() -> None:
    """Bearer tokens of the API (only their SHA-256 is stored)."""


@token.command("create")
@click.option("--name", required=True, help="Unique name; recorded on everything the token changes.")
@click.option(
    "--role", required=True, type=click.Choice(ROLES), help="admin: everything; user: queries only."
)
def token_create(name: str, role: str) -> None:
    """Print a new token once: it cannot be shown again."""
    from interest_pipeline.api import repository

    if not name.strip():
        raise click.UsageError("--name must not be blank")
    secret = new_token()
    engine = _engine()
    try:
        with engine.begin() as conn:
            repository.create_token(conn, name.strip(), role, token_sha256(secret))
    except repository.DuplicateToken:
        raise click.ClickException(
            f"a token named {name!r} exists already (revoked ones keep their name)"
        ) from None
    finally:
        engine.dispose()
    click.echo(secret)


@token.command("list")
def token_list() -> None:
    """Names, roles, created, last used, revoked: never the tokens."""
    from interest_pipeline.api import repository

    engine = _engine()
    try:
        with engine.connect() as conn:
            rows = repository.list_tokens(conn)
    finally:
        engine.dispose()
    click.echo("name\trole\tcreated_at\tlast_used_at\trevoked_at")
    for row in rows:
        click.echo(
            "\t".join(
                str(v) if v is not None else "-"
                for v in (row.name, row.role, row.created_at, row.last_used_at, row.revoked_at)
            )
        )


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke the token NAME: requests carrying it are answered 401 from now on."""
    from interest_pipeline.api import repository

    engine = _engine()
    try:
        with engine.begin() as conn:
            revoked = repository.revoke_token(conn, name)
    finally:
        engine.dispose()
    if not revoked:
        raise click.ClickException(f"no live token named {name!r}")
    click.echo(f"revoked {name}")
