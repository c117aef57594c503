"""Emulator of the WooCommerce REST API v3 (`/wp-json/wc/v3`), per `../shared/contracts/storefronts.md` §2.

Modules: `auth` (Basic and query keys over TLS, OAuth 1.0a signatures), `catalog` (products and
variations), `orders` (orders, notes, shipment tracking), `webhooks` (subscriptions and deliveries),
`paging`, `errors` (the envelope), `app` (routes and controls), `emulator` (settings and state).
"""

from .auth import ApiKey
from .emulator import WooCommerceEmulator
from .orders import TRACKING_META
from .webhooks import TOPICS, sign

__all__ = ["TOPICS", "TRACKING_META", "ApiKey", "WooCommerceEmulator", "sign"]
