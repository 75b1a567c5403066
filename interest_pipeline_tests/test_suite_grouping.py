"""The suite's own scheduling: tests of one xdist_group run on one worker, as the server-starting
groups (API stack, Celery workers) and the book-building classes rely on. With pytest 9.2 and
pytest-xdist 3.8 the marks were silently dropped (pytest-dev/pytest-xdist#1386): both workers
started every group's servers and built every book, and the suite ran 19:40 against 12:05
grouped (both beside the same benchmark)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from interest_pipeline_tests import conftest

GROUPED = """
import pytest

pytestmark = pytest.mark.xdist_group("one-worker")


@pytest.mark.parametrize("n", range(6))
def test_grouped(n):
    pass
"""

LOOSE = """
import pytest


@pytest.mark.parametrize("n", range(6))
def test_loose(n):
    pass
"""


def test_a_group_runs_on_one_worker_under_the_suites_own_options(tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_loose.py").write_text(LOOSE)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-v", "--dist", "loadgroup", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ran = re.findall(r"\[(gw\d)\] \[ *\d+%\] PASSED (\S+)", done.stdout)
    grouped = {worker for worker, test in ran if "test_grouped" in test}
    assert len(ran) == 12
    assert sum("test_grouped" in test and test.endswith("@one-worker") for _, test in ran) == 6
    assert len(grouped) == 1, ran


@pytest.mark.parametrize(
    ("pytest_version", "xdist_version", "broken"),
    [
        ("9.1.1", "3.8.0", False),
        ("9.2.0", "3.8.0", True),
        ("9.2.0", "3.9.0", False),
        ("8.4.2", "3.5.0", False),
    ],
)
def test_the_known_bad_pair_is_recognised(pytest_version: str, xdist_version: str, broken: bool) -> None:
    assert conftest.grouping_broken(pytest_version, xdist_version) is broken
