"""A real `dagster-daemon run` for tests: its own DAGSTER_HOME on the test database's server,
run monitoring polled every few seconds, stopped reliably (SIGTERM, then SIGKILL of its session)."""

import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from interest_pipeline.settings import (
    DAGSTER_PG_URL_ENV,
    DATABASE_URL_ENV,
    libpq_url,
    package_path,
    sqlalchemy_url,
)
from interest_pipeline_tests.support import processes
from interest_pipeline_tests.support.servers import TEST_GRPC_TIMEOUT_SECONDS

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POLL_SECONDS = 2


@dataclass(frozen=True)
class Daemon:
    home: Path
    env: Mapping[str, str]
    log: Path

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def launch(self, job: str, partition: str, log: Path) -> None:
        """Submit a run as the UI would: queued, then launched by this daemon's run launcher."""
        import json
        import subprocess

        subprocess.run(
            [
                str(BIN / "dagster"), "job", "launch", "-w", str(REPO_ROOT / "workspace.yaml"), "-j", job,
                "--tags", json.dumps({"dagster/partition": partition}),
            ],
            env=dict(self.env), cwd=REPO_ROOT, check=True, timeout=300,
            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


# On a loaded CI machine a run worker can take minutes to load: the test daemon must not fail a
# slow start (start timeout) or a slow launch call (gRPC deadline, servers.TEST_GRPC_TIMEOUT_SECONDS)
# as if it were the lost worker these tests are about.
TEST_START_TIMEOUT_SECONDS = 900


def dagster_yaml(poll_seconds: int) -> str:
    """The package's instance config, with run monitoring polled every `poll_seconds` and a start
    timeout no loaded test machine reaches."""
    text = package_path("dagster.yaml").read_text()
    assert "poll_interval_seconds: 30" in text and "start_timeout_seconds: 180" in text
    return text.replace("poll_interval_seconds: 30", f"poll_interval_seconds: {poll_seconds}").replace(
        "start_timeout_seconds: 180", f"start_timeout_seconds: {TEST_START_TIMEOUT_SECONDS}"
    )


@contextmanager
def running_daemon(app_url: URL, home: Path, ready_timeout: float = 180.0) -> Iterator[Daemon]:
    """Start the daemon over the project's workspace; wait until its run monitoring reports in."""
    storage = sqlalchemy_url(app_url).set(database=f"{app_url.database}_dagster")
    with psycopg.connect(libpq_url(app_url.set(database="postgres")), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (storage.database,)).fetchone():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(storage.database)))
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(dagster_yaml(POLL_SECONDS))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        DATABASE_URL_ENV: app_url.render_as_string(hide_password=False),
        DAGSTER_PG_URL_ENV: sqlalchemy_url(storage, "psycopg2").render_as_string(hide_password=False),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "DAGSTER_GRPC_TIMEOUT_SECONDS": str(TEST_GRPC_TIMEOUT_SECONDS),
    }
    os.environ[DAGSTER_PG_URL_ENV] = env[DAGSTER_PG_URL_ENV]  # so this process reads the same instance
    log = home / "daemon.log"
    daemon = processes.start(
        [str(BIN / "dagster-daemon"), "run", "-w", str(REPO_ROOT / "workspace.yaml")], env, str(log)
    )
    try:
        handle = Daemon(home=home, env=env, log=log)
        deadline = time.monotonic() + ready_timeout
        with handle.instance() as instance:
            while "MONITORING" not in instance.get_daemon_heartbeats():
                assert daemon.poll() is None, f"dagster-daemon exited: {log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"no run monitoring heartbeat: {log.read_text()[-3000:]}"
                time.sleep(1)
        yield handle
    finally:
        processes.stop(daemon)
        for pid in processes.session_members(daemon.pid):
            processes.kill_pid_tree(pid)
