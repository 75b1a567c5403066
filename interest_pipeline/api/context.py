"""What every resolver gets: the caller, the database, Dagster, and the business calendar."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from interest_pipeline.api.auth import Principal
from interest_pipeline.api.dagster_runs import DagsterRuns
from interest_pipeline.api.errors import Forbidden
from interest_pipeline.settings import Settings, current_settings


@dataclass(frozen=True)
class ApiContext:
    principal: Principal
    engine: Engine
    dagster: DagsterRuns
    settings: Settings = field(default_factory=current_settings)
    # How long a cancel waits for Dagster to report the terminated run before closing its execution.
    cancel_wait_seconds: float = 60.0

    def require_admin(self) -> Principal:
        if not self.principal.is_admin:
            raise Forbidden(f"{self.principal.name} has role {self.principal.role!r}: mutations need 'admin'")
        return self.principal

    def today(self) -> date:
        """Today in the business timezone."""
        return datetime.now(ZoneInfo(self.settings.business_timezone)).date()

    def last_finished_business_date(self) -> date:
        return self.today() - timedelta(days=1)

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """[start, end) of a business day, as UTC instants."""
        zone = ZoneInfo(self.settings.business_timezone)
        start = datetime.combine(day, time(), zone)
        end = datetime.combine(day + timedelta(days=1), time(), zone)
        return start.astimezone(UTC), end.astimezone(UTC)
