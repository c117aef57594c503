"""The emulator's state and behaviour: tokens, the account's rate limits, orders and their payment, shipping,
and the messages CJ sends (routes.py is the HTTP side). Each behaviour names the contract section it follows
(../shared/contracts/suppliers.md section 2, section 7); points the contract marks [U] are settings."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import secrets
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from dropbridge.sandbox.kit import Emulator

from . import catalog as cat
from . import envelope as e

CJ_TZ = timezone(timedelta(hours=8))  # CJ's times carry +08:00 (contract 2.1 token example)
# CJ's logistics per route: (name, first item, each further item, aging); USPS+ only within the US.
LOGISTICS = (("CJPacket Ordinary", "3.50", "0.80", "7-12", None), ("USPS+", "4.71", "1.10", "2-5", "US"),
             ("DHL Official", "18.00", "2.00", "3-7", None))
PAID = ("UNSHIPPED", "SHIPPED", "DELIVERED")


class CjFault(Exception):
    """An error reply decided inside the state (code, message, HTTP status)."""

    def __init__(self, code: int, message: str, status: int | None = None):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Token:
    access: str
    refresh: str
    access_expires: float  # epoch seconds
    refresh_expires: float
    revoked: bool = False


def _cj_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, CJ_TZ).isoformat(timespec="seconds")


class CjEmulator(Emulator):
    """Settings (keywords): see the package docstring."""

    def __init__(self, api_key: str = "CJ0000001@api@emulator", *, name: str = "cjdropshipping",
                 products: int = 3, variants_per_product: int = 4, catalog: list[dict] | None = None,
                 images: bool = True, qps: float = 1.0, token_interval: float = 300.0, refresh_per_minute: int = 5,
                 access_ttl: float = 15 * 86400, refresh_ttl: float = 180 * 86400, invalidate_on_refresh: bool = True,
                 error_status: int = 200, retry_after_header: bool = False, daily_limit: int | None = None,
                 balance: str = "1000.00", ship_after_seconds: float | None = 2.0, webhook_url: str | None = None,
                 webhook_secret: str | None = None, webhook_retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0),
                 duplicate_order_number: str = "create", order_not_found: str = "null", seed: str = "cj"):
        self.name = name
        super().__init__(webhook_retry_delays=webhook_retry_delays)
        self.api_key = api_key
        self.open_id = int(hashlib.sha256(api_key.encode()).hexdigest()[:8], 16)
        self.qps, self.token_interval, self.refresh_per_minute = qps, token_interval, refresh_per_minute
        self.access_ttl, self.refresh_ttl = access_ttl, refresh_ttl
        self.invalidate_on_refresh = invalidate_on_refresh
        self.error_status = error_status  # [U] whether CJ's errors come with HTTP 200 (contract 2.1)
        self.retry_after_header = retry_after_header  # none documented for CJ's 429
        self.daily_limit = daily_limit  # unverified accounts: 1000 calls per endpoint per day (contract 2.2)
        self.ship_after_seconds = ship_after_seconds
        self.webhook_secret = webhook_secret or secrets.token_hex(16)
        self.duplicate_order_number = duplicate_order_number  # [U] "create" a second order, or "reject" it
        self.order_not_found = order_not_found  # [U] "null" data, or an "error" reply
        self._spec = (products, variants_per_product, catalog, images, seed)
        self._initial_balance = Decimal(balance)
        self._initial_webhook = webhook_url
        self._reset_state()
        from .routes import build_app

        self.app = build_app(self)
        self.every(0.05, self._ship_due)

    # ---- state ------------------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        with self.lock:
            self._products: list[cat.Product] | None = None
            self.tokens: dict[str, Token] = {}  # access token -> Token
            self._by_refresh: dict[str, Token] = {}
            self._last_get: float | None = None
            self._refresh_times: deque[float] = deque()
            self._requests: deque[float] = deque()
            self._daily: dict[str, int] = defaultdict(int)
            self.calls: dict[str, int] = defaultdict(int)  # per path, every call answered
            self.orders: dict[str, dict[str, Any]] = {}  # orderId -> order
            self._paid_at: dict[str, float] = {}
            self._seq = getattr(self, "_seq", 0)
            self._track_seq = getattr(self, "_track_seq", 0)
            self.balance = self._initial_balance
            self.callbacks: dict[str, list[str]] = {}
            if self._initial_webhook:
                url = self.callback_url(self._initial_webhook)
                self.callbacks = {"order": [url], "logistics": [url], "stock": [url]}

    def reset(self) -> None:
        self.faults.clear()
        self._reset_state()

    def callback_url(self, url: str) -> str:
        """What the merchant registers at CJ: our webhook URL with its secret (contract 2.8: no signature)."""
        return f"{url}{'&' if '?' in url else '?'}token={self.webhook_secret}"

    @property
    def products(self) -> list[cat.Product]:
        return self._catalog()

    def _catalog(self) -> list[cat.Product]:
        """Made on first use, once the server's URL (for image links) is known."""
        with self.lock:
            if self._products is None:
                count, per, spec, images, seed = self._spec
                base = self.url if images and self._server is not None else None
                self._products = cat.from_spec(spec, base) if spec is not None else \
                    cat.generate(count, per, seed=seed, image_base=base)
                self._pids = {p.pid: p for p in self._products}
                self._vids = {v.vid: (p, v) for p in self._products for v in p.variants}
                self._skus = {v.sku: (p, v) for p in self._products for v in p.variants}
            return self._products

    def add_products(self, items: list[dict[str, Any]]) -> list[cat.Product]:
        """Put products into the catalog (catalog.from_spec shapes), as CJ lists new ones."""
        self._catalog()
        base = self.url if self._spec[3] and self._server is not None else None
        added = cat.from_spec(items, base)
        with self.lock:
            for p in added:
                self._products.append(p)
                self._pids[p.pid] = p
                for v in p.variants:
                    self._vids[v.vid] = (p, v)
                    self._skus[v.sku] = (p, v)
        return added

    def product(self, pid: str) -> cat.Product | None:
        self._catalog()
        return self._pids.get(pid)

    def variant(self, vid: str | None = None, sku: str | None = None) -> tuple[cat.Product, cat.Variant] | None:
        self._catalog()
        return self._vids.get(vid or "") if vid else self._skus.get(sku or "")

    def connection(self) -> dict[str, Any]:
        return {"name": self.name, "base_url": f"{self.url}/api2.0/v1",
                "credentials": {"api_key": self.api_key, "webhook_secret": self.webhook_secret},
                # The sandbox account has a balance: its orders are paid as they are created, and ship.
                "config": {"currency": "USD", "qps": min(self.qps, 6), "pay_from_balance": True}}

    # ---- tokens (contract 2.1) ------------------------------------------------------------------------------

    def get_access_token(self, api_key: str) -> dict[str, Any]:
        now = time.time()
        with self.lock:
            if api_key != self.api_key:
                raise CjFault(e.WRONG_API_KEY, "APIkey is wrong, please check and try again")
            if self._last_get is not None and now - self._last_get < self.token_interval:
                raise CjFault(e.TOO_MANY, "Too Many Requests, getAccessToken can only be called once every "
                                          f"{self.token_interval:g} seconds", 429)
            self._last_get = now
            return self._issue(now)

    def refresh_access_token(self, refresh: str) -> dict[str, Any]:
        now = time.time()
        with self.lock:
            while self._refresh_times and now - self._refresh_times[0] >= 60:
                self._refresh_times.popleft()
            if len(self._refresh_times) >= self.refresh_per_minute:
                raise CjFault(e.TOO_MANY, "Too Many Requests, refreshAccessToken: "
                                          f"{self.refresh_per_minute} times per minute", 429)
            self._refresh_times.append(now)
            old = self._by_refresh.get(refresh)
            if old is None or old.refresh_expires <= now:
                raise CjFault(e.INVALID_REFRESH, "Invalid Refresh token")
            if self.invalidate_on_refresh:
                old.revoked = True
            return self._issue(now, refresh=refresh)

    def _issue(self, now: float, refresh: str | None = None) -> dict[str, Any]:
        token = Token(access=uuid.uuid4().hex, refresh=refresh or uuid.uuid4().hex,
                      access_expires=now + self.access_ttl, refresh_expires=now + self.refresh_ttl)
        if refresh is not None:
            token.refresh_expires = self._by_refresh[refresh].refresh_expires
        self.tokens[token.access] = token
        self._by_refresh[token.refresh] = token
        return {"openId": self.open_id, "accessToken": token.access,
                "accessTokenExpiryDate": _cj_time(token.access_expires), "refreshToken": token.refresh,
                "refreshTokenExpiryDate": _cj_time(token.refresh_expires), "createDate": _cj_time(now)}

    def logout(self, access: str) -> None:
        with self.lock:
            if access in self.tokens:
                self.tokens[access].revoked = True

    def expire_tokens(self) -> int:
        """Every access token issued so far expires now (refresh tokens stay good): a token expiring mid-run."""
        with self.lock:
            for t in self.tokens.values():
                t.access_expires = min(t.access_expires, time.time() - 1)
            return len(self.tokens)

    def check_token(self, access: str | None) -> None:
        if not access:
            raise CjFault(e.TOKEN_EMPTY, "access token cannot be empty")
        with self.lock:
            token = self.tokens.get(access)
            if token is None or token.revoked or token.access_expires <= time.time():
                raise CjFault(e.INVALID_TOKEN, "Invalid API key or access token. How to get access token: "
                                               "https://developers.cjdropshipping.cn/en/api/api2/api/auth.html")

    def count(self, path: str) -> None:
        """The account's rate limits (contract 2.2): `qps` requests in any second, and the daily cap."""
        now = time.monotonic()
        with self.lock:
            self.calls[path] += 1
            while self._requests and now - self._requests[0] >= 1.0:
                self._requests.popleft()
            if len(self._requests) >= self.qps:
                raise CjFault(e.TOO_MANY, f"Too Many Requests, QPS limit is {self.qps:g} time/1second", 429)
            self._requests.append(now)
            if self.daily_limit is not None:
                self._daily[path] += 1
                if self._daily[path] > self.daily_limit:
                    raise CjFault(e.TOO_MANY, "Too Many Requests, Sorry, you have reached the daily request limit "
                                              f"({self.daily_limit} times/day). Number of requests made: "
                                              f"{self._daily[path]}. Please try again tomorrow.", 429)

    # ---- freight (contract 2.5) -----------------------------------------------------------------------------

    def freight(self, start: str, end: str, items: list[tuple[str, int]]) -> list[dict[str, Any]]:
        count = sum(q for _, q in items)
        for vid, _ in items:
            if self.variant(vid=vid) is None:
                raise CjFault(e.PARAM_ERROR, f"vid {vid} does not exist")
        options = []
        for name, first, more, aging, only in LOGISTICS:
            if only is not None and (start != only or end != only):
                continue
            price = Decimal(first) + Decimal(more) * max(0, count - 1)
            options.append({"logisticName": name, "logisticPrice": float(price),
                            "logisticPriceCn": float((price * Decimal("7.1")).quantize(Decimal("0.01"))),
                            "logisticAging": aging, "taxesFee": 0, "clearanceOperationFee": 0,
                            "totalPostageFee": float(price)})
        return options

    # ---- orders (contract 2.6, 2.7) ---------------------------------------------------------------------------

    def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        number = body["orderNumber"]
        start, end = body["fromCountryCode"], body["shippingCountryCode"]
        lines = []
        for i, item in enumerate(body["products"]):
            found = self.variant(vid=item.get("vid")) if item.get("vid") else self.variant(sku=item.get("sku"))
            if found is None:
                raise CjFault(e.PARAM_ERROR, f"products[{i}]: no variant {item.get('vid') or item.get('sku')}")
            lines.append((found[1], int(item["quantity"]), item))
        freight = {o["logisticName"]: o for o in self.freight(start, end, [(v.vid, q) for v, q, _ in lines])}
        if body["logisticName"] not in freight:  # contract 7.4: the logistic must come from freightCalculate
            raise CjFault(e.PARAM_ERROR, f"logisticName {body['logisticName']!r} does not ship {start} -> {end}")
        with self.lock:
            if self.duplicate_order_number == "reject" and any(o["orderNum"] == number for o in self.orders.values()):
                raise CjFault(e.ORDER_STATE, f"orderNumber {number} already exists")
            for v, qty, _ in lines:
                cj, factory = v.stock.get(start, (0, 0))
                if qty > cj + factory:
                    raise CjFault(e.OUT_OF_STOCK, f"Insufficient inventory: {v.sku} has {cj + factory} in {start}")
            for v, qty, _ in lines:  # CJ's own stock first, then the factory's
                cj, factory = v.stock[start]
                take = min(cj, qty)
                v.stock[start] = (cj - take, factory - (qty - take))
            self._seq += 1
            order_id = f"SD{2507000000000 + self._seq}"
            products = sum((v.price * qty for v, qty, _ in lines), Decimal(0))
            postage = Decimal(str(freight[body["logisticName"]]["logisticPrice"]))
            order = {
                "orderId": order_id, "orderNum": number, "cjOrderId": order_id, "cjOrderCode": f"CJ{self._seq:08d}",
                "shipmentOrderId": None, "orderStatus": "CREATED", "logisticName": body["logisticName"],
                "trackNumber": None, "trackingUrl": None, "fromCountryCode": start,
                "storageName": "US Warehouse" if start == "US" else "China Warehouse",
                "shippingCustomerName": body["shippingCustomerName"], "shippingAddress": body["shippingAddress"],
                "shippingCity": body["shippingCity"], "shippingProvince": body["shippingProvince"],
                "shippingCountryCode": end, "shippingZip": body.get("shippingZip", ""),
                "shippingPhone": body.get("shippingPhone", ""), "productAmount": float(products),
                "postageAmount": float(postage), "orderAmount": float(products + postage),
                "createDate": _cj_time(time.time()), "paymentDate": None, "outWarehouseTime": None,
                "isSandbox": int(body.get("isSandbox") or 0), "remark": body.get("remark", ""),
                "productList": [{"vid": v.vid, "quantity": qty, "sellPrice": float(v.price),
                                 "lineItemId": uuid.uuid4().hex[:16], "storeLineItemId": item.get("storeLineItemId")}
                                for v, qty, item in lines],
            }
            self.orders[order_id] = order
            pay_type = int(body.get("payType") or 1)  # 1 pay by page (CJ's default), 2 from balance, 3 create only
            if pay_type == 1:
                order["orderStatus"] = "UNPAID"
            elif pay_type == 2:
                order["orderStatus"] = "UNPAID"
                with contextlib.suppress(CjFault):  # short of balance: created, left unpaid
                    self._pay(order)
            reply = {"orderId": order_id, "orderNumber": number, "shipmentOrderId": order["shipmentOrderId"],
                     "orderAmount": order["orderAmount"], "productAmount": order["productAmount"],
                     "postageAmount": order["postageAmount"], "orderStatus": order["orderStatus"]}
            if order["orderStatus"] == "UNPAID":
                reply["cjPayUrl"] = f"https://cjdropshipping.com/mine/payment?orderId={order_id}"
            snapshot = copy.deepcopy(order)
        self._message("order", snapshot)
        return reply

    def _pay(self, order: dict[str, Any]) -> None:
        amount = Decimal(str(order["orderAmount"]))
        if order["orderStatus"] not in ("CREATED", "IN_CART", "UNPAID"):
            raise CjFault(e.ORDER_STATE, f"order {order['orderId']} is {order['orderStatus']}")
        if order.get("isSandbox") != 1:  # sandbox orders are paid without charging (contract 2.6 [C])
            if amount > self.balance:
                raise CjFault(e.BALANCE, f"Insufficient balance: {self.balance} < {amount}")
            self.balance -= amount
        order["orderStatus"] = "UNSHIPPED"
        order["paymentDate"] = _cj_time(time.time())
        order["shipmentOrderId"] = f"SO{order['orderId'][2:]}"
        self._paid_at[order["orderId"]] = time.monotonic()

    def pay(self, order_id: str) -> dict[str, Any]:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise CjFault(e.NOT_FOUND, f"order {order_id} does not exist")
            self._pay(order)
            snapshot = copy.deepcopy(order)
        self._message("order", snapshot)
        return snapshot

    def find(self, key: str) -> dict[str, Any] | None:
        """getOrderDetail's orderId is CJ's id or the caller's orderNumber (contract 7.2)."""
        with self.lock:
            order = self.orders.get(key) or next((o for o in self.orders.values() if o["orderNum"] == key), None)
            return copy.deepcopy(order) if order else None

    def delete(self, order_id: str) -> None:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise CjFault(e.NOT_FOUND, f"order {order_id} does not exist")
            if order["orderStatus"] not in ("CREATED", "IN_CART", "UNPAID"):
                raise CjFault(e.ORDER_STATE, f"order {order_id} is {order['orderStatus']} and cannot be deleted")
            order["orderStatus"] = "CANCELLED"
            start = order["fromCountryCode"]
            for line in order["productList"]:
                _, v = self._vids[line["vid"]]
                cj, factory = v.stock.get(start, (0, 0))
                v.stock[start] = (cj + line["quantity"], factory)
            snapshot = copy.deepcopy(order)
        self._message("order", snapshot)

    def ship(self, order_id: str) -> dict[str, Any]:
        """A paid order leaves the warehouse with a tracking number; CJ sends ORDER and LOGISTICS messages."""
        with self.lock:
            order = self.orders[order_id]
            if order["orderStatus"] == "SHIPPED":
                return copy.deepcopy(order)
            if order["orderStatus"] != "UNSHIPPED":
                raise ValueError(f"{order_id} is {order['orderStatus']}: only paid orders ship")
            self._track_seq += 1
            number = f"CJPKL{hashlib.sha1(self.name.encode()).hexdigest()[:4].upper()}{self._track_seq:09d}"
            order.update(orderStatus="SHIPPED", trackNumber=number, outWarehouseTime=_cj_time(time.time()),
                         trackingUrl=f"https://www.cjpacket.com/?trackingNumber={number}")
            self._paid_at.pop(order_id, None)
            snapshot = copy.deepcopy(order)
        self._message("order", snapshot)
        self._message("logistics", snapshot)
        return snapshot

    def _ship_due(self) -> None:
        if self.ship_after_seconds is None:
            return
        now = time.monotonic()
        with self.lock:
            due = [oid for oid, at in self._paid_at.items() if now - at >= self.ship_after_seconds]
        for order_id in due:
            with contextlib.suppress(KeyError, ValueError):
                self.ship(order_id)

    def order_list(self, page: int, size: int, status: str | None) -> dict[str, Any]:
        with self.lock:
            found = [copy.deepcopy(o) for o in self.orders.values() if not status or o["orderStatus"] == status]
        return {"pageNum": page, "pageSize": size, "total": len(found), "list": found[(page - 1) * size: page * size]}

    # ---- messages (contract 2.8) ---------------------------------------------------------------------------------

    def _message(self, topic: str, order: dict[str, Any]) -> None:
        """[U] ORDER and LOGISTICS params: the order's ids and status, and its tracking for LOGISTICS."""
        urls = self.callbacks.get(topic) or []
        if not urls:
            return
        params = {"orderId": order["orderId"], "orderNumber": order["orderNum"], "orderStatus": order["orderStatus"]}
        if topic == "logistics":
            params.update(logisticName=order["logisticName"], trackingNumber=order["trackNumber"],
                          trackingStatus="IN_TRANSIT")
        self.send_message(topic.upper(), "UPDATE", params, urls)

    def send_message(self, kind: str, message_type: str, params: dict[str, Any], urls: list[str] | None = None) -> str:
        message = {"messageId": uuid.uuid4().hex, "type": kind, "messageType": message_type,
                   "openId": self.open_id, "params": {**params, "fields": sorted(params)}}
        raw = json.dumps(message, separators=(",", ":")).encode()
        for url in urls if urls is not None else self.callbacks.get(kind.lower(), []):
            self.sender.send(url, raw, lambda body, attempt: {"Content-Type": "application/json"},
                             event_id=message["messageId"], kind=kind)
        return message["messageId"]

    def set_webhooks(self, body: dict[str, Any]) -> None:
        with self.lock:
            for topic in ("product", "stock", "order", "logistics"):
                section = body.get(topic)
                if not isinstance(section, dict):
                    continue
                if section.get("type") in ("ENABLE", "ALL"):
                    self.callbacks[topic] = [str(u) for u in section.get("callbackUrls") or []]
                elif section.get("type") == "CANCEL":
                    self.callbacks.pop(topic, None)

    def set_stock(self, sku: str, country: str, cj: int, factory: int = 0, notify: bool = True) -> None:
        """Change a variant's stock (as CJ's warehouse would) and send the STOCK message."""
        found = self.variant(sku=sku)
        if found is None:
            raise KeyError(sku)
        with self.lock:
            found[1].stock[country] = (cj, factory)
        if notify:
            self.send_message("STOCK", "UPDATE", {"vid": found[1].vid, "countryCode": country,
                                                  "cjInventoryNum": cj, "factoryInventoryNum": factory})
