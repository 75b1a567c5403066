"""The month in a picture: interest accrued per day and each posting date's gross, per currency.

One panel per currency (amounts of different currencies do not share a scale). The amounts are
converted to floats only here, as pixel positions on an axis; every figure printed anywhere stays
an exact Decimal.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a batch server

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import psycopg

from interest_pipeline.reporting import sql


def plot_month(conn: psycopg.Connection, first: date, last: date, out: Path, title: str) -> list[str]:
    """Write the PNG; returns the currencies drawn (one panel each)."""
    accrued: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for day, currency, amount in sql.daily_accrued(conn, first, last):
        accrued[currency].append((day, amount))
    gross: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for day, currency, amount in sql.posting_gross(conn, first, last):
        gross[currency].append((day, amount))
    currencies = sorted(set(accrued) | set(gross))
    panels = max(len(currencies), 1)
    figure, axes = plt.subplots(panels, 1, figsize=(10, 2.6 * panels), sharex=True, squeeze=False)
    for ax, currency in zip(axes[:, 0], currencies, strict=False):
        days = [d for d, _ in accrued[currency]]
        ax.plot(days, [float(a) for _, a in accrued[currency]], marker=".", color="tab:blue")
        ax.set_ylabel(f"{currency} accrued / day", color="tab:blue")
        ax.grid(True, alpha=0.3)
        if gross[currency]:
            twin = ax.twinx()
            twin.bar(
                [d for d, _ in gross[currency]],
                [float(g) for _, g in gross[currency]],
                width=0.8,
                color="tab:orange",
                alpha=0.6,
            )
            twin.set_ylabel(f"{currency} posted gross", color="tab:orange")
            # the daily line in front of the posting bars
            ax.set_zorder(twin.get_zorder() + 1)
            ax.patch.set_visible(False)
            # the largest posting (the month end's, usually) is labelled with its exact gross
            d, g = max(gross[currency], key=lambda point: point[1])
            twin.annotate(
                f"{g:f}",
                (mdates.date2num(d), float(g)),  # type: ignore[no-untyped-call]
                ha="right",
                va="bottom",
                fontsize=8,
            )
    if not currencies:
        axes[0, 0].text(0.5, 0.5, "no accruals or postings", ha="center", va="center")
    axes[-1, 0].xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))  # type: ignore[no-untyped-call]
    axes[-1, 0].set_xlim(first - timedelta(days=1), last + timedelta(days=1))  # type: ignore[arg-type]
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0, 1, 0.98))
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return currencies
