"""The notifier's fake: keeps the alerts instead of sending them."""

from typing import ClassVar

from interest_pipeline.alerts.notifier import Alert, Channel, NotifierResource


class _Recorder(Channel):
    def __init__(self, sink: list[Alert]) -> None:
        self.sink = sink

    def send(self, alert: Alert) -> None:
        self.sink.append(alert)


class RecordingNotifier(NotifierResource):
    """Every alert it is given, in order, in `RecordingNotifier.sent` (shared: resources are copied)."""

    sent: ClassVar[list[Alert]] = []

    def channels(self) -> list[Channel]:
        return [_Recorder(RecordingNotifier.sent)]
