"""Delivery windows from the configured or measured lead time plus transit to a destination."""

from __future__ import annotations

from datetime import date

from dropbridge.domain.delivery import DEFAULT_TRANSIT_DAYS, Measured, delivery_window, transit_for

DAY = 86400
TRANSIT = {"US": [3, 6], "*": [7, 14]}


def test_configured_days_for_both_bounds_until_enough_orders_shipped():
    w = delivery_window(configured_days=4, measured=Measured(2, DAY, 9 * DAY), transit=TRANSIT, country="US")
    assert (w.earliest_days, w.latest_days, w.basis) == (7, 10, "configured")
    assert w.dates(date(2025, 3, 1)) == (date(2025, 3, 8), date(2025, 3, 11))
    assert delivery_window(configured_days=None, measured=None, transit=None, country=None).basis == "configured"


def test_measured_median_for_the_early_bound_p90_for_the_late_one_rounded_up():
    w = delivery_window(configured_days=4, measured=Measured(3, 1.5 * DAY, 5 * DAY + 1), transit=TRANSIT,
                        country="US")
    assert (w.earliest_days, w.latest_days, w.basis) == (2 + 3, 6 + 6, "measured")


def test_destination_falls_back_to_star_then_to_the_default():
    assert transit_for(TRANSIT, "DE") == (7, 14)
    assert transit_for(TRANSIT, None) == (7, 14)
    assert transit_for({"US": [3, 6]}, "DE") == DEFAULT_TRANSIT_DAYS
    assert transit_for(None, "US") == DEFAULT_TRANSIT_DAYS
    w = delivery_window(configured_days=0, measured=None, transit=TRANSIT, country="FR")
    assert (w.earliest_days, w.latest_days) == (7, 14)
