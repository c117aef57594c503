"""The Shopify emulator: one shop with one app installed, its state in memory, every method thread-safe.

Settings are the behaviours `../shared/contracts/storefronts.md` §1 leaves open ([U]) or that differ by
shop (plan, currency); defaults are what the contract says a Standard shop does today.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import timedelta, timezone
from typing import Any

from dropbridge.sandbox.kit import Emulator

from .app import DATED_VERSION, build_app
from .auth import TokensMixin
from .catalog import CatalogMixin
from .collections import CollectionsMixin
from .executor import GraphQLMixin
from .inventory import InventoryMixin
from .metafields import MetafieldsMixin
from .orders import OrdersMixin
from .throttle import ThrottleMixin
from .values import gid
from .webhooks import WebhooksMixin

# §1.1: shopify-app-js lists 2025-01 ... 2026-04 and unstable.
API_VERSIONS = ("2025-01", "2025-04", "2025-07", "2025-10", "2026-01", "2026-04", "unstable")
# §1.2: 8 retries over 4 hours, exponential.
REAL_RETRY_DELAYS = (60, 120, 240, 480, 960, 1920, 3840, 7680)


class ShopifyEmulator(TokensMixin, ThrottleMixin, GraphQLMixin, CatalogMixin, CollectionsMixin, MetafieldsMixin,
                      InventoryMixin, OrdersMixin, WebhooksMixin, Emulator):
    name = "shopify"

    def __init__(
        self,
        shop: str = "demo",
        api_version: str = "2026-01",
        *,
        api_versions: tuple[str, ...] = API_VERSIONS,
        fall_forward: bool = True,  # [U] a retired version is served as the oldest supported one
        client_id: str = "emu-client-id",
        client_secret: str = "emu-client-secret",
        static_tokens: list[str] | tuple[str, ...] = ("shpat_static_emulator_token",),
        token_lifetime: float = 86399.0,  # [S] 24 h
        report_expires_in: bool = True,  # [U] whether expires_in is in the grant response
        scopes: str = "read_products,write_products,read_orders,write_inventory,read_inventory,"
        "write_merchant_managed_fulfillment_orders,read_merchant_managed_fulfillment_orders",
        bucket_size: float = 2000.0,  # §1.6 [S]: Standard shops now report 2000/100 (older docs: 1000/50)
        restore_rate: float = 100.0,
        max_query_cost: int = 1000,  # §1.6 [V]
        throttle_status: int = 200,  # §1.6 [S] 200 usual; some report 429
        max_array: int = 250,  # [U] binding for inventorySetQuantities.quantities
        max_page: int = 250,  # [U] cap on first/last
        require_idempotency: bool | None = None,  # None: by version (mandatory from 2026-04, §1.3)
        inventory_all_or_nothing: bool = True,  # [U]
        stock_new_items_at_primary: bool = True,  # [U] new variants stocked at the primary location
        currency: str = "USD",
        shop_utc_offset_minutes: int = -300,  # order REST timestamps carry the shop's offset
        shop_timezone: str = "America/New_York",
        webhook_retry_delays: tuple[float, ...] = REAL_RETRY_DELAYS,
        webhook_timeout: float = 5.0,  # §1.2 [S]: 1 s connect, 5 s in all
        webhook_duplicates: int = 0,  # extra identical deliveries of each (subscription, event)
        webhook_id_stable_across_retries: bool = True,  # §1.2 [U]
        clock: Callable[[], float] = time.time,
        first_id: int = 1001,  # a real shop never reuses ids; a restarted emulator can start past old ones
        name: str | None = None,
    ):
        if name:
            self.name = name
        super().__init__(webhook_retry_delays=tuple(webhook_retry_delays), webhook_timeout=webhook_timeout)
        self.first_id = first_id
        self.shop = shop
        self.shop_id = 548380009 + first_id  # a stable id per emulated shop
        self.domain = f"{shop}.myshopify.com"
        self.api_version = api_version
        self.api_versions = tuple(dict.fromkeys((*api_versions, api_version)))
        self.fall_forward = fall_forward
        self.request_version = api_version
        self.client_id = client_id
        self.client_secret = client_secret
        self.static_tokens = set(static_tokens)
        self.token_lifetime = token_lifetime
        self.report_expires_in = report_expires_in
        self.scopes = scopes
        self.bucket_size = float(bucket_size)
        self.restore_rate = float(restore_rate)
        self.max_query_cost = max_query_cost
        self.throttle_status = throttle_status
        self.max_array = max_array
        self.max_page = max_page
        self.require_idempotency = require_idempotency
        self.inventory_all_or_nothing = inventory_all_or_nothing
        self.stock_new_items_at_primary = stock_new_items_at_primary
        self.currency = currency
        self.shop_tz = timezone(timedelta(minutes=shop_utc_offset_minutes))
        self.shop_timezone = shop_timezone
        self.webhook_retry_delays = tuple(webhook_retry_delays)
        self.webhook_timeout = webhook_timeout
        self.webhook_duplicates = webhook_duplicates
        self.webhook_id_stable_across_retries = webhook_id_stable_across_retries
        self.clock = clock
        self._lock = self.lock
        self.reset()
        self.app = build_app(self)

    def reset(self) -> None:
        with self._lock:
            self._ids = itertools.count(self.first_id)
            self._order_numbers = itertools.count(1001)
            self.tokens: dict[str, float] = {}  # token -> expires at (clock)
            self.products: dict[str, dict[str, Any]] = {}
            self.variants: dict[str, dict[str, Any]] = {}
            self.items: dict[str, dict[str, Any]] = {}  # inventory items
            self.metafields: dict[tuple[str, str, str], dict[str, Any]] = {}  # (owner, namespace, key)
            self.collections: dict[str, dict[str, Any]] = {}
            self.primary_location = gid("Location", 124656943)
            self.locations: dict[str, dict[str, Any]] = {}
            self.add_location("Warehouse", self.primary_location)
            self.orders: dict[str, dict[str, Any]] = {}  # gid -> REST-shaped order
            self.fulfillment_orders: dict[str, dict[str, Any]] = {}
            self.fulfillments: dict[str, dict[str, Any]] = {}
            self.subscriptions: dict[str, dict[str, Any]] = {}
            self.operations: dict[str, dict[str, Any]] = {}
            self.adjustment_groups: list[dict[str, Any]] = []
            self.idempotency: dict[str, tuple[str, dict[str, Any]]] = {}
            self._bucket = self.bucket_size
            self._bucket_at = time.monotonic()
            self._forced_throttles = 0
            self._forced_faults: list[int] = []
            self.stats = {"calls": 0, "throttled": 0, "faults": 0, "unauthorized": 0, "token_grants": 0}
            self.call_log: list[dict[str, Any]] = []
            self.sender.clear()

    def _new_id(self) -> int:
        return next(self._ids)

    def served_version(self, requested: str) -> str | None:
        """The API version a request to `requested` is answered in, or None (404)."""
        if requested in self.api_versions:
            return requested
        dated = sorted(v for v in self.api_versions if DATED_VERSION.match(v))
        if self.fall_forward and DATED_VERSION.match(requested) and dated and requested < dated[0]:
            return dated[0]
        return None

    # ---- what the kit's controls and dropbridge need -----------------------------------------------

    def api_calls(self) -> int:
        with self._lock:
            return self.stats["calls"]

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        return self.deliveries

    def connection(self) -> dict[str, Any]:
        """What `dropbridge store add NAME --platform shopify` takes (connectors/stores/shopify from_config):
        the app's client credentials (tokens by the client-credentials grant; the client secret also
        verifies webhooks) and the API version, location and shop domain."""
        return {"name": self.name, "base_url": self.url,
                "credentials": {"client_id": self.client_id, "client_secret": self.client_secret},
                "config": {"api_version": self.api_version,
                           "location_id": self.primary_location, "shop_domain": self.domain}}
