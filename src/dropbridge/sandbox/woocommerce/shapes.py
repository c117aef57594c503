"""Small shared pieces of WooCommerce's JSON: dates, money strings, price HTML."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal


def now() -> datetime:
    return datetime.now(UTC)


def wp_date(dt: datetime | None) -> str | None:
    """WordPress dates carry no offset (§2.2); `*_gmt` ones are UTC, and this site's timezone is UTC."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S") if dt else None


def money(value: Decimal) -> str:
    return f"{value:.2f}"  # §2.2: totals are strings with 2 decimals


def html_price(price: str, symbol: str) -> str:
    if not price:
        return ""
    amount = f"{Decimal(price):.2f}"
    return (f'<span class="woocommerce-Price-amount amount"><bdi><span class="woocommerce-Price-currencySymbol">'
            f"{symbol}</span>{amount}</bdi></span>")
