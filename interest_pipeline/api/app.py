"""The HTTP service: GraphQL-over-HTTP at /graphql (POST JSON; GET shows GraphiQL), on Starlette.

Authentication happens before GraphQL runs: no token, an unknown, revoked or expired one is
HTTP 401. Errors leave as GraphQL errors with extensions.code; an unexpected exception is logged
here and answered INTERNAL_SERVER_ERROR without its message or traceback.
"""

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from sqlalchemy import Engine, create_engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from interest_pipeline.api import repository
from interest_pipeline.api.auth import AuthenticationFailed, Principal, authenticate
from interest_pipeline.api.context import ApiContext
from interest_pipeline.api.dagster_runs import DagsterRuns, GraphQLDagsterRuns
from interest_pipeline.api.errors import ApiError
from interest_pipeline.api.schema import schema
from interest_pipeline.settings import Settings, current_settings, database_url

log = logging.getLogger(__name__)

GRAPHIQL = """<!doctype html>
<html><head><title>interest-pipeline API</title>
<link rel="stylesheet" href="https://unpkg.com/graphiql@3/graphiql.min.css" /></head>
<body style="margin:0"><div id="graphiql" style="height:100vh"></div>
<script crossorigin src="https://unpkg.com/react@18/umd/react.production.min.js"></script>
<script crossorigin src="https://unpkg.com/react-dom@18/umd/react-dom.production.min.js"></script>
<script crossorigin src="https://unpkg.com/graphiql@3/graphiql.min.js"></script>
<script>
  // Put {"Authorization": "Bearer <token>"} in the Headers tab.
  const fetcher = GraphiQL.createFetcher({ url: window.location.pathname });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, { fetcher, defaultEditorToolsVisibility: 'headers' }));
</script></body></html>
"""


@dataclass(frozen=True)
class ApiService:
    engine: Engine
    dagster: DagsterRuns
    cancel_wait_seconds: float = 60.0
    # Read once when the service is made (`interest-pipeline api` has read them as it started).
    settings: Settings = field(default_factory=current_settings)

    def principal(self, authorization: str | None) -> Principal:
        def lookup(sha256: str) -> tuple[str, str] | None:
            with self.engine.begin() as conn:
                return repository.use_token(conn, sha256)

        return authenticate(authorization, lookup, self.settings.api_jwt_secret)

    def execute(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        context = ApiContext(
            principal=principal,
            engine=self.engine,
            dagster=self.dagster,
            settings=self.settings,
            cancel_wait_seconds=self.cancel_wait_seconds,
        )
        result = schema.execute(
            body.get("query"),
            variables=body.get("variables"),
            operation_name=body.get("operationName"),
            context_value=context,
        )
        response: dict[str, Any] = {"data": result.data}
        if result.errors:
            response["errors"] = [_error(e) for e in result.errors]
        return response


def _error(error: GraphQLError) -> dict[str, Any]:
    """A GraphQL error as the client sees it: our ApiErrors as raised, request errors as such,
    anything else masked."""
    original = error.original_error
    formatted = error.formatted
    if isinstance(original, ApiError):
        formatted["message"] = original.message
        formatted["extensions"] = original.extensions or {}
    elif original is None:
        # Parse, validation and argument coercion errors: the request itself is wrong.
        formatted["extensions"] = {"code": "GRAPHQL_VALIDATION_FAILED"}
    else:
        log.error("unexpected error in %s", error.path, exc_info=original)
        formatted["message"] = "internal error (logged by the server)"
        formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
    return dict(formatted)


def _unauthenticated(message: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="interest-pipeline"'},
    )


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}, status_code=400
    )


def build_app(service: ApiService) -> Starlette:
    async def graphql_get(_request: Request) -> Response:
        return HTMLResponse(GRAPHIQL)

    async def graphql_post(request: Request) -> Response:
        try:
            principal = await run_in_threadpool(service.principal, request.headers.get("authorization"))
        except AuthenticationFailed as error:
            return _unauthenticated(str(error))
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _bad_request("the body must be JSON: {query, variables, operationName}")
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _bad_request("the body must be a JSON object with a query string")
        if body.get("variables") is not None and not isinstance(body["variables"], dict):
            return _bad_request("variables must be a JSON object")
        return JSONResponse(await run_in_threadpool(service.execute, principal, body))

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/graphql", graphql_get, methods=["GET"]),
            Route("/graphql", graphql_post, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def default_app() -> Starlette:
    """The app on the configured database and Dagster (INTEREST_DAGSTER_GRAPHQL_URL)."""
    settings = current_settings()
    engine = create_engine(database_url(settings), pool_pre_ping=True, pool_size=8)
    dagster = GraphQLDagsterRuns(settings.dagster_graphql_url)
    return build_app(ApiService(engine=engine, dagster=dagster, settings=settings))
