"""The API's GraphQL errors: one `extensions.code` per kind, the field at fault for bad input.

Resolvers raise these; anything else is reported as INTERNAL_SERVER_ERROR without its
traceback or message (app.py), so a response never leaks Python internals.
"""

from typing import Any

from graphql import GraphQLError


class ApiError(GraphQLError):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class BadUserInput(ApiError):
    """Invalid input; `field` names the argument at fault (e.g. `input.batchSize`)."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message, field=field)


class NotFound(ApiError):
    code = "NOT_FOUND"


class Conflict(ApiError):
    code = "CONFLICT"


class DagsterUnavailable(ApiError):
    """Dagster's GraphQL refused or could not be reached; nothing was launched."""

    code = "DAGSTER_ERROR"
