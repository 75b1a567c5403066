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
# More step processes than this on one machine only thrash; a typo like 1000 is caught.
MAX_STEP_PROCESSES = 256

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


class SettingsError(ValueError):
    """An environment variable holds a value the project cannot use; the message names it."""


def _timezone() -> str:
    timezone = os.environ.get(TIMEZONE_ENV) or "UTC"
    try:
        ZoneInfo(timezone)  # fail early on a misspelt zone, not at the first schedule tick
    except (ValueError, OSError, KeyError) as error:  # ZoneInfoNotFoundError is a KeyError
        raise SettingsError(
            f"{TIMEZONE_ENV} must be an IANA time zone such as UTC or Europe/Zurich, got {timezone!r}"
        ) from error
    return timezone


def _partitions_start() -> date:
    configured = os.environ.get(PARTITIONS_START_ENV) or "2020-01-01"
    try:
        return date.fromisoformat(configured)
    except ValueError as error:
        raise SettingsError(
            f"{PARTITIONS_START_ENV} must be a date as YYYY-MM-DD, got {configured!r}"
        ) from error


def load_settings() -> Settings:
    home = Path(os.environ.get(HOME_ENV) or REPO_ROOT / ".interest-pipeline").resolve()
    return Settings(
        home=home,
        business_timezone=_timezone(),
        partitions_start=_partitions_start(),
        step_processes=_step_processes(),
    )


ALERT_WEBHOOK_URL_ENV = "INTEREST_ALERT_WEBHOOK_URL"
ALERT_SMTP_URL_ENV = "INTEREST_ALERT_SMTP_URL"
ALERT_EMAIL_TO_ENV = "INTEREST_ALERT_EMAIL_TO"
ALERT_EMAIL_FROM_ENV = "INTEREST_ALERT_EMAIL_FROM"
DAGSTER_URL_ENV = "INTEREST_DAGSTER_URL"


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go (each channel optional) and the UI address the alerts link runs to."""

    webhook_url: str | None
    smtp_url: str | None
    email_to: tuple[str, ...]
    email_from: str
    dagster_url: str


def alert_settings() -> AlertSettings:
    webhook = os.environ.get(ALERT_WEBHOOK_URL_ENV) or None
    if webhook and not webhook.startswith(("http://", "https://")):
        raise SettingsError(f"{ALERT_WEBHOOK_URL_ENV} must be an http:// or https:// URL, got {webhook!r}")
    smtp = os.environ.get(ALERT_SMTP_URL_ENV) or None
    if smtp and not smtp.startswith(("smtp://", "smtps://")):
        raise SettingsError(
            f"{ALERT_SMTP_URL_ENV} must be smtp://[user:password@]host[:port] or smtps://..., got {smtp!r}"
        )
    to = tuple(a.strip() for a in (os.environ.get(ALERT_EMAIL_TO_ENV) or "").split(",") if a.strip())
    bad = [a for a in to if "@" not in a]
    if bad:
        raise SettingsError(f"{ALERT_EMAIL_TO_ENV} must be comma-separated e-mail addresses, got {bad[0]!r}")
    if smtp and not to:
        raise SettingsError(
            f"{ALERT_EMAIL_TO_ENV} must name at least one address when {ALERT_SMTP_URL_ENV} is set"
        )
    return AlertSettings(
        webhook_url=webhook,
        smtp_url=smtp,
        email_to=to,
        email_from=os.environ.get(ALERT_EMAIL_FROM_ENV) or "interest-pipeline@localhost",
        dagster_url=(os.environ.get(DAGSTER_URL_ENV) or "http://127.0.0.1:3000").rstrip("/"),
    )


def validate_environment() -> None:
    """Every setting read from the environment, checked at once: a command calls this first,
    so a bad value stops it with one message naming the variable, before anything is written."""
    load_settings()
    alert_settings()
    check_executor_settings()
    for name in (DATABASE_URL_ENV, DAGSTER_DATABASE_URL_ENV):
        configured = os.environ.get(name)
        if not configured:
            continue
        try:
            parsed = make_url(configured)
        except Exception as error:
            raise SettingsError(f"{name} must be a postgresql:// URL, got {configured!r}") from error
        if not parsed.drivername.startswith("postgresql") or not parsed.database:
            raise SettingsError(f"{name} must be a postgresql:// URL naming a database, got {configured!r}")


def _step_processes() -> int:
    """Default: one more than the cores, so the next chunk's process starts (and waits for a
    chunk slot) while the others' SQL runs instead of after it. 1M accounts on 2 cores
    (docs/benchmarks.md): 22.9 s with 3 processes, 25.0 s with 2, 23.6 s with 4."""
    configured = os.environ.get(STEP_PROCESSES_ENV)
    if not configured:
        return (os.cpu_count() or 1) + 1
    if not configured.isdigit() or not 1 <= int(configured) <= MAX_STEP_PROCESSES:
        raise SettingsError(
            f"{STEP_PROCESSES_ENV} must be a whole number from 1 to {MAX_STEP_PROCESSES}, got {configured!r}"
        )
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
    from interest_pipeline.db.admin import ensure_database  # db.admin builds on this module

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
    from interest_pipeline.db.admin import ensure_database  # db.admin builds on this module

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
        raise SettingsError(f"{EXECUTOR_ENV} must be one of {', '.join(EXECUTORS)}, got {configured!r}")
    return configured


def celery_settings() -> CelerySettings:
    """The Celery broker, result backend and queue, checked here so a typo fails before any run starts."""
    broker = os.environ.get(CELERY_BROKER_ENV) or DEFAULT_CELERY_BROKER
    backend = os.environ.get(CELERY_BACKEND_ENV) or DEFAULT_CELERY_BACKEND
    queue = os.environ.get(CELERY_QUEUE_ENV) or DEFAULT_CELERY_QUEUE
    _check_scheme(CELERY_BROKER_ENV, broker, _BROKER_SCHEMES)
    _check_scheme(CELERY_BACKEND_ENV, backend, _BACKEND_SCHEMES)
    if not all(c.isalnum() or c in "._-" for c in queue):
        raise SettingsError(f"{CELERY_QUEUE_ENV} must be letters, digits, '.', '_' or '-', got {queue!r}")
    return CelerySettings(broker=broker, backend=backend, queue=queue)


def _check_scheme(variable: str, url: str, schemes: tuple[str, ...]) -> None:
    scheme, separator, _ = url.partition("://")
    if not separator or scheme not in schemes:
        starts = ", ".join(f"{s}://" for s in schemes)
        raise SettingsError(f"{variable} must be a URL starting with one of {starts}, got {url!r}")


def check_executor_settings() -> None:
    """Every executor setting at once (the CLI calls it first): one clear error naming the variable."""
    if executor_name() == "celery":
        celery_settings()
