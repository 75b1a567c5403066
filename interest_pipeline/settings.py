"""Where the project keeps its data and which databases it talks to.

`INTEREST_DATABASE_URL` selects the database. When it is unset, an embedded PostgreSQL
(the `pgserver` package) is started in a data folder under the project's home, so the
pipeline runs on a machine with no PostgreSQL installed. Once resolved, the URL is put
into the environment so that every process Dagster spawns reuses the same server
instead of starting its own.
"""

import os
import shutil
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

DATABASE_URL_ENV = "INTEREST_DATABASE_URL"
TEST_DATABASE_URL_ENV = "INTEREST_TEST_DATABASE_URL"
DAGSTER_DATABASE_URL_ENV = "INTEREST_DAGSTER_DATABASE_URL"
# dagster.yaml reads the instance storage URL from here (psycopg2 driver, as dagster-postgres needs).
DAGSTER_PG_URL_ENV = "INTEREST_DAGSTER_PG_URL"
HOME_ENV = "INTEREST_PIPELINE_HOME"
TIMEZONE_ENV = "INTEREST_BUSINESS_TIMEZONE"
PARTITIONS_START_ENV = "INTEREST_PARTITIONS_START"
STEP_PROCESSES_ENV = "INTEREST_STEP_PROCESSES"

EMBEDDED_DATABASE = "interest_pipeline"
EMBEDDED_DAGSTER_DATABASE = "interest_pipeline_dagster"

# The checkout an editable install runs from: only the default home is relative to it. Files the
# code needs at run time (dagster.yaml, the migrations) ship inside the package: package_path().
REPO_ROOT = Path(__file__).resolve().parent.parent


def package_path(name: str) -> Path:
    """A file or folder shipped in the interest_pipeline package (package data), wherever it is installed."""
    location = files("interest_pipeline").joinpath(name)
    if not isinstance(location, Path):
        # Alembic and shutil need real paths, which a zipped install does not have.
        raise RuntimeError(f"interest_pipeline is not installed as files: cannot read {name} from {location}")
    return location


@dataclass(frozen=True)
class Settings:
    home: Path
    business_timezone: str
    partitions_start: date
    # Step processes a run may have alive at once (the multiprocess executor's max_concurrent).
    step_processes: int

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


def load_settings() -> Settings:
    home = Path(os.environ.get(HOME_ENV) or REPO_ROOT / ".interest-pipeline").resolve()
    timezone = os.environ.get(TIMEZONE_ENV) or "UTC"
    ZoneInfo(timezone)  # fail early on a misspelt zone, not at the first schedule tick
    start = date.fromisoformat(os.environ.get(PARTITIONS_START_ENV) or "2020-01-01")
    return Settings(
        home=home, business_timezone=timezone, partitions_start=start, step_processes=_step_processes()
    )


def _step_processes() -> int:
    """Default: one more than the cores, so the next chunk's process starts (and waits for a
    chunk slot) while the others' SQL runs instead of after it. 1M accounts on 2 cores
    (docs/benchmarks.md): 22.9 s with 3 processes, 25.0 s with 2, 23.6 s with 4."""
    configured = os.environ.get(STEP_PROCESSES_ENV)
    if not configured:
        return (os.cpu_count() or 1) + 1
    if not configured.isdigit() or int(configured) < 1:
        raise ValueError(f"{STEP_PROCESSES_ENV} must be a whole number >= 1, got {configured!r}")
    return int(configured)


def sqlalchemy_url(url: str | URL, driver: str = "psycopg") -> URL:
    """The same database addressed through a given SQLAlchemy driver."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername=f"postgresql+{driver}")


def libpq_url(url: str | URL) -> str:
    """A plain `postgresql://` URL for psycopg.connect (COPY and admin work)."""
    return sqlalchemy_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str | URL, database: str) -> URL:
    return sqlalchemy_url(url).set(database=database)


def ensure_database(url: str | URL) -> None:
    """Create the database of `url` on its server when it does not exist yet."""
    target = sqlalchemy_url(url)
    assert target.database, f"no database named in {target!r}"
    admin = libpq_url(target.set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.database)))


@cache
def _embedded_server_url(pgdata: Path) -> str:
    import pgserver  # imported lazily: it is only needed without INTEREST_DATABASE_URL

    pgdata.mkdir(parents=True, exist_ok=True)
    # 'stop' shuts the server down when the last process that asked for it exits,
    # so a quick start leaves no stray postgres behind.
    server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    return str(server.get_uri())


def embedded_server_url(settings: Settings | None = None) -> URL:
    settings = settings or load_settings()
    return sqlalchemy_url(_embedded_server_url(settings.home / "pgdata"))


def database_url(settings: Settings | None = None) -> URL:
    """The application database; starts the embedded server when no URL is configured."""
    configured = os.environ.get(DATABASE_URL_ENV)
    if configured:
        return sqlalchemy_url(configured)
    url = with_database(embedded_server_url(settings), EMBEDDED_DATABASE)
    ensure_database(url)
    os.environ[DATABASE_URL_ENV] = url.render_as_string(hide_password=False)
    return url


def dagster_database_url(settings: Settings | None = None) -> URL:
    """Dagster's instance storage: its own database on the same server unless configured.

    Kept apart from the application database because Dagster runs its own Alembic
    migrations and tables there.
    """
    configured = os.environ.get(DAGSTER_DATABASE_URL_ENV)
    if configured:
        return sqlalchemy_url(configured, "psycopg2")
    app = database_url(settings)
    url = with_database(app, f"{app.database}_dagster" if app.database else EMBEDDED_DAGSTER_DATABASE)
    ensure_database(url)
    return sqlalchemy_url(url, "psycopg2")


def ensure_dagster_home(settings: Settings | None = None) -> Path:
    """Point DAGSTER_HOME at an instance backed by PostgreSQL and return it.

    A DAGSTER_HOME set by the user is respected as it is; otherwise one is made under the
    project's home from the package's dagster.yaml.
    """
    settings = settings or load_settings()
    os.environ.setdefault(
        DAGSTER_PG_URL_ENV, dagster_database_url(settings).render_as_string(hide_password=False)
    )
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"])
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(package_path("dagster.yaml"), home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


# --- where a run's chunk steps execute (batch.executor) -------------------------------------

EXECUTOR_ENV = "INTEREST_EXECUTOR"
EXECUTORS = ("forkserver", "in_process", "celery")
CELERY_BROKER_ENV = "INTEREST_CELERY_BROKER"
CELERY_BACKEND_ENV = "INTEREST_CELERY_BACKEND"
CELERY_QUEUE_ENV = "INTEREST_CELERY_QUEUE"
DEFAULT_CELERY_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
# rpc:// sends each step's result back to the run's own reply queue on the broker: nothing else to run.
DEFAULT_CELERY_BACKEND = "rpc://"
DEFAULT_CELERY_QUEUE = "dagster"
_BROKER_SCHEMES = ("amqp", "amqps", "pyamqp", "redis", "rediss")
_BACKEND_SCHEMES = ("rpc", "redis", "rediss")


@dataclass(frozen=True)
class CelerySettings:
    broker: str
    backend: str
    # The queue runs send chunk steps to and `interest-pipeline worker` listens on by default.
    queue: str


def executor_name() -> str:
    """INTEREST_EXECUTOR: forkserver (default), in_process or celery; anything else is refused by name."""
    configured = os.environ.get(EXECUTOR_ENV) or "forkserver"
    if configured not in EXECUTORS:
        raise ValueError(f"{EXECUTOR_ENV} must be one of {', '.join(EXECUTORS)}, got {configured!r}")
    return configured


def celery_settings() -> CelerySettings:
    """The Celery broker, result backend and queue, checked here so a typo fails before any run starts."""
    broker = os.environ.get(CELERY_BROKER_ENV) or DEFAULT_CELERY_BROKER
    backend = os.environ.get(CELERY_BACKEND_ENV) or DEFAULT_CELERY_BACKEND
    queue = os.environ.get(CELERY_QUEUE_ENV) or DEFAULT_CELERY_QUEUE
    _check_scheme(CELERY_BROKER_ENV, broker, _BROKER_SCHEMES)
    _check_scheme(CELERY_BACKEND_ENV, backend, _BACKEND_SCHEMES)
    if not all(c.isalnum() or c in "._-" for c in queue):
        raise ValueError(f"{CELERY_QUEUE_ENV} must be letters, digits, '.', '_' or '-', got {queue!r}")
    return CelerySettings(broker=broker, backend=backend, queue=queue)


def _check_scheme(variable: str, url: str, schemes: tuple[str, ...]) -> None:
    scheme, separator, _ = url.partition("://")
    if not separator or scheme not in schemes:
        starts = ", ".join(f"{s}://" for s in schemes)
        raise ValueError(f"{variable} must be a URL starting with one of {starts}, got {url!r}")


def check_executor_settings() -> None:
    """Every executor setting at once (the CLI calls it first): one clear error naming the variable."""
    if executor_name() == "celery":
        celery_settings()
