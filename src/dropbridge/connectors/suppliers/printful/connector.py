"""`Printful`: the print-on-demand supplier, v2 where the beta covers the need and v1 where it does not
(contract 1.7: store products in orders and rates, cancellation, tracking numbers).

Exactly-once: `place_order` sends our reference as the order's `external_id` (unique per store, OR-13); after
an unknown outcome the caller asks `find_order(reference)` (`GET /v2/orders/@reference`) before any retry.
A catalog order is made in two steps (a v2 draft, then its confirmation): `find_order` finishes a draft the
first attempt left behind when orders are to be confirmed, so a crash between the steps loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from dropbridge.domain.errors import (
    ConfigurationError,
    OutOfStock,
    PermanentError,
    ValidationError,
    WebhookRejected,
)
from dropbridge.services.ports import (
    CostReported,
    Fact,
    InboundEvent,
    OfferRow,
    OffersReported,
    OrderAcknowledged,
    OrderFailed,
    Page,
    PlacedOrder,
    ShipmentReported,
    ShippingOption,
    ShippingQuoteRequest,
    SupplierInvoice,
    SupplierOrderRequest,
    TrackingUpdate,
    Unrecognised,
)

from . import mapping, webhooks
from .client import DEFAULT_RATE_PER_MINUTE, PrintfulClient

PAGE = 100  # the largest page Printful serves (limit max 100, contract 1.2)
DEFAULT_QUANTITY = 1000
IGNORED_EVENTS = ("order_remove_hold", "order_put_hold_approval", "catalog_price_changed", "mockup_task_finished",
                  "shipment_returned", "shipment_out_of_stock", "product_synced", "product_updated",
                  "product_deleted")


@dataclass
class _Cursor:
    """Where a catalog pull is: a phase (the store's products, then catalog products), the offset of the list
    page, and the product within it. One product's variants make one page of offers."""

    phase: str
    offset: int = 0
    index: int = 0

    def dump(self) -> str:
        return json.dumps({"phase": self.phase, "offset": self.offset, "index": self.index})

    @classmethod
    def load(cls, text: str) -> _Cursor:
        try:
            data = json.loads(text)
            return cls(str(data["phase"]), int(data["offset"]), int(data["index"]))
        except (ValueError, KeyError, TypeError):
            raise ValidationError(f"not a Printful catalog cursor: {text[:80]!r}", "cursor") from None


class Printful:
    kind = "printful"

    def __init__(self, base_url: str, api_token: str, *, config: Mapping[str, Any] | None = None,
                 webhook_secret: str | None = None, timeout: float | httpx.Timeout | None = None,
                 transport: httpx.BaseTransport | None = None):
        cfg = dict(config or {})
        self.config = cfg
        self.client = PrintfulClient(base_url, api_token, store_id=cfg.get("store_id"), timeout=timeout,
                                     transport=transport,
                                     rate_per_minute=int(cfg.get("rate_limit_per_minute") or DEFAULT_RATE_PER_MINUTE))
        self.confirm = (cfg.get("confirm") or "confirm") == "confirm"
        self.region = cfg.get("selling_region") or "worldwide"
        self.technique = cfg.get("technique")
        quantity = cfg.get("available_quantity")
        self.quantity = DEFAULT_QUANTITY if quantity is None else int(quantity)
        self.currency = cfg.get("currency") or "USD"
        self.shipping = cfg.get("shipping")
        self.store_products = cfg.get("store_products", True) is not False
        self.catalog_products = cfg.get("catalog_products")  # None, [ids] or "all"
        self.webhook_secret = webhook_secret
        self.webhook_public_key = cfg.get("webhook_public_key")
        self.webhook_key_encoding = cfg.get("webhook_key_encoding")
        self._lists: dict[tuple[str, int], tuple[list[dict], int]] = {}
        self._prices: dict[int, dict[str, Any]] = {}

    # ---- orders (OrderDesk, Cancellation, TrackingSource, InvoiceSource) --------------------------------------

    def place_order(self, request: SupplierOrderRequest) -> PlacedOrder:
        skus = [i.supplier_sku for i in request.items]
        undesigned = mapping.missing_designs(request)
        if undesigned:
            raise PermanentError(f"printful: {', '.join(undesigned)} has no design to print: attach one with "
                                 "`dropbridge designs attach SKU --placement P --file URL`")
        try:
            if mapping.all_catalog(skus):
                order = self.client.post("/v2/orders", mapping.order_v2(request, self.shipping, self.technique),
                                         what="printful: create order")["data"]
                if self.confirm and order.get("status") == "draft":
                    order = self._confirm(order["id"])
            else:  # store products: v2 beta orders take catalog items only (contract 1.7)
                order = self.client.post("/orders", mapping.order_v1(request, self.shipping),
                                         params={"confirm": "true" if self.confirm else "false"},
                                         what="printful: create order")["result"]
        except PermanentError as exc:
            if exc.status != 400:
                raise
            return self._refused(request, exc)
        return mapping.placed(order)

    def _confirm(self, order_id: Any) -> dict[str, Any]:
        return self.client.post(f"/v2/orders/{order_id}/confirmation", what="printful: confirm order")["data"]

    def _refused(self, request: SupplierOrderRequest, exc: PermanentError) -> PlacedOrder:
        """A 400 on create. If an order with our reference exists (OR-13: an earlier attempt landed), that is
        our order; otherwise Printful refused it."""
        found = self.find_order(request.reference)
        if found is not None:
            return found
        if "out of stock" in str(exc).lower() or "discontinued" in str(exc).lower():
            raise OutOfStock(f"printful refused {request.reference}: {exc}", status=exc.status) from exc
        raise PermanentError(f"printful refused {request.reference}: {exc}", status=exc.status) from exc

    def find_order(self, reference: str) -> PlacedOrder | None:
        try:
            order = self.client.get(f"/v2/orders/@{reference}", what="printful: find order")["data"]
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        if self.confirm and order.get("status") == "draft":
            order = self._confirm(order["id"])  # the first attempt stopped between its two steps
        return mapping.placed(order)

    def cancel_order(self, external_order_id: str) -> PlacedOrder:
        """v1 DELETE cancels (v2 DELETE would delete, contract 1.7); refused once in production."""
        order = self.client.delete(f"/orders/{external_order_id}", what="printful: cancel order")["result"]
        return mapping.placed(order)

    def fetch_tracking(self, external_order_id: str, reference: str) -> list[TrackingUpdate]:
        order = self.client.get(f"/orders/{external_order_id}", what="printful: order shipments")["result"]
        return mapping.tracking(order, reference)

    def fetch_invoice(self, external_order_id: str, reference: str) -> SupplierInvoice | None:
        order = self.client.get(f"/v2/orders/{external_order_id}", what="printful: order costs")["data"]
        return mapping.invoice(order, reference)

    # ---- shipping (ShippingQuoter) -------------------------------------------------------------------------

    def quote_shipping(self, request: ShippingQuoteRequest) -> list[ShippingOption]:
        bulk = sum(i.quantity for i in request.items) > 100  # contract 1.3: 5 a minute above 100 items
        if mapping.all_catalog([i.supplier_sku for i in request.items]):
            body = self.client.post("/v2/shipping-rates", mapping.rates_v2(request), read=True, bulk=bulk,
                                    what="printful: shipping rates")
            return mapping.options(body.get("data") or [])
        try:
            payload = mapping.rates_v1(request)
        except ValueError as exc:
            raise PermanentError(f"printful: {exc}") from None
        body = self.client.post("/shipping/rates", payload, read=True, bulk=bulk, what="printful: shipping rates")
        return mapping.options(body.get("result") or [])

    # ---- offers (OfferSource) ------------------------------------------------------------------------------

    def _phases(self) -> list[str]:
        return [p for p, on in (("store", self.store_products), ("catalog", bool(self.catalog_products))) if on]

    def fetch_offers(self, cursor: str | None = None) -> Page[OfferRow]:
        if cursor is None:
            self._lists.clear()
            self._prices.clear()
            phases = self._phases()
            if not phases:
                return Page([], None)
            pos = _Cursor(phases[0])
        else:
            pos = _Cursor.load(cursor)
        items, total = self._listing(pos)
        rows: list[OfferRow] = []
        if pos.index < len(items):
            rows = self._store_rows(items[pos.index]) if pos.phase == "store" else self._catalog_rows(items[pos.index])
        nxt = self._after(pos, len(items), total)
        return Page(rows, nxt.dump() if nxt else None)

    def _after(self, pos: _Cursor, count: int, total: int) -> _Cursor | None:
        if pos.index + 1 < count:
            return _Cursor(pos.phase, pos.offset, pos.index + 1)
        if (pos.phase == "store" or self.catalog_products == "all") and pos.offset + PAGE < total:
            return _Cursor(pos.phase, pos.offset + PAGE, 0)
        phases = self._phases()
        later = phases[phases.index(pos.phase) + 1:] if pos.phase in phases else []
        return _Cursor(later[0]) if later else None

    def _listing(self, pos: _Cursor) -> tuple[list[dict[str, Any]], int]:
        key = (pos.phase, pos.offset)
        if key not in self._lists:
            if pos.phase == "store":  # v1: the v2 beta has no store products
                body = self.client.get("/store/products", {"offset": pos.offset, "limit": PAGE},
                                       what="printful: store products", pull=True)
                self._lists[key] = (body.get("result") or [], int((body.get("paging") or {}).get("total", 0)))
            elif self.catalog_products == "all":
                body = self.client.get("/v2/catalog-products", {"limit": PAGE, "offset": pos.offset,
                                                                "selling_region_name": self.region},
                                       what="printful: catalog products", pull=True)
                self._lists[key] = (body.get("data") or [], int((body.get("paging") or {}).get("total", 0)))
            else:  # the products the merchant named: fetched one by one as the pull reaches them
                ids = list(self.catalog_products or [])
                self._lists[key] = ([{"id": i} for i in ids], len(ids))
        return self._lists[key]

    def _prices_of(self, product_id: int, pull: bool = True) -> dict[str, Any]:
        if product_id not in self._prices:
            self._prices[product_id] = self.client.get(
                f"/v2/catalog-products/{product_id}/prices",
                {"selling_region_name": self.region, "currency": self.currency}, what="printful: prices",
                pull=pull)["data"]
        return self._prices[product_id]

    def _catalog_rows(self, listed: dict[str, Any]) -> list[OfferRow]:
        pid = int(listed["id"])
        product = listed if "techniques" in listed else self.client.get(
            f"/v2/catalog-products/{pid}", what="printful: catalog product", pull=True)["data"]
        variants = self.client.get(f"/v2/catalog-products/{pid}/catalog-variants",
                                   what="printful: catalog variants", pull=True)["data"]
        stock, offset = [], 0
        while True:
            body = self.client.get(f"/v2/catalog-products/{pid}/availability",
                                   {"selling_region_name": self.region, "limit": PAGE, "offset": offset},
                                   what="printful: availability", pull=True)
            stock += body.get("data") or []
            offset += PAGE
            if offset >= int((body.get("paging") or {}).get("total", 0)):
                break
        return mapping.catalog_offers(product, variants, self._prices_of(pid), stock, region=self.region,
                                      technique=self.technique, quantity=self.quantity)

    def _store_rows(self, listed: dict[str, Any]) -> list[OfferRow]:
        info = self.client.get(f"/store/products/{listed['id']}", what="printful: store product",
                               pull=True)["result"]
        variants = info.get("sync_variants") or []
        products = {int((v.get("product") or {}).get("product_id") or 0) for v in variants} - {0}
        prices = {pid: self._prices_of(pid) for pid in sorted(products)}
        return mapping.store_offers(info.get("sync_product") or listed, variants, prices, technique=self.technique,
                                    quantity=self.quantity)

    # ---- webhooks (InboundSource) --------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> InboundEvent:
        if not self.webhook_secret:
            raise ConfigurationError("printful supplier has no webhook_secret (the secret_key of its v2 webhook "
                                     "configuration)")
        webhooks.verify(self.webhook_secret, headers, raw_body, public_key=self.webhook_public_key,
                        encoding=self.webhook_key_encoding)
        try:
            payload = json.loads(raw_body)
        except ValueError:
            raise WebhookRejected("body is not JSON", status=400) from None
        if not isinstance(payload, dict) or not payload.get("type"):
            raise WebhookRejected("body is not a Printful event", status=400)
        return InboundEvent(event_id=webhooks.event_id(payload), topic=str(payload["type"]), payload=payload,
                            occurred_at=mapping.parse_time(payload.get("occurred_at")), raw_body=raw_body)

    def facts_from_event(self, event: InboundEvent) -> list[Fact]:
        payload = event.payload if isinstance(event.payload, dict) else {}
        kind, data = payload.get("type") or event.topic, payload.get("data")
        if kind == "catalog_stock_updated":
            if not isinstance(data, list):
                raise ValidationError("catalog_stock_updated without a list of changes", "data")
            return self._stock_facts(data)
        if not isinstance(data, dict):
            raise ValidationError(f"printful event {kind} has no data", "data")
        order = data.get("order") or {}
        reference, order_id = str(order.get("external_id") or ""), order.get("id")
        if kind in IGNORED_EVENTS:
            return []
        if order_id is None:
            return [Unrecognised(f"printful event {kind} names no order")]
        if not reference:
            return []  # an order dropbridge did not place (no external id): not ours to act on
        if kind == "shipment_sent":
            return self._shipment_facts(data, order_id, reference)
        if kind == "order_failed":
            return [OrderFailed(reference, f"failed at Printful: {data.get('reason') or 'no reason given'}",
                                external_id=str(order_id))]
        if kind == "order_canceled":
            return [OrderFailed(reference, f"canceled at Printful: {data.get('reason') or 'no reason given'}",
                                external_id=str(order_id))]
        if kind == "order_put_hold":
            return [Unrecognised(f"Printful put order {order_id} ({reference}) on hold: "
                                 f"{data.get('reason') or 'no reason given'}; resolve it with Printful")]
        if kind in ("order_created", "order_updated"):
            return self._order_facts(order_id, reference)
        return [Unrecognised(f"printful event {kind} is not one dropbridge acts on")]

    def _order_facts(self, order_id: Any, reference: str) -> list[Fact]:
        """order_created/order_updated carry no costs or items: read the order (v2)."""
        order = self.client.get(f"/v2/orders/{order_id}", what="printful: order")["data"]
        facts: list[Fact] = []
        if order.get("status") in mapping.IN_PRODUCTION:
            facts.append(OrderAcknowledged(reference, external_id=str(order_id)))
        stated = mapping.costs(order)
        if stated is not None:
            facts.append(CostReported(reference, stated[0], stated[1], external_id=str(order_id)))
        return facts

    def _shipment_facts(self, data: dict[str, Any], order_id: Any, reference: str) -> list[Fact]:
        """shipment_sent names the tracking number only; v1's order shipments add carrier, URL and items."""
        order = self.client.get(f"/orders/{order_id}", what="printful: order shipments")["result"]
        updates = mapping.tracking(order, reference)
        told = mapping.tracking_from_event(data)
        if told is not None and all(u.tracking_number != told.tracking_number for u in updates):
            updates.append(told)
        return [ShipmentReported(u) for u in updates]

    def _stock_facts(self, changes: list[dict[str, Any]]) -> list[Fact]:
        wanted = self.catalog_products
        if not wanted:
            return []  # no catalog products offered: nothing to update
        chosen = [c for c in changes if wanted == "all" or int(c.get("catalog_product_id") or 0) in set(wanted)]
        self._prices.clear()
        prices = {pid: self._prices_of(pid, pull=False)  # in a job: no waits beyond its lease
                  for pid in sorted({int(c["catalog_product_id"]) for c in chosen})}
        rows = mapping.stock_rows(chosen, prices, technique=self.technique, quantity=self.quantity)
        return [OffersReported(tuple(rows), full=False)] if rows else []

    def close(self) -> None:
        self.client.close()


def from_config(base_url: str, credentials: dict[str, Any], config: dict[str, Any]) -> Printful:
    """Registry entry. credentials: "api_token" (a private token), "webhook_secret" (optional: the v2 webhook
    configuration's secret_key); config: PrintfulConfig."""
    token = credentials.get("api_token")
    if not token:
        raise ConfigurationError("printful needs credentials['api_token']")
    timeout = config.get("timeout")
    return Printful(base_url or "https://api.printful.com", token, config=config,
                    webhook_secret=credentials.get("webhook_secret"),
                    timeout=float(timeout) if timeout is not None else None)
