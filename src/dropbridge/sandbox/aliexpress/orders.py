"""The emulated order book: what ds.order.create makes (one AliExpress order per seller), how an order moves
(placed and unpaid, paid, shipped, closed unpaid after its payment window), and how trade.ds.order.get and
ds.order.tracking.get describe it (their docs' shapes, shared/contracts/suppliers.md 3.3)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

PLACED = "PLACE_ORDER_SUCCESS"  # created, waiting for the buyer's (our) payment
PAID = "WAIT_SELLER_SEND_GOODS"
SHIPPED = "WAIT_BUYER_ACCEPT_GOODS"
FINISHED = "FINISH"


@dataclass
class Line:
    product_id: str
    sku_id: str
    sku_attr: str
    count: int
    price: Decimal  # USD per unit
    service: str
    fee: Decimal  # USD, the whole line's delivery
    title: str


@dataclass
class Order:
    order_id: str
    out_order_id: str
    store_id: int
    store_name: str
    lines: list[Line]
    address: dict[str, Any]
    created_at: float = field(default_factory=time.time)
    paid_at: float | None = None
    status: str = PLACED
    end_reason: str | None = None
    parcels: list[dict[str, Any]] = field(default_factory=list)

    @property
    def logistics_status(self) -> str:
        if self.parcels:
            return "SELLER_SEND_GOODS"
        return "WAIT_SELLER_SEND_GOODS" if self.status == PAID else "NO_LOGISTICS"

    def amount(self) -> Decimal:
        return sum((ln.price * ln.count + ln.fee for ln in self.lines), Decimal(0))

    # ---- trade.ds.order.get -------------------------------------------------------------------------

    def answer(self, pay_timeout_seconds: int) -> dict[str, Any]:
        money = lambda v: {"amount": f"{v:.2f}", "currency_code": "USD"}  # noqa: E731
        children = []
        for ln in self.lines:
            child = {"product_id": int(ln.product_id), "sku_id": ln.sku_id, "product_name": ln.title,
                     "product_count": ln.count, "product_price": money(ln.price), "shipping_fee": money(ln.fee),
                     "actual_shipping_fee": money(ln.fee), "sale_fee": money(ln.price * ln.count),
                     "actual_fee": money(ln.price * ln.count + ln.fee), "already_include_tax": "false"}
            if self.end_reason:
                child["end_reason"] = self.end_reason
            children.append(child)
        out = {"gmt_create": datetime.fromtimestamp(self.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S"),
               "order_status": self.status, "logistics_status": self.logistics_status,
               "order_amount": money(self.amount()), "user_order_amount": money(self.amount()),
               "pay_timeout_second": str(pay_timeout_seconds),
               "child_order_list": {"aeop_child_order_info": children},
               "store_info": {"store_id": self.store_id, "store_name": self.store_name,
                              "store_url": f"https://www.aliexpress.com/store/{self.store_id}"}}
        if self.paid_at is not None:
            out["order_paidtime_string"] = datetime.fromtimestamp(self.paid_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        if self.parcels:
            out["logistics_info_list"] = {"aeop_order_logistics_info": [
                {"logistics_no": p["mail_no"], "logistics_service": p["service"]} for p in self.parcels]}
        return out

    # ---- ds.order.tracking.get ----------------------------------------------------------------------

    def tracking(self) -> dict[str, Any]:
        if not self.parcels:
            return {"ret": True, "msg": "", "code": "", "data": {"tracking_detail_line_list": {"tracking_detail": []}}}
        details = []
        for p in self.parcels:
            details.append({
                "mail_no": p["mail_no"], "carrier_name": p["carrier"], "eta_time_stamps": p["at_ms"] + 12 * 86_400_000,
                "detail_node_list": {"detail_node": [
                    {"time_stamp": p["at_ms"], "tracking_name": "Shipping update",
                     "tracking_detail_desc": "Package collected by carrier."}]},
                "package_item_list": {"package_item": [
                    {"item_id": int(ln.product_id), "quantity": ln.count, "item_title": ln.title,
                     "sku_desc": ln.sku_attr} for ln in self.lines]}})
        return {"ret": True, "msg": "", "code": "", "data": {"tracking_detail_line_list": {"tracking_detail": details}}}


@dataclass
class Creation:
    """One ds.order.create the emulator accepted: our reference and the orders it became."""

    out_order_id: str
    order_ids: list[str]
    at: float = field(default_factory=time.time)
