"""The project's settings (every INTEREST_* variable), where it keeps its data and which databases it uses.

`Settings` reads and checks them all at once, when `load_settings` is called: as a CLI command
starts (cli.main) and as interest_pipeline.definitions builds the Definitions (code server, step
processes, Celery workers). No module reads the environment at import time; the rest of the code
takes the object, or the one instance that load made (`current_settings`). A bad value is one
SettingsError naming the variable and the value, before anything is written.

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
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

DATABASE_URL_ENV = "INTEREST_DATABASE_URL"
# Read by the tests only (interest_pipeline_tests/support/database.py): the server their databases go on.
TEST_DATABASE_URL_ENV = "INTEREST_TEST_DATABASE_URL"
DAGSTER_DATABASE_URL_ENV = "INTEREST_DAGSTER_DATABASE_URL"
# dagster.yaml reads the instance storage URL from here (psycopg2 driver, as dagster-postgres needs);
# ensure_dagster_home writes it, it is no setting of its own.
DAGSTER_PG_URL_ENV = "INTEREST_DAGSTER_PG_URL"
HOME_ENV = "INTEREST_PIPELINE_HOME"
TIMEZONE_ENV = "INTEREST_BUSINESS_TIMEZONE"
PARTITIONS_START_ENV = "INTEREST_PARTITIONS_START"
STEP_PROCESSES_ENV = "INTEREST_STEP_PROCESSES"
# More step processes than this on one machine only thrash; a typo like 1000 is caught.
MAX_STEP_PROCESSES = 256

# Where a run's chunk steps execute (batch.executor).
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

ALERT_WEBHOOK_URL_ENV = "INTEREST_ALERT_WEBHOOK_URL"
ALERT_SMTP_URL_ENV = "INTEREST_ALERT_SMTP_URL"
ALERT_EMAIL_TO_ENV = "INTEREST_ALERT_EMAIL_TO"
ALERT_EMAIL_FROM_ENV = "INTEREST_ALERT_EMAIL_FROM"
DAGSTER_URL_ENV = "INTEREST_DAGSTER_URL"

# The operations API (api.dagster_runs, api.auth).
DAGSTER_GRAPHQL_URL_ENV = "INTEREST_DAGSTER_GRAPHQL_URL"
DEFAULT_DAGSTER_GRAPHQL_URL = "http://127.0.0.1:3000/graphql"
JWT_SECRET_ENV = "INTEREST_API_JWT_SECRET"

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


class SettingsError(ValueError):
    """An environment variable holds a value the project cannot use; the message names it."""


def _default_step_processes() -> int:
    """One more than the cores, so the next chunk's process starts (and waits for a chunk slot)
    while the others' SQL runs instead of after it. 1M accounts on 2 cores (docs/benchmarks.md):
    22.9 s with 3 processes, 25.0 s with 2, 23.6 s with 4."""
    return (os.cpu_count() or 1) + 1


def _check_scheme(variable: str, url: str, schemes: tuple[str, ...]) -> None:
    scheme, separator, _ = url.partition("://")
    if not separator or scheme not in schemes:
        starts = ", ".join(f"{s}://" for s in schemes)
        raise ValueError(f"{variable} must be a URL starting with one of {starts}, got {url!r}")


def _check_postgresql_url(variable: str, configured: str) -> None:
    try:
        parsed = make_url(configured)
    except Exception as error:
        raise ValueError(f"{variable} must be a postgresql:// URL, got {configured!r}") from error
    if not parsed.drivername.startswith("postgresql") or not parsed.database:
        raise ValueError(f"{variable} must be a postgresql:// URL naming a database, got {configured!r}")


class Settings(BaseSettings):
    """Every INTEREST_* variable the product reads, checked when the object is made.

    Made once per process by load_settings: when a CLI command starts (cli.main) and when
    interest_pipeline.definitions builds the Definitions (code server, step processes, workers).
    An empty variable counts as unset. Field order is the order the README's table lists them.
    """

    model_config = SettingsConfigDict(
        env_prefix="INTEREST_", env_ignore_empty=True, frozen=True, extra="ignore", populate_by_name=True
    )

    # None: the embedded PostgreSQL under `home` (database_url). repr=False on the fields that
    # may carry a password, so printing the settings shows none.
    database_url: str | None = Field(default=None, repr=False)
    # None: the application database's `_dagster` neighbour on the same server.
    dagster_database_url: str | None = Field(default=None, repr=False)
    home: Path = Field(default=REPO_ROOT / ".interest-pipeline", validation_alias=HOME_ENV)
    business_timezone: str = "UTC"
    partitions_start: date = date(2020, 1, 1)
    # Step processes a run may have alive at once (the multiprocess executor's max_concurrent).
    step_processes: int = Field(default_factory=_default_step_processes)
    executor: str = "forkserver"
    celery_broker: str = Field(default=DEFAULT_CELERY_BROKER, repr=False)
    celery_backend: str = Field(default=DEFAULT_CELERY_BACKEND, repr=False)
    # The queue runs send chunk steps to and `interest-pipeline worker` listens on by default.
    celery_queue: str = DEFAULT_CELERY_QUEUE
    alert_webhook_url: str | None = None
    alert_smtp_url: str | None = Field(default=None, repr=False)
    # NoDecode: a comma-separated list, not the JSON pydantic-settings would expect for a tuple.
    alert_email_to: Annotated[tuple[str, ...], NoDecode] = ()
    alert_email_from: str = "interest-pipeline@localhost"
    dagster_url: str = "http://127.0.0.1:3000"
    dagster_graphql_url: str = DEFAULT_DAGSTER_GRAPHQL_URL
    api_jwt_secret: str | None = Field(default=None, repr=False)

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @field_validator("home", mode="after")
    @classmethod
    def _resolved_home(cls, home: Path) -> Path:
        return home.resolve()

    @field_validator("database_url", "dagster_database_url")
    @classmethod
    def _postgresql(cls, url: str | None, info: ValidationInfo) -> str | None:
        if url is not None:
            _check_postgresql_url(_env_name(info.field_name), url)
        return url

    @field_validator("business_timezone")
    @classmethod
    def _zone(cls, timezone: str) -> str:
        try:
            ZoneInfo(timezone)  # fail early on a misspelt zone, not at the first schedule tick
        except (ValueError, OSError, KeyError) as error:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(
                f"{TIMEZONE_ENV} must be an IANA time zone such as UTC or Europe/Zurich, got {timezone!r}"
            ) from error
        return timezone

    @field_validator("partitions_start", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError as error:
                raise ValueError(
                    f"{PARTITIONS_START_ENV} must be a date as YYYY-MM-DD, got {value!r}"
                ) from error
        return value

    @field_validator("step_processes", mode="before")
    @classmethod
    def _whole_number(cls, value: object) -> object:
        text = str(value)
        # More step processes than MAX_STEP_PROCESSES on one machine only thrash; a typo like 1000 is caught.
        if not text.isdigit() or not 1 <= int(text) <= MAX_STEP_PROCESSES:
            raise ValueError(
                f"{STEP_PROCESSES_ENV} must be a whole number from 1 to {MAX_STEP_PROCESSES}, got {value!r}"
            )
        return int(text)

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, executor: str) -> str:
        if executor not in EXECUTORS:
            raise ValueError(f"{EXECUTOR_ENV} must be one of {', '.join(EXECUTORS)}, got {executor!r}")
        return executor

    @field_validator("celery_broker")
    @classmethod
    def _broker(cls, broker: str) -> str:
        _check_scheme(CELERY_BROKER_ENV, broker, _BROKER_SCHEMES)
        return broker

    @field_validator("celery_backend")
    @classmethod
    def _backend(cls, backend: str) -> str:
        _check_scheme(CELERY_BACKEND_ENV, backend, _BACKEND_SCHEMES)
        return backend

    @field_validator("celery_queue")
    @classmethod
    def _queue(cls, queue: str) -> str:
        if not all(c.isalnum() or c in "._-" for c in queue):
            raise ValueError(f"{CELERY_QUEUE_ENV} must be letters, digits, '.', '_' or '-', got {queue!r}")
        return queue

    @field_validator("alert_webhook_url")
    @classmethod
    def _webhook(cls, webhook: str | None) -> str | None:
        if webhook and not webhook.startswith(("http://", "https://")):
            raise ValueError(f"{ALERT_WEBHOOK_URL_ENV} must be an http:// or https:// URL, got {webhook!r}")
        return webhook

    @field_validator("alert_smtp_url")
    @classmethod
    def _smtp(cls, smtp: str | None) -> str | None:
        if smtp and not smtp.startswith(("smtp://", "smtps://")):
            raise ValueError(
                f"{ALERT_SMTP_URL_ENV} must be smtp://[user:password@]host[:port] or smtps://...,"
                f" got {smtp!r}"
            )
        return smtp

    @field_validator("alert_email_to", mode="before")
    @classmethod
    def _addresses(cls, value: object) -> object:
        to = tuple(a.strip() for a in value.split(",") if a.strip()) if isinstance(value, str) else value
        bad = [a for a in to if "@" not in a] if isinstance(to, tuple) else []
        if bad:
            raise ValueError(f"{ALERT_EMAIL_TO_ENV} must be comma-separated e-mail addresses, got {bad[0]!r}")
        return to

    @field_validator("dagster_url")
    @classmethod
    def _ui_url(cls, url: str) -> str:
        return url.rstrip("/")

    @field_validator("dagster_graphql_url")
    @classmethod
    def _graphql_url(cls, url: str) -> str:
        check_graphql_url(url)
        return url

    @model_validator(mode="after")
    def _smtp_has_recipients(self) -> "Settings":
        if self.alert_smtp_url and not self.alert_email_to:
            raise ValueError(
                f"{ALERT_EMAIL_TO_ENV} must name at least one address when {ALERT_SMTP_URL_ENV} is set"
            )
        return self


def check_graphql_url(url: str) -> None:
    """Dagster's GraphQL endpoint: an http(s) URL ending in /graphql (api.dagster_runs's client)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{DAGSTER_GRAPHQL_URL_ENV} must be an http(s) URL, got {url!r}")
    if not parts.path.rstrip("/").endswith("/graphql"):
        raise ValueError(f"{DAGSTER_GRAPHQL_URL_ENV} must end in /graphql, got {url!r}")


def _env_name(field: str | None) -> str:
    """The variable a field is read from (the error names that, not the field)."""
    info = Settings.model_fields[field] if field else None
    alias = info.validation_alias if info is not None else None
    return alias if isinstance(alias, str) else f"INTEREST_{(field or '').upper()}"


def _message(error: ValidationError) -> str:
    """Each refused value as our validators word it (pydantic keeps the ValueError in ctx)."""
    lines = []
    for detail in error.errors():
        raised = (detail.get("ctx") or {}).get("error")
        if isinstance(raised, ValueError):
            lines.append(str(raised))
        else:  # a type pydantic refused before our validators ran
            field = str(detail["loc"][0]) if detail["loc"] else None
            lines.append(f"{_env_name(field)}: {detail['msg']}, got {detail['input']!r}")
    return "; ".join(lines)


_loaded: Settings | None = None


def load_settings() -> Settings:
    """Read and check every INTEREST_* variable now: one SettingsError naming each bad variable
    and its value. cli.main calls it as a command starts, interest_pipeline.definitions as it
    builds the Definitions; the instance it makes is the one current_settings() returns after."""
    global _loaded
    try:
        _loaded = Settings()
    except ValidationError as error:
        raise SettingsError(_message(error)) from None
    return _loaded


def current_settings() -> Settings:
    """The instance load_settings made in this process; made now when nothing loaded it yet
    (a module used as a library, a test), so the environment is still read only once."""
    return _loaded if _loaded is not None else load_settings()


def forget_settings() -> None:
    """Drop the loaded instance, so the next current_settings() reads the environment again.

    For tests that change the environment between cases (the test suite's conftest calls it
    before each test); the product reads its settings once per process and never calls this.
    """
    global _loaded
    _loaded = None


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go (each channel optional) and the UI address the alerts link runs to."""

    webhook_url: str | None
    smtp_url: str | None
    email_to: tuple[str, ...]
    email_from: str
    dagster_url: str


def alert_settings(settings: Settings | None = None) -> AlertSettings:
    s = settings or current_settings()
    return AlertSettings(
        webhook_url=s.alert_webhook_url,
        smtp_url=s.alert_smtp_url,
        email_to=s.alert_email_to,
        email_from=s.alert_email_from,
        dagster_url=s.dagster_url,
    )


@dataclass(frozen=True)
class CelerySettings:
    broker: str
    backend: str
    # The queue runs send chunk steps to and `interest-pipeline worker` listens on by default.
    queue: str


def celery_settings(settings: Settings | None = None) -> CelerySettings:
    """The Celery broker, result backend and queue (checked when the settings were read)."""
    s = settings or current_settings()
    return CelerySettings(broker=s.celery_broker, backend=s.celery_backend, queue=s.celery_queue)


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
    settings = settings or current_settings()
    return sqlalchemy_url(_embedded_server_url(settings.home / "pgdata"))


@cache
def _embedded_database(server: str, database: str) -> str:
    """`database` on the embedded server, created once per process."""
    from interest_pipeline.db.admin import ensure_database  # db.admin builds on this module

    url = with_database(server, database)
    ensure_database(url)
    return url.render_as_string(hide_password=False)


def database_url(settings: Settings | None = None) -> URL:
    """The application database; starts the embedded server when no URL is configured.

    The embedded one's URL is written into the environment, so the processes this one starts
    (step processes, workers, Dagster's) read it as their INTEREST_DATABASE_URL and reuse the server.
    """
    settings = settings or current_settings()
    if settings.database_url:
        return sqlalchemy_url(settings.database_url)
    server = embedded_server_url(settings).render_as_string(hide_password=False)
    url = _embedded_database(server, EMBEDDED_DATABASE)
    os.environ[DATABASE_URL_ENV] = url
    return sqlalchemy_url(url)


def dagster_database_url(settings: Settings | None = None) -> URL:
    """Dagster's instance storage: its own database on the same server unless configured.

    Kept apart from the application database because Dagster runs its own Alembic
    migrations and tables there.
    """
    settings = settings or current_settings()
    if settings.dagster_database_url:
        return sqlalchemy_url(settings.dagster_database_url, "psycopg2")
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
    settings = settings or current_settings()
    # Written for Dagster's processes, which read dagster.yaml (and so this variable) themselves.
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
