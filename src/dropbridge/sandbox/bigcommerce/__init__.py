"""Emulator of the BigCommerce REST API (v2 Orders, v3 Catalog/Inventory/Webhooks), per
`../shared/contracts/storefronts.md` §3.

Modules: `gate` (quota and auth), `catalog` (products, variants), `inventory` (locations, adjustments),
`orders` (v2 orders, shipments), `webhooks` (hooks and deliveries), `errors` (v2 and v3 envelopes), `app`
(routes and controls), `emulator` (settings and state).
"""

from .emulator import BigCommerceEmulator
from .orders import STATUSES
from .webhooks import REAL_RETRY_INTERVALS, sign

__all__ = ["REAL_RETRY_INTERVALS", "STATUSES", "BigCommerceEmulator", "sign"]
