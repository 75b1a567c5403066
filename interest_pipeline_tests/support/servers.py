"""Real servers for end-to-end tests: the Dagster webserver and daemon, the operations API.

Each is a subprocess in its own session (so its children are reached too), on a free port,
with default signal handlers, logging to a file; `stop` terminates the whole process group and
SIGKILLs it if it is still there after a grace period. `dagster_environment` makes the
environment they share: the test database, a DAGSTER_HOME made by settings.ensure_dagster_home
on the test database's server, and nothing of the calling test process changed.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from interest_pipeline.settings import (
    DATABASE_URL_ENV,
    HOME_ENV,
    REPO_ROOT,
    ensure_dagster_home,
    forget_settings,
    load_settings,
)

# Dagster's gRPC deadline (60 s by default) for the test servers' calls to their code server: on a CI
# machine whose two cores run two test processes and their servers, a run launch can outlast 60 s,
# and the daemon then fails the run while its worker starts anyway.
TEST_GRPC_TIMEOUT_SECONDS = 600

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _default_signals() -> None:
    # A test runner (or a shell's background job) may have SIGINT/SIGTERM ignored; the child must stop on them.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@dataclass
class ServerProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace_seconds: float = 15.0) -> None:
        """SIGTERM to the process group, then SIGKILL to what is left of it."""
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace_seconds)
        # Children (code servers, run workers) may outlive the leader: kill the group regardless.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def start_server(name: str, command: list[str], env: Mapping[str, str], log_dir: Path) -> ServerProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_default_signals,
        )
    return ServerProcess(name=name, process=process, log_path=log_path)


def wait_until(server: ServerProcess, ready: Any, timeout: float = 120.0, what: str = "ready") -> None:
    """Poll `ready()` until it is true; fail with the server's log if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"{server.name} exited ({server.process.returncode}):\n{server.log_tail()}")
        try:
            if ready():
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{server.name} not {what} after {timeout} s:\n{server.log_tail()}")


@contextmanager
def dagster_environment(
    database_url: str, home: Path, extra: Mapping[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """The servers' environment: the test database, a fresh project home and its DAGSTER_HOME.

    ensure_dagster_home writes into os.environ; this restores it, so the test process is unchanged.
    The settings are read from the environment made here, and forgotten after (settings.forget_settings).
    """
    saved = dict(os.environ)
    try:
        os.environ[DATABASE_URL_ENV] = database_url
        os.environ[HOME_ENV] = str(home)
        for key in ("DAGSTER_HOME", "INTEREST_DAGSTER_PG_URL", "INTEREST_DAGSTER_DATABASE_URL"):
            os.environ.pop(key, None)
        ensure_dagster_home(load_settings())
        env = dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        forget_settings()
    env.update(extra or {})
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("DAGSTER_GRPC_TIMEOUT_SECONDS", str(TEST_GRPC_TIMEOUT_SECONDS))
    yield env


def _graphql(url: str, query: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    response = requests.post(url, json={"query": query}, headers=dict(headers or {}), timeout=10)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _code_location_loaded(url: str) -> bool:
    body = _graphql(
        url,
        "{ repositoriesOrError { __typename ... on RepositoryConnection { nodes { name } } } }",
    )
    nodes = (body.get("data") or {}).get("repositoriesOrError", {}).get("nodes") or []
    return bool(nodes)


@dataclass
class DagsterStack:
    graphql_url: str
    webserver: ServerProcess
    daemon: ServerProcess

    def stop(self) -> None:
        for server in (self.daemon, self.webserver):
            server.stop()


def start_dagster(env: Mapping[str, str], log_dir: Path, port: int | None = None) -> DagsterStack:
    """`dagster-webserver` and `dagster-daemon run` over the project's workspace (the daemon
    dequeues runs the QueuedRunCoordinator holds, and runs schedules and sensors)."""
    port = port or free_port()
    workspace = str(REPO_ROOT / "workspace.yaml")
    webserver = start_server(
        "dagster-webserver",
        [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)],
        env,
        log_dir,
    )
    daemon = start_server(
        "dagster-daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace], env, log_dir
    )
    stack = DagsterStack(graphql_url=f"http://127.0.0.1:{port}/graphql", webserver=webserver, daemon=daemon)
    try:
        wait_until(
            webserver, lambda: _code_location_loaded(stack.graphql_url), what="serving the code location"
        )
        wait_until(daemon, daemon.alive, what="running")
    except BaseException:
        stack.stop()
        raise
    return stack


def start_api(
    env: Mapping[str, str], log_dir: Path, dagster_graphql_url: str, port: int | None = None
) -> tuple[ServerProcess, str]:
    """`interest-pipeline api` on a free port; (process, its /graphql URL)."""
    port = port or free_port()
    command = [str(BIN / "interest-pipeline"), "api", "--host", "127.0.0.1", "--port", str(port)]
    server = start_server(
        "interest-pipeline-api",
        command,
        {**env, "INTEREST_DAGSTER_GRAPHQL_URL": dagster_graphql_url},
        log_dir,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(server, lambda: requests.get(f"{base}/health", timeout=2).ok, what="answering /health")
    except BaseException:
        server.stop()
        raise
    return server, f"{base}/graphql"


def interest_pipeline_cli(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The project's CLI as an operator runs it."""
    command = shutil.which("interest-pipeline", path=str(BIN)) or "interest-pipeline"
    return subprocess.run(
        [command, *args], env=dict(env), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
