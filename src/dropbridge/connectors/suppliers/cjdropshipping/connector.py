"""`CjSupplier`: CJdropshipping API 2.0 as an offer source, order desk, shipping quoter, tracking and
invoice source, and webhook sender.

Exactly once: `createOrderV2` carries our reference as `orderNumber`; after a timeout or a crash the caller
asks `find_order(reference)` (getOrderDetail takes our orderNumber as well as CJ's id) before anything is
sent again. Orders are paid from the CJ balance as they are created when the merchant says so
(`pay_from_balance`); otherwise they wait for payment at CJ (placement awaiting_payment: the merchant is
alerted, and again by the periodic check if still unpaid)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx

from dropbridge.connectors.kit import retry
from dropbridge.connectors.kit.budget import RateBudget
from dropbridge.connectors.kit.secrets import MemorySecretStore
from dropbridge.connectors.kit.webhooks import header
from dropbridge.domain.errors import AuthExpired, ConfigurationError, PermanentError, WebhookRejected
from dropbridge.services.ports import (
    REQUEST_QUERY,
    ConnectorServices,
    CostReported,
    Fact,
    InboundEvent,
    OfferRow,
    OffersReported,
    OrderAcknowledged,
    OrderFailed,
    Page,
    PlacedOrder,
    Placement,
    SecretStore,
    ShipmentReported,
    ShippingOption,
    ShippingQuoteRequest,
    SupplierInvoice,
    SupplierOrderRequest,
    TrackingUpdate,
    Unrecognised,
)

from . import client as api
from . import mapping
from .client import CjClient
from .tokens import TokenKeeper

DEFAULT_QPS = 1.0  # the Free level (contract 2.2)
QPS_MARGIN = 0.95  # CJ counts on its own clock: keep a little under the documented rate
DEFAULT_PAGE_SIZE = 100  # listV2's largest
MAX_PAGE = 1000  # listV2 pages beyond this are refused
VID_CACHE = 20_000


class CjSupplier:
    kind = "cjdropshipping"

    def __init__(self, base_url: str, api_key: str, *, secrets: SecretStore, webhook_secret: str | None = None,
                 config: Mapping[str, Any] | None = None, timeout: float | httpx.Timeout | None = None,
                 clock: Callable[[], datetime] | None = None, transport: httpx.BaseTransport | None = None):
        cfg = dict(config or {})
        self.qps = float(cfg.get("qps") or DEFAULT_QPS)
        account = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        budget = RateBudget.for_account(f"cjdropshipping:{account}", self.qps * QPS_MARGIN, 1)
        self.client = CjClient(base_url, budget=budget, timeout=timeout, transport=transport)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.tokens = TokenKeeper(self.client, api_key, secrets, clock=self._clock,
                                  refresh_before=timedelta(days=float(cfg.get("token_refresh_days") or 2)))
        self.webhook_secret = webhook_secret
        self.webhook_param = str(cfg.get("webhook_param") or "token")
        self.pay_from_balance = bool(cfg.get("pay_from_balance", False))
        self.sandbox = bool(cfg.get("sandbox", False))
        self.from_country = str(cfg.get("from_country_code") or "CN").upper()
        self.count_factory = bool(cfg.get("count_factory_stock", True))
        self.logistic_name = cfg.get("logistic_name") or None
        self.page_size = int(cfg.get("catalog_page_size") or DEFAULT_PAGE_SIZE)
        self.catalog_filters = {k: v for k, v in (("keyWord", cfg.get("catalog_keyword")),
                                                  ("categoryId", cfg.get("catalog_category_id")),
                                                  ("countryCode", cfg.get("catalog_country_code"))) if v}
        self._vids: OrderedDict[str, str] = OrderedDict()  # variantSku -> vid, learnt from pulls and look-ups

    # ---- one call, authenticated ------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, what: str, idempotent: bool, params: dict | None = None,
              body: Any = None) -> Any:
        """A call with the current token, waited out when throttled (and, for reads, repeated after a 5xx or
        a timeout) by the one retry policy; a refused token is replaced once and the call made again."""
        return retry.call(lambda: self._authenticated(method, path, what=what, params=params, body=body),
                          idempotent=idempotent)

    def _authenticated(self, method: str, path: str, *, what: str, params: dict | None = None,
                       body: Any = None) -> Any:
        token = self.tokens.token()
        try:
            return self.client.call(method, path, what=what, token=token, params=params, body=body)
        except AuthExpired:  # refused before anything was done: safe to send once more, writes included
            self.tokens.refused(token)  # expired or revoked mid-run: another token (stored, refreshed or new)
            return self.client.call(method, path, what=what, token=self.tokens.token(), params=params, body=body)

    # ---- catalog (OfferSource) ---------------------------------------------------------------------------

    def fetch_offers(self, cursor: str | None = None) -> Page[OfferRow]:
        """One listV2 page of products (cursor = page number), each product's variants (product/query) and
        their stock per warehouse (getInventoryByPid): three kinds of call, as CJ has no variant listing."""
        page = int(cursor or 1)
        data = self._call("GET", api.PRODUCT_LIST, what="cj: product list", idempotent=True,
                          params={"page": page, "size": self.page_size, **self.catalog_filters})
        pids, pages = mapping.product_ids(data)
        if pages > MAX_PAGE:
            # Pages past CJ's last are refused: a pull that stopped there would look complete and zero the rest.
            raise ConfigurationError(f"cjdropshipping: {pages} pages of {self.page_size} products is more than "
                                     f"listV2 serves ({MAX_PAGE}); narrow the pull with catalog_keyword, "
                                     "catalog_category_id or catalog_country_code")
        rows: list[OfferRow] = []
        for pid in pids:
            product = self._call("GET", api.PRODUCT_QUERY, what=f"cj: product {pid}", idempotent=True,
                                 params={"pid": pid})
            stock = self._call("GET", api.STOCK_BY_PID, what=f"cj: stock of {pid}", idempotent=True,
                               params={"pid": pid})
            found = mapping.offers_from_product(product, stock, country=self.from_country,
                                                with_factory=self.count_factory)
            for row in found:
                self._remember(row.supplier_sku, (row.catalog or {}).get("cj_vid"))
            rows.extend(found)
        more = pids and page < pages
        return Page(rows, str(page + 1) if more else None)

    def _remember(self, sku: str, vid: str | None) -> None:
        if vid:
            self._vids[sku] = vid
            self._vids.move_to_end(sku)
            while len(self._vids) > VID_CACHE:
                self._vids.popitem(last=False)

    def _vid(self, sku: str) -> str:
        if sku not in self._vids:
            variants = self._call("GET", api.VARIANT_QUERY, what=f"cj: variant {sku}", idempotent=True,
                                  params={"variantSku": sku})
            vid = mapping.vid_for_sku(variants, sku)
            if vid is None:
                raise PermanentError(f"cj: no variant with SKU {sku}")
            self._remember(sku, vid)
        return self._vids[sku]

    # ---- shipping (ShippingQuoter) -----------------------------------------------------------------------

    def quote_shipping(self, request: ShippingQuoteRequest) -> list[ShippingOption]:
        """freightCalculate from the configured warehouse country: every logistic CJ offers for the items to
        that destination, cheapest first, in USD (the name is what createOrderV2 takes as logisticName)."""
        items = [(self._vid(i.supplier_sku), i.quantity) for i in request.items]
        data = self._call("POST", api.FREIGHT, what="cj: freight", idempotent=True,
                          body=mapping.freight_request(self.from_country, request.country_code.upper(),
                                                       request.postal_code, items))
        return mapping.shipping_options(data)

    # ---- orders (OrderDesk, Cancellation) ----------------------------------------------------------------

    def place_order(self, request: SupplierOrderRequest) -> PlacedOrder:
        method = request.shipping_method or self.logistic_name or self._cheapest(request)
        body = mapping.order_request_to_json(request, logistic_name=method, from_country=self.from_country,
                                             pay_from_balance=self.pay_from_balance, sandbox=self.sandbox)
        # Not waited out here even when throttled: the job runner comes back when CJ says, and asks first.
        data = self._authenticated("POST", api.CREATE_ORDER, what=f"cj: create order {request.reference}",
                                   body=body)
        return mapping.placed_order_from_json(data, request.reference)

    def _cheapest(self, request: SupplierOrderRequest) -> str:
        options = self.quote_shipping(ShippingQuoteRequest(
            items=tuple(request.items), country_code=request.ship_to.country_code,
            postal_code=request.ship_to.postal_code, province_code=request.ship_to.province_code))
        if not options:
            raise PermanentError(f"cj: no logistic ships {request.reference} from {self.from_country} to "
                                 f"{request.ship_to.country_code}")
        return options[0].method

    def find_order(self, reference: str) -> PlacedOrder | None:
        detail = self._detail(reference)
        return mapping.placed_order_from_json(detail, reference) if detail else None

    def _detail(self, order_id_or_number: str) -> dict | None:
        data = self._call("GET", api.ORDER_DETAIL, what=f"cj: order {order_id_or_number}", idempotent=True,
                          params={"orderId": order_id_or_number})
        return data if isinstance(data, dict) and data.get("orderId") else None

    def cancel_order(self, external_order_id: str) -> PlacedOrder:
        """deleteOrder: CJ removes an order it has not yet worked on; later it refuses (PermanentError)."""
        self._call("DELETE", api.DELETE_ORDER, what=f"cj: delete order {external_order_id}", idempotent=True,
                   params={"orderId": external_order_id})
        detail = self._detail(external_order_id)
        if detail:
            return mapping.placed_order_from_json(detail)
        return PlacedOrder(external_id=external_order_id, reference="", status="CANCELLED")

    # ---- tracking and money (TrackingSource, InvoiceSource) ----------------------------------------------

    def fetch_tracking(self, external_order_id: str, reference: str) -> list[TrackingUpdate]:
        return mapping.tracking_from_detail(self._detail(external_order_id or reference), reference)

    def fetch_invoice(self, external_order_id: str, reference: str) -> SupplierInvoice | None:
        skus = {vid: sku for sku, vid in self._vids.items()}
        return mapping.invoice_from_detail(self._detail(external_order_id or reference), reference, skus)

    # ---- webhooks (InboundSource) --------------------------------------------------------------------------

    def callback_url(self, public_url: str) -> str:
        """The URL to give CJ (`webhook/set`, or My CJ > Webhook) for this connection's messages."""
        if not self.webhook_secret:
            raise ConfigurationError("cjdropshipping: credentials.webhook_secret is needed to receive webhooks")
        separator = "&" if "?" in public_url else "?"
        return f"{public_url}{separator}{self.webhook_param}={self.webhook_secret}"

    def set_webhooks(self, callback_url: str) -> None:
        """Ask CJ to send order, logistics and stock messages to `callback_url` (contract 2.8)."""
        section = {"type": "ENABLE", "callbackUrls": [callback_url]}
        self._call("POST", api.WEBHOOK_SET, what="cj: set webhooks", idempotent=True,
                   body={"product": {"type": "CANCEL", "callbackUrls": []}, "stock": section, "order": section,
                         "logistics": section})

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> InboundEvent:
        """CJ signs nothing (contract 2.8, 7.7): the callback URL we gave it carries a secret, compared here in
        constant time; the message id de-duplicates CJ's retries."""
        if not self.webhook_secret:
            raise WebhookRejected("cjdropshipping: no webhook_secret configured for this supplier", status=401)
        given = parse_qs(header(headers, REQUEST_QUERY) or "").get(self.webhook_param, [""])[-1]
        if not hmac.compare_digest(given.encode(), self.webhook_secret.encode()):
            raise WebhookRejected(f"callback URL lacks the right {self.webhook_param} parameter", status=401)
        try:
            payload = json.loads(raw_body)
        except ValueError:
            raise WebhookRejected("body is not JSON", status=400) from None
        if not isinstance(payload, dict) or not payload.get("messageId") or not payload.get("type"):
            raise WebhookRejected("body is not a CJ message (messageId, type)", status=400)
        topic = str(payload["type"]) + (f".{payload['messageType']}" if payload.get("messageType") else "")
        return InboundEvent(event_id=str(payload["messageId"]), topic=topic[:100], payload=payload)

    def facts_from_event(self, event: InboundEvent) -> list[Fact]:
        payload = event.payload if isinstance(event.payload, dict) else {}
        kind = str(payload.get("type") or "").upper()
        params = payload.get("params")
        if kind in ("ORDER", "LOGISTICS"):
            key = mapping.message_order_key(params)
            if key is None:
                return [Unrecognised(f"CJ {kind} message without an order id")]
            # CJ's advice: read the detail back to confirm a change (the message's own fields are [U]).
            detail = self._detail(key)
            return self._order_facts(detail) if detail else [Unrecognised(f"CJ has no order {key}")]
        if kind in ("STOCK", "VARIANT"):
            vid = mapping.message_vid(params)
            return [OffersReported(tuple(self._variant_offer(vid)))] if vid else []
        if kind == "PRODUCT":
            return []  # product text and images: the next catalog pull picks them up
        return [Unrecognised(f"CJ message of type {kind or '?'}")]

    def _order_facts(self, detail: dict) -> list[Fact]:
        placed = mapping.placed_order_from_json(detail)
        ref, ext = placed.reference, placed.external_id
        if placed.status.upper() in mapping.CANCELLED_STATUSES:
            return [OrderFailed(ref, "cancelled at CJdropshipping", external_id=ext)]
        facts: list[Fact] = []
        if placed.placement == Placement.ACCEPTED:  # paid: CJ works on it now
            facts.append(OrderAcknowledged(ref, external_id=ext))
        if placed.cost is not None:
            facts.append(CostReported(ref, placed.cost, placed.shipping_cost, external_id=ext))
        facts.extend(ShipmentReported(u) for u in mapping.tracking_from_detail(detail, ref))
        return facts

    def _variant_offer(self, vid: str) -> list[OfferRow]:
        variant = self._call("GET", api.VARIANT_BY_VID, what=f"cj: variant {vid}", idempotent=True,
                             params={"vid": vid})
        stock = self._call("GET", api.STOCK_BY_VID, what=f"cj: stock of {vid}", idempotent=True,
                           params={"vid": vid})
        product = {"variants": [variant]} if isinstance(variant, dict) else {"variants": variant or []}
        rows = mapping.offers_from_product(product, stock, country=self.from_country, with_factory=self.count_factory)
        return [OfferRow(r.supplier_sku, r.stock, r.cost, ships_from=r.ships_from) for r in rows]  # no catalog

    def close(self) -> None:
        self.client.close()


def from_config(base_url: str, credentials: dict[str, Any], config: dict[str, Any], *,
                services: ConnectorServices | None = None) -> CjSupplier:
    """Registry entry. credentials: api_key, webhook_secret (optional); config: CjConfig. The access token it
    buys is kept in the deployment's secret store (`services.secrets`)."""
    api_key = credentials.get("api_key")
    if not api_key:
        raise ConfigurationError("cjdropshipping needs credentials['api_key']")
    secrets = services.secrets if services else None
    if secrets is None:
        secrets = MemorySecretStore()  # built outside a deployment: nothing outlives the process anyway
    timeout = config.get("timeout")
    return CjSupplier(base_url or api.BASE_URL, api_key, secrets=secrets,
                      webhook_secret=credentials.get("webhook_secret"), config=config,
                      timeout=float(timeout) if timeout is not None else None)
