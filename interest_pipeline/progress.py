"""Progress of long commands: a rich bar on an interactive terminal, plain lines otherwise.

A CI log or a redirected output gets one plain line per finished unit (a date's run), each saying
how far along it is, the chunks and accounts per second of that run and the time left; a person at
a terminal gets a live bar with the same figures, and the same summary lines printed above it.
"""

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn


def is_interactive(stream: IO[str]) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


def _left(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


@dataclass
class Tracker:
    """Counts finished units against a total; `done(line, accounts, chunks)` after each."""

    total: int
    label: str
    stream: IO[str]
    interactive: bool
    started: float = field(default_factory=time.monotonic)
    finished: int = 0
    accounts: int = 0
    _bar: Progress | None = None
    _task: TaskID | None = None

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.accounts / elapsed if elapsed > 0 else 0.0

    def time_left(self) -> float:
        if self.finished == 0:
            return 0.0
        return (time.monotonic() - self.started) / self.finished * (self.total - self.finished)

    def done(self, line: str, *, accounts: int = 0, chunks: int = 0, advance: int = 1) -> None:
        """One unit finished: print its line (plain: with the progress figures) and move the bar."""
        self.finished += advance
        self.accounts += accounts
        figures = (
            f"{chunks} chunk(s), {self.rate():,.0f} accounts/s, {_left(self.time_left())} left"
            if chunks or accounts
            else f"{_left(self.time_left())} left"
        )
        if self._bar is not None and self._task is not None:
            self._bar.console.print(line, highlight=False, markup=False, soft_wrap=True)
            self._bar.update(self._task, completed=self.finished, figures=figures)
        else:
            print(f"[{self.finished}/{self.total}] {line}; {figures}", file=self.stream, flush=True)


@contextmanager
def track(total: int, label: str, stream: IO[str] | None = None) -> Iterator[Tracker]:
    """A tracker for `total` units; a live rich bar when `stream` (default stdout) is a terminal."""
    out = stream or sys.stdout
    tracker = Tracker(total=total, label=label, stream=out, interactive=is_interactive(out))
    if not tracker.interactive:
        yield tracker
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[figures]}"),
        TimeRemainingColumn(),
        console=Console(file=out, force_terminal=True),
        transient=False,
    )
    with bar:
        tracker._bar = bar
        tracker._task = bar.add_task(label, total=total, figures="")
        yield tracker


class CountProgress:
    """For work counted in units (rows written): plain lines at each tenth, or the rich bar."""

    def __init__(self, tracker: Tracker, unit: str) -> None:
        self.tracker = tracker
        self.unit = unit
        self.count = 0
        self._next_tenth = 1

    def update(self, n: int) -> None:
        self.count += n
        t = self.tracker
        if t._bar is not None and t._task is not None:
            t.finished = self.count
            t._bar.update(t._task, completed=self.count, figures=f"{self.count:,} {self.unit}")
            return
        while t.total and self.count * 10 >= self._next_tenth * t.total and self._next_tenth <= 10:
            elapsed = time.monotonic() - t.started
            rate = self.count / elapsed if elapsed > 0 else 0.0
            left = elapsed / self.count * (t.total - self.count) if self.count else 0.0
            print(
                f"{t.label}: {self.count:,}/{t.total:,} {self.unit} ({self._next_tenth * 10} %),"
                f" {rate:,.0f} {self.unit}/s, {_left(left)} left",
                file=t.stream,
                flush=True,
            )
            self._next_tenth += 1
