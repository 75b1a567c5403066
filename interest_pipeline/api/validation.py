"""Input checks at the edge: every mutation and paged query is validated before it reads or writes.

Each check raises one BadUserInput naming the field at fault, so a refused request changes nothing.
"""

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from dagster._utils.schedules import is_valid_cron_string

from interest_pipeline.api.errors import BadUserInput
from interest_pipeline.batch.config import ACCOUNT_TYPES, MAX_BATCH_SIZE
from interest_pipeline.db.models import EXECUTION_STATUSES, JOB_TYPES, RESULT_STATUSES

MAX_PARALLEL_THREADS = 64
MAX_RETRIES = 100
MAX_RETRY_INTERVAL_SECONDS = 86_400
MAX_TIMEOUT_SECONDS = 7 * 86_400
MAX_NAME_LENGTH = 100
DEFAULT_LIMIT = 20
MAX_LIMIT = 500
LOGGING_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# A config row's custom parameters, and what each must be. The two flags are the ones the jobs read
# (batch/config.py); logging_level sets the run's console log level.
CONFIG_PARAMETERS = ("include_dormant_accounts", "process_failed_accounts_first", "logging_level")


def job_type(value: str | None, field: str) -> str:
    if value not in JOB_TYPES:
        raise BadUserInput(f"unknown job type {value!r} (known: {', '.join(JOB_TYPES)})", field)
    return value


def optional_job_type(value: str | None, field: str) -> str | None:
    return None if value is None else job_type(value, field)


def status(value: str | None, allowed: Sequence[str], field: str) -> str | None:
    if value is not None and value not in allowed:
        raise BadUserInput(f"unknown status {value!r} (known: {', '.join(allowed)})", field)
    return value


def execution_status(value: str | None, field: str) -> str | None:
    return status(value, EXECUTION_STATUSES, field)


def result_status(value: str | None, field: str) -> str | None:
    return status(value, RESULT_STATUSES, field)


def iso_date(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise BadUserInput(f"{value!r} is not a date (YYYY-MM-DD)", field) from None


def page(limit: int | None, offset: int | None, field: str) -> tuple[int, int]:
    limit = DEFAULT_LIMIT if limit is None else limit
    offset = 0 if offset is None else offset
    if not 1 <= limit <= MAX_LIMIT:
        raise BadUserInput(f"limit must be between 1 and {MAX_LIMIT}, got {limit}", f"{field}.limit")
    if offset < 0:
        raise BadUserInput(f"offset must be >= 0, got {offset}", f"{field}.offset")
    return limit, offset


def positive_id(value: Any, field: str, what: str = "id") -> int:
    """An integer id given as a GraphQL ID or string ("42")."""
    text = str(value).strip() if value is not None else ""
    if not text.isdigit() or int(text) <= 0 or len(text) > 18:
        raise BadUserInput(f"{what} must be a positive whole number, got {value!r}", field)
    return int(text)


def account_ids(values: Sequence[Any] | None, field: str, limit: int) -> list[int] | None:
    if values is None:
        return None
    if not values:
        raise BadUserInput("accountIds must not be empty (leave it out to process every account)", field)
    if len(values) > limit:
        raise BadUserInput(f"at most {limit} account ids, got {len(values)}", field)
    return sorted({positive_id(v, field, "an account id") for v in values})


def in_range(value: int | None, low: int, high: int, field: str) -> int | None:
    if value is not None and not low <= value <= high:
        raise BadUserInput(f"must be between {low:,} and {high:,}, got {value:,}", field)
    return value


def cron(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if len(value.split()) != 5 or not is_valid_cron_string(value):
        raise BadUserInput(f"{value!r} is not a valid 5-field cron expression", field)
    return " ".join(value.split())


def account_types(values: Sequence[str] | None, field: str) -> list[str] | None:
    if values is None:
        return None
    unknown = sorted({v for v in values if v not in ACCOUNT_TYPES})
    if unknown:
        raise BadUserInput(
            f"unknown account type(s) {', '.join(map(repr, unknown))} (known: {', '.join(ACCOUNT_TYPES)})",
            field,
        )
    if not values:
        raise BadUserInput("accountTypes must name at least one account type", field)
    return [t for t in ACCOUNT_TYPES if t in values]


def name(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not value.strip() or len(value) > MAX_NAME_LENGTH:
        raise BadUserInput(f"a name must be 1 to {MAX_NAME_LENGTH} characters, not blank", field)
    return value.strip()


def _flag(key: str, value: Any, field: str) -> None:
    if not isinstance(value, bool):
        raise BadUserInput(f"{key} must be true or false, got {value!r}", f"{field}.{key}")


def _known_keys(values: Any, known: tuple[str, ...], field: str) -> None:
    """A parameters object (a mapping) of the known keys only."""
    if not isinstance(values, Mapping):
        raise BadUserInput("parameters must be an object", field)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise BadUserInput(f"unknown parameter(s) {', '.join(unknown)} (known: {', '.join(known)})", field)


def config_parameters(values: Any, field: str) -> dict[str, Any] | None:
    """A config row's parameters: known keys only, each of its type; null removes a key on update."""
    if values is None:
        return None
    _known_keys(values, CONFIG_PARAMETERS, field)
    for key, value in values.items():
        if value is None:
            continue
        if key == "logging_level":
            if value not in LOGGING_LEVELS:
                raise BadUserInput(
                    f"logging_level must be one of {', '.join(LOGGING_LEVELS)}", f"{field}.{key}"
                )
        else:
            _flag(key, value, field)
    return dict(values)


# A triggered run's parameters: the config row's keys, and the per-run overrides the jobs accept.
RUN_PARAMETERS = (*CONFIG_PARAMETERS, "batch_size", "account_types")


def run_parameters(values: Any, field: str) -> dict[str, Any]:
    if values is None:
        return {}
    _known_keys(values, RUN_PARAMETERS, field)
    checked = config_parameters({k: v for k, v in values.items() if k in CONFIG_PARAMETERS}, field) or {}
    if "batch_size" in values:
        size = values["batch_size"]
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_BATCH_SIZE:
            raise BadUserInput(
                f"batch_size must be a whole number from 1 to {MAX_BATCH_SIZE:,}", f"{field}.batch_size"
            )
        checked["batch_size"] = size
    if "account_types" in values:
        types = values["account_types"]
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise BadUserInput("account_types must be a list of account types", f"{field}.account_types")
        checked["account_types"] = account_types(types, f"{field}.account_types")
    return {k: v for k, v in checked.items() if v is not None}
