"""Delivery windows: how many calendar days from placing a supplier order until the parcel arrives.

The supplier's lead time (placed -> shipped) plus transit to the destination. Once a supplier has shipped
MIN_MEASURED orders its measured lead time counts (the median for the early bound, the 90th percentile for
the late one, each rounded up to whole days); before that the configured `lead_time_days`, for both bounds.
Transit comes from the supplier's `transit_days` config ({"US": [3, 6], "*": [7, 14]}): the destination's
entry, else "*", else DEFAULT_TRANSIT_DAYS. Days are calendar days: suppliers and carriers do not share one
business calendar."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

DEFAULT_TRANSIT_DAYS = (5, 10)
DEFAULT_LEAD_TIME_DAYS = 7  # a supplier that states none (as the late-order alert assumes)
MIN_MEASURED = 3
ANY = "*"
_DAY = 86400


@dataclass(frozen=True)
class Measured:
    """A supplier's measured lead time: shipped orders counted, median and 90th percentile in seconds."""

    shipped: int
    median_seconds: float
    p90_seconds: float


@dataclass(frozen=True)
class Window:
    earliest_days: int
    latest_days: int
    basis: str  # "measured" | "configured"

    def dates(self, start: date) -> tuple[date, date]:
        return start + timedelta(days=self.earliest_days), start + timedelta(days=self.latest_days)


def _ceil_days(seconds: float) -> int:
    return -(-int(seconds) // _DAY)


def transit_for(transit: Mapping[str, Sequence[int]] | None, country: str | None) -> tuple[int, int]:
    """(min, max) transit days to `country` (None or "*": the default destination)."""
    table = transit or {}
    found = table.get(country) if country else None
    if found is None:
        found = table.get(ANY, DEFAULT_TRANSIT_DAYS)
    return int(found[0]), int(found[1])


def delivery_window(*, configured_days: int | None, measured: Measured | None,
                    transit: Mapping[str, Sequence[int]] | None, country: str | None) -> Window:
    low, high = transit_for(transit, country)
    if measured is not None and measured.shipped >= MIN_MEASURED:
        lead_low, lead_high = _ceil_days(measured.median_seconds), _ceil_days(measured.p90_seconds)
        basis = "measured"
    else:
        lead_low = lead_high = DEFAULT_LEAD_TIME_DAYS if configured_days is None else int(configured_days)
        basis = "configured"
    return Window(lead_low + low, max(lead_high, lead_low) + high, basis)
