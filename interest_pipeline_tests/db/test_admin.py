"""Creating a database that may be created at the same time by another process (workers starting)."""

import threading
import uuid

import psycopg
from psycopg import sql

from interest_pipeline.db.admin import database_exists, ensure_database
from interest_pipeline.settings import libpq_url
from interest_pipeline_tests.support.database import test_server_url as server_url


def test_many_processes_ensuring_one_new_database_at_once_all_succeed_and_it_exists() -> None:
    server = server_url()
    target = server.set(database=f"ip_race_{uuid.uuid4().hex[:10]}")
    assert not database_exists(target)
    barrier = threading.Barrier(6)
    failures: list[BaseException] = []

    def ensure() -> None:
        barrier.wait()
        try:
            ensure_database(target)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=ensure) for _ in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert failures == []
        assert database_exists(target)
    finally:
        with psycopg.connect(libpq_url(server.set(database="postgres")), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target.database))
            )
