"""Shipping rates and selling regions (contract 1.6). Printful's real rates vary by product and date; these are
the emulator's own table (a setting), in USD, converted at fixed demo rates when another currency is asked."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

EU = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "DE", "GR", "HU", "IE", "LT", "LU", "MT", "NL", "PL",
      "PT", "RO", "SK", "SI", "SE"}
SOUTHEAST_ASIA = {"SG", "MY", "TH", "ID", "PH", "VN"}
REGION_BY_COUNTRY = {"US": "north_america", "CA": "canada", "GB": "uk", "ES": "spain", "FR": "france", "IT": "italy",
                     "LV": "latvia", "AU": "australia", "JP": "japan", "NZ": "new_zealand", "BR": "brazil",
                     "KR": "republic_of_korea"}
# Demo exchange rates from USD (an emulator setting, not market data).
FX = {"USD": Decimal("1"), "EUR": Decimal("0.92"), "GBP": Decimal("0.79"), "CAD": Decimal("1.36"),
      "AUD": Decimal("1.52")}


def region_of(country: str) -> str:
    country = country.upper()
    if country in REGION_BY_COUNTRY:
        return REGION_BY_COUNTRY[country]
    if country in EU:
        return "europe"
    if country in SOUTHEAST_ASIA:
        return "southeast_asia"
    return "worldwide"


@dataclass(frozen=True)
class Method:
    id: str
    name: str
    first: Decimal  # the first item
    additional: Decimal  # each further item
    min_days: int
    max_days: int


RATES = {
    "US": (Method("STANDARD", "Flat Rate (Estimated delivery: 3-5 business days)", Decimal("4.75"), Decimal("2.20"), 3,
                  5),
           Method("EXPRESS", "Express (Estimated delivery: 1-2 business days)", Decimal("12.49"), Decimal("3.00"), 1,
                  2)),
    "CA": (Method("STANDARD", "Flat Rate (Estimated delivery: 5-8 business days)", Decimal("8.99"), Decimal("2.50"), 5,
                  8),),
    "*": (Method("STANDARD", "Flat Rate (Estimated delivery: 5-10 business days)", Decimal("6.49"), Decimal("2.00"), 5,
                 10),
          Method("EXPRESS", "Express (Estimated delivery: 2-4 business days)", Decimal("16.99"), Decimal("4.00"), 2,
                 4)),
}


def methods(country: str) -> tuple[Method, ...]:
    return RATES.get(country.upper(), RATES["*"])


def rate(method: Method, items: int, currency: str = "USD") -> Decimal:
    usd = method.first + method.additional * max(0, items - 1)
    return (usd * FX[currency]).quantize(Decimal("0.01"))
