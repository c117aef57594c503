"""`AliExpressSupplier`: AliExpress dropshipping (the Open Platform's DS methods) behind our ports.

- Catalog and stock: ds.product.get for each product the merchant sells (config `product_ids`), for the
  configured ship-to country and currency, a page of products at a time, several in flight.
- Orders: ds.order.create with our reference as `out_order_id`. Its `sku_attr` and, unless routing chose one,
  the delivery method (ds.freight.query) are read first, for the order's own country; a failure of those
  reads is `NotSent` (nothing reached the order desk). Unpaid orders are `awaiting_payment`.
- Whether an earlier attempt landed: AliExpress cannot be asked. trade.ds.order.get takes only AliExpress's own
  order id and returns nothing we sent (no out_order_id, no memo), and the DS API lists no buyer orders. So
  `find_order` answers CANNOT_KNOW: after an attempt whose outcome is unknown nothing is resent without the
  merchant's word. The merchant's resend is still safe for 24 h after the first attempt: AliExpress refuses a
  second order with the same out_order_id (REPEATED_ORDER_ERROR), which becomes AlreadyPlaced.
- Tracking: ds.order.tracking.get per AliExpress order; shipping quotes: ds.freight.query per item.
- There is no cancel API (cancel on the website) and the webhook signature is unverified: neither is offered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

import httpx

from dropbridge.connectors.kit import retry
from dropbridge.connectors.kit.budget import RateBudget
from dropbridge.domain.errors import (
    ConfigurationError,
    NotSent,
    OutOfStock,
    PermanentError,
    RateLimited,
    RetryableError,
    ValidationError,
)
from dropbridge.domain.money import Money
from dropbridge.services.ports import (
    CANNOT_KNOW,
    CannotKnow,
    ConnectorServices,
    OfferRow,
    Page,
    PlacedOrder,
    ShippingOption,
    ShippingQuoteRequest,
    SupplierOrderRequest,
    TrackingUpdate,
)

from . import mapping
from .auth import Tokens
from .client import IopClient
from .errors import TokenRejected

PRODUCT_GET = "aliexpress.ds.product.get"
FREIGHT_QUERY = "aliexpress.ds.freight.query"
ORDER_CREATE = "aliexpress.ds.order.create"
TRACKING_GET = "aliexpress.ds.order.tracking.get"
ORDER_GET = "aliexpress.trade.ds.order.get"
TOKEN_REFRESH = "/auth/token/refresh"

READS = retry.RetryPolicy(attempts=4, max_wait=30.0)
BEFORE_ORDER = retry.RetryPolicy(attempts=3, max_wait=10.0)  # reads an order waits on: short


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class AliExpressSupplier:
    kind = "aliexpress"

    def __init__(self, base_url: str, app_key: str, app_secret: str, access_token: str, *,
                 refresh_token: str | None = None, expires_at: datetime | None = None,
                 product_ids: list[str] | None = None, ship_to_country: str = "US", currency: str = "USD",
                 language: str = "en_US", shipping_method: str | None = None, auto_pay: bool = False,
                 pay_currency: str = "USD", products_per_page: int = 20, concurrency: int = 4,
                 rate_per_second: float = 50.0, timeout: float | httpx.Timeout | None = None,
                 transport: httpx.BaseTransport | None = None, clock: Callable[[], datetime] | None = None,
                 save_credentials: Callable[[dict], None] | None = None,
                 sleep: Callable[[float], None] | None = None):
        self._clock = clock or (lambda: datetime.now(UTC))
        account = "aliexpress:" + sha256(f"{base_url}|{app_key}".encode()).hexdigest()[:16]
        budget = RateBudget.for_account(account, rate_per_second, max(1.0, rate_per_second))
        self.client = IopClient(base_url, app_key, app_secret, budget=budget, timeout=timeout, transport=transport,
                                clock_ms=lambda: int(self._clock().timestamp() * 1000))
        self.tokens = Tokens(access_token, refresh_token, expires_at, renew=self._renew, clock=self._clock,
                             save=save_credentials)
        self.product_ids = list(product_ids or [])
        self.ship_to_country, self.currency, self.language = ship_to_country, currency, language
        self.shipping_method, self.auto_pay, self.pay_currency = shipping_method, auto_pay, pay_currency
        self.products_per_page, self.concurrency = products_per_page, concurrency
        self._sleep = sleep
        self._pool: ThreadPoolExecutor | None = None

    # ---- calls ---------------------------------------------------------------------------------------

    def _renew(self, refresh_token: str) -> mapping.TokenSet:
        body = self.client.post(TOKEN_REFRESH, {"refresh_token": refresh_token}, token=None,
                                what="aliexpress: renew the access token")
        return mapping.token_set(body, self._clock(), refresh_token)

    def _once(self, method: str, params: dict[str, Any], what: str) -> dict[str, Any]:
        token = self.tokens.current()
        try:
            return self.client.post(method, params, token=token, what=what)
        except TokenRejected:  # expired mid-run: the gateway refused before acting, so asking again is safe
            return self.client.post(method, params, token=self.tokens.renew(token), what=what)

    def _read(self, method: str, params: dict[str, Any], what: str,
              policy: retry.RetryPolicy = READS) -> dict[str, Any]:
        return retry.call(lambda: self._once(method, params, what), idempotent=True, policy=policy,
                          sleep=self._sleep)

    # ---- OfferSource -----------------------------------------------------------------------------------

    def fetch_offers(self, cursor: str | None = None) -> Page[OfferRow]:
        """A page of `products_per_page` products (all their SKUs); the cursor is the next product's index."""
        if not self.product_ids:
            raise ConfigurationError("aliexpress: no product_ids configured; `supplier add ... --config "
                                     "'{\"product_ids\": [...]}'` names the products to pull")
        try:
            start = int(cursor or 0)
        except ValueError:
            raise ValidationError(f"aliexpress catalog cursor {cursor!r} is not a product index", "cursor") from None
        chunk = self.product_ids[start:start + self.products_per_page]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="aliexpress")
        products = list(self._pool.map(lambda pid: self._product(pid, self.ship_to_country), chunk))
        rows = [row for product in products if product is not None
                for row in mapping.offer_rows(product, self.currency)]
        end = start + len(chunk)
        return Page(rows, str(end) if end < len(self.product_ids) else None)

    def _product(self, product_id: str, country: str,
                 policy: retry.RetryPolicy = READS) -> mapping.Product | None:
        body = self._read(PRODUCT_GET, {"product_id": product_id, "ship_to_country": country,
                                        "target_currency": self.currency, "target_language": self.language},
                          f"aliexpress: product {product_id}", policy)
        return mapping.product_from_body(body, product_id)

    # ---- ShippingQuoter --------------------------------------------------------------------------------

    def quote_shipping(self, request: ShippingQuoteRequest) -> list[ShippingOption]:
        """Methods that can carry every item to the destination, cheapest first, costs summed over items."""
        currency = request.currency or self.currency
        per_item = []
        for item in request.items:
            product_id, sku_id = mapping.split_sku(item.supplier_sku)
            per_item.append(self._freight(product_id, sku_id, item.quantity, request.country_code, currency,
                                          request.province_code))
        return mapping.combine_options(per_item)

    def _freight(self, product_id: str, sku_id: str, quantity: int, country: str, currency: str,
                 province: str = "", policy: retry.RetryPolicy = READS) -> list[ShippingOption]:
        req = mapping.freight_request(product_id, sku_id, quantity, country, currency, self.language, province)
        body = self._read(FREIGHT_QUERY, {"queryDeliveryReq": _json(req)},
                          f"aliexpress: freight of {product_id}:{sku_id} to {country}", policy)
        return mapping.freight_options(body, currency)

    # ---- OrderDesk -------------------------------------------------------------------------------------

    def place_order(self, request: SupplierOrderRequest) -> PlacedOrder:
        try:
            items, shipping = self._order_items(request)
        except PermanentError:
            raise  # refused before anything was sent: re-routed as any refusal is
        except RateLimited:
            raise
        except RetryableError as exc:
            raise NotSent(f"aliexpress: {request.reference} not sent: {exc}", status=exc.status,
                          retry_after=exc.retry_after) from exc
        params = mapping.order_params(request.reference, request.ship_to, items, auto_pay=self.auto_pay,
                                      pay_currency=self.pay_currency)
        body = self._once(ORDER_CREATE, {k: _json(v) for k, v in params.items()},
                          f"aliexpress: create order {request.reference}")
        return mapping.placed_order(body, request.reference, auto_pay=self.auto_pay, shipping_cost=shipping)

    def _order_items(self, request: SupplierOrderRequest) -> tuple[list[mapping.OrderItem], Money | None]:
        """Each line as AliExpress takes it: `sku_attr` and stock for the order's country, and a delivery
        method (routing's, the configured one, else the cheapest the freight query offers)."""
        country = request.ship_to.country_code.upper()
        wanted: dict[str, int] = {}
        for item in request.items:
            wanted[item.supplier_sku] = wanted.get(item.supplier_sku, 0) + item.quantity
        products: dict[str, mapping.Product | None] = {}
        items, costs = [], []
        for sku, quantity in wanted.items():
            product_id, sku_id = mapping.split_sku(sku)
            if product_id not in products:
                products[product_id] = self._product(product_id, country, BEFORE_ORDER)
            product = products[product_id]
            found = product.sku(sku_id) if product is not None else None
            if product is None or found is None or not product.on_sale:
                raise OutOfStock(f"aliexpress no longer sells {sku} to {country}")
            if mapping.sku_stock(found) < quantity:
                raise OutOfStock(f"aliexpress has {mapping.sku_stock(found)} of {sku} for {country}, "
                                 f"{quantity} wanted")
            method = request.shipping_method or self.shipping_method
            if method is None:
                options = self._freight(product_id, sku_id, quantity, country, self.currency,
                                        request.ship_to.province_code, BEFORE_ORDER)
                if not options:
                    raise PermanentError(f"aliexpress does not deliver {sku} to {country}")
                cheapest = min(options, key=lambda o: (o.cost.amount, o.max_days or 999))
                method = cheapest.method
                costs.append(cheapest.cost)
            items.append(mapping.OrderItem(product_id, quantity, mapping.sku_attr(found), method))
        shipping = None
        if costs and len({c.currency for c in costs}) == 1:
            shipping = costs[0]
            for cost in costs[1:]:
                shipping = shipping + cost
        return items, shipping

    def find_order(self, reference: str) -> PlacedOrder | None | CannotKnow:
        """AliExpress cannot look an order up by our reference (see the module docstring)."""
        return CANNOT_KNOW

    # ---- TrackingSource --------------------------------------------------------------------------------

    def fetch_tracking(self, external_order_id: str, reference: str) -> list[TrackingUpdate]:
        """Parcels of each AliExpress order the supplier order became. One order: each parcel is the whole
        supplier order. Several (one per seller): each parcel names the SKUs of its own order
        (trade.ds.order.get), so the supplier order ships in parts as they do."""
        ids = [part.strip() for part in external_order_id.split(",") if part.strip()]
        updates = []
        for ae_order_id in ids:
            body = self._read(TRACKING_GET, {"ae_order_id": ae_order_id, "language": self.language},
                              f"aliexpress: tracking of {ae_order_id}")
            found = mapping.tracking_updates(body, ae_order_id, reference)
            if found and len(ids) > 1:
                detail = self._read(ORDER_GET, {"single_order_query": _json({"order_id": ae_order_id})},
                                    f"aliexpress: order {ae_order_id}")
                found = mapping.with_items(found, mapping.parcel_products(body), mapping.order_items(detail))
            updates.extend(found)
        return updates

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
        self.client.close()


def from_config(base_url: str, credentials: dict[str, Any], config: dict[str, Any], *,
                services: ConnectorServices | None = None) -> AliExpressSupplier:
    """Registry entry (credentials and config already validated by the registry). A token pair renewed at run
    time is kept in the deployment's secret store (`services.secrets`) and preferred over the configured one."""
    save_credentials = None
    store = services.secrets if services else None
    if store is not None:
        credentials = {**credentials, **store.load()}

        def save_credentials(new: dict) -> None:
            store.update(lambda current: {**current, **new})
    for key in ("app_key", "app_secret", "access_token"):
        if not credentials.get(key):
            raise ConfigurationError(f"aliexpress needs credentials['{key}']")
    timeout = config.get("timeout")
    return AliExpressSupplier(
        base_url, credentials["app_key"], credentials["app_secret"], credentials["access_token"],
        refresh_token=credentials.get("refresh_token"),
        expires_at=mapping.parse_expiry(credentials.get("access_token_expires_at")),
        product_ids=[str(p) for p in config.get("product_ids") or []],
        ship_to_country=str(config.get("ship_to_country") or "US").upper(),
        currency=str(config.get("currency") or "USD").upper(), language=config.get("language") or "en_US",
        shipping_method=config.get("shipping_method"), auto_pay=bool(config.get("auto_pay", False)),
        pay_currency=str(config.get("pay_currency") or "USD").upper(),
        products_per_page=int(config.get("products_per_page") or 20), concurrency=int(config.get("concurrency") or 4),
        rate_per_second=float(config.get("rate_per_second") or 50.0),
        timeout=float(timeout) if timeout is not None else None, save_credentials=save_credentials)
