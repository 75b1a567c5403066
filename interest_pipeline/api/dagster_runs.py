"""Runs launched, watched and terminated through Dagster's own GraphQL API.

So a run the API triggers is queued by the instance's run coordinator, launched by its daemon and
shown in the UI like any other. `DagsterRuns` is the interface the schema uses; `GraphQLDagsterRuns`
is the real one (dagster_graphql's client), tests may hand in another.
"""

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from interest_pipeline.settings import check_graphql_url


class DagsterRunsError(Exception):
    """Dagster refused the request or could not be reached."""


class DagsterRuns(Protocol):
    def launch(self, job_name: str, run_config: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """Submit a run; its run id."""
        ...

    def status(self, run_id: str) -> str | None:
        """The run's DagsterRunStatus value (QUEUED, STARTED, CANCELED ...), None when unknown."""
        ...

    def terminate(self, run_id: str) -> None: ...

    def add_tags(self, run_id: str, tags: Mapping[str, str]) -> None: ...

    def run_url(self, run_id: str) -> str: ...


class GraphQLDagsterRuns:
    """dagster_graphql.DagsterGraphQLClient against `url`: the settings' INTEREST_DAGSTER_GRAPHQL_URL."""

    def __init__(self, url: str, timeout: int = 60) -> None:
        check_graphql_url(url)  # checked with the settings already; a URL handed in directly is too
        self.url = url
        parts = urlsplit(url)
        path = parts.path.rstrip("/")
        self._host = parts.hostname or ""  # check_graphql_url refused a URL without a host
        self._port = parts.port
        self._https = parts.scheme == "https"
        self._prefix = path[: -len("/graphql")]
        self._timeout = timeout
        self.ui_url = f"{parts.scheme}://{parts.netloc}{self._prefix}"

    def _client(self) -> Any:
        # Imported here: dagster_graphql pulls in requests and gql, which the CLI's other commands don't need.
        from dagster_graphql import DagsterGraphQLClient

        return DagsterGraphQLClient(
            self._host,
            port_number=self._port,
            use_https=self._https,
            timeout=self._timeout,
            path_prefix=self._prefix,
        )

    def launch(self, job_name: str, run_config: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        from dagster_graphql import DagsterGraphQLClientError

        try:
            return str(
                self._client().submit_job_execution(job_name, run_config=dict(run_config), tags=dict(tags))
            )
        except DagsterGraphQLClientError as error:
            raise DagsterRunsError(f"Dagster did not launch {job_name}: {error}") from error

    def status(self, run_id: str) -> str | None:
        from dagster_graphql import DagsterGraphQLClientError

        try:
            return str(self._client().get_run_status(run_id).value)
        except DagsterGraphQLClientError as error:
            if "RunNotFound" in str(error) or "PipelineNotFound" in str(error):
                return None
            raise DagsterRunsError(f"Dagster did not answer the status of {run_id}: {error}") from error

    def terminate(self, run_id: str) -> None:
        from dagster_graphql import DagsterGraphQLClientError

        try:
            self._client().terminate_run(run_id)
        except DagsterGraphQLClientError as error:
            raise DagsterRunsError(f"Dagster did not terminate {run_id}: {error}") from error

    def add_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Dagster's GraphQL has no mutation for a run's tags, so this one goes through the instance
        (DAGSTER_HOME, the same storage the webserver reads)."""
        import dagster as dg

        try:
            with dg.DagsterInstance.get() as instance:
                instance.add_run_tags(run_id, dict(tags))
        except Exception as error:  # no DAGSTER_HOME, another instance, storage down: say which
            raise DagsterRunsError(f"could not tag run {run_id} in DAGSTER_HOME: {error}") from error

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_url}/runs/{run_id}"
