"""The notifier resource: what an alert says, the interface, and the channels behind it.

Both channels are optional (settings: INTEREST_ALERT_WEBHOOK_URL, INTEREST_ALERT_SMTP_URL with
INTEREST_ALERT_EMAIL_TO). A channel that fails is logged and never fails the run or the sensor:
an alert is about the run, not part of it.
"""

import json
import logging
import smtplib
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import dagster as dg

from interest_pipeline.settings import alert_settings

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Alert:
    """A run's end as the webhook's JSON body and the e-mail's text show it; amounts as strings."""

    job: str
    business_date: str
    status: str
    run_id: str
    run_url: str
    accounts_processed: int
    accounts_succeeded: int
    accounts_skipped: int
    accounts_failed: int
    accounts_blocked: int
    totals_by_currency: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    # The execution alerted on: the run id for a single-date run, a derived one for a date of a
    # ranged run (batch.executions.ranged_execution_id).
    execution_id: str | None = None

    def subject(self) -> str:
        return f"[interest-pipeline] {self.job} {self.business_date} {self.status}"

    def body(self) -> str:
        lines = [
            f"{self.job} for {self.business_date} ended {self.status}.",
            f"accounts: {self.accounts_processed} processed, {self.accounts_succeeded} succeeded, "
            f"{self.accounts_skipped} skipped, {self.accounts_failed} failed, "
            f"{self.accounts_blocked} blocked",
            f"totals: {json.dumps(self.totals_by_currency, sort_keys=True)}",
        ]
        if self.error:
            lines.append(f"error: {self.error}")
        lines.append(f"run: {self.run_url}")
        return "\n".join(lines) + "\n"


class Channel(ABC):
    @abstractmethod
    def send(self, alert: Alert) -> None: ...


class WebhookChannel(Channel):
    """POSTs the alert as JSON."""

    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, alert: Alert) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(asdict(alert)).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            response.read()


class SmtpChannel(Channel):
    """Sends the alert as a plain-text e-mail; smtp://[user:password@]host[:port]."""

    def __init__(self, url: str, to: list[str], sender: str) -> None:
        self.url, self.to, self.sender = url, to, sender

    def send(self, alert: Alert) -> None:
        parts = urlsplit(self.url)
        message = EmailMessage()
        message["Subject"] = alert.subject()
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message.set_content(alert.body())
        smtp_class = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        with smtp_class(parts.hostname or "localhost", parts.port or 0, timeout=TIMEOUT_SECONDS) as smtp:
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(message)


class NotifierResource(dg.ConfigurableResource, ABC):  # type: ignore[type-arg]
    """Where alerts go; `notify` never raises."""

    @abstractmethod
    def channels(self) -> list[Channel]: ...

    def notify(self, alert: Alert) -> int:
        """Send to every channel; returns how many took it. A failing channel is logged only."""
        sent = 0
        for channel in self.channels():
            try:
                channel.send(alert)
                sent += 1
            except Exception:
                log.exception("alert for run %s not sent through %s", alert.run_id, type(channel).__name__)
        return sent


class SettingsNotifierResource(NotifierResource):
    """The channels the settings configure (INTEREST_ALERT_*; none: alerts are only logged)."""

    def channels(self) -> list[Channel]:
        settings = alert_settings()
        channels: list[Channel] = []
        if settings.webhook_url:
            channels.append(WebhookChannel(settings.webhook_url))
        if settings.smtp_url and settings.email_to:
            channels.append(SmtpChannel(settings.smtp_url, list(settings.email_to), settings.email_from))
        return channels
