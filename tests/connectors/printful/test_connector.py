"""The Printful connector against its emulator over real HTTP, every request and response checked against
Printful's OpenAPI documents (conftest): offers, orders in both versions, the two-step confirmation and its
recovery, refusals, cancellation, tracking, rates, invoices, and token expiry."""

from __future__ import annotations

import time

import httpx
import pytest

from dropbridge.domain.errors import AuthExpired, OutOfStock, PermanentError, RateLimited, RetryableError
from dropbridge.domain.money import Money
from dropbridge.services.ports import (
    Address,
    Branding,
    Placement,
    PrintFile,
    ShippingQuoteRequest,
    SupplierOrderItem,
    SupplierOrderLineRequest,
    SupplierOrderRequest,
)

from .conftest import build

SHIP_TO = Address(name="Jane Doe", address1="19749 Dearborn St", city="Chatsworth", country_code="US",
                  postal_code="91311", province_code="CA")
DESIGN = (PrintFile("front", "https://acme.example/front.png", "dtg"),)


def pull(connector) -> list:
    rows, cursor, pages = [], None, 0
    while True:
        page = connector.fetch_offers(cursor)
        rows += page.items
        pages += 1
        if not page.next_cursor:
            return rows
        cursor = page.next_cursor


def eventually(get, ok, timeout: float = 10.0):
    """`get()` once `ok` holds of it (Printful computes costs asynchronously; a loaded machine lags)."""
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def request(reference: str, sku: str = "PF-4012", quantity: int = 1, files=DESIGN, **kw) -> SupplierOrderRequest:
    return SupplierOrderRequest(
        reference=reference, ship_to=SHIP_TO, items=[SupplierOrderItem(sku, quantity)], email="jane@example.com",
        lines=(SupplierOrderLineRequest(sku, quantity, Money(985, "USD"), line_ref="7", print_files=tuple(files)),),
        branding=Branding(store_name="Acme Tees", message="Thank you!", customer_order_number="#1001"), **kw)


def test_a_pull_offers_store_products_then_the_catalog_products_named(emulator, connector):
    rows = {r.supplier_sku: r for r in pull(connector)}
    store = {f"LOGO-TEE-{c}-{s}" for c in ("WHT", "BLK") for s in ("S", "M", "L", "XL", "2XL")} | {"QUOTE-MUG-11"}
    catalog = {f"PF-{v}" for v in range(4011, 4021)} | {"PF-1320", "PF-4830"}
    assert set(rows) == store | catalog
    assert (rows["LOGO-TEE-BLK-M"].cost, rows["LOGO-TEE-BLK-M"].stock) == (Money(985, "USD"), 1000)
    assert rows["LOGO-TEE-BLK-2XL"].stock == 0  # temporarily out of stock in the store
    assert rows["LOGO-TEE-BLK-M"].catalog["parent_sku"] == "PF-SP-logo-tee"
    tee = rows["PF-4020"]  # Black 2XL: out of stock in Europe only
    assert (tee.cost, tee.stock, tee.catalog["options"]) == (Money(1225, "USD"), 1000, {"Color": "Black",
                                                                                        "Size": "2XL"})
    assert tee.catalog["title"] == "Unisex Staple T-Shirt | Bella + Canvas 3001"
    assert tee.catalog["images"][0].endswith("/4020_1581412541.jpg")
    europe = {r.supplier_sku: r for r in pull(build(emulator, selling_region="europe", store_products=False))}
    assert set(europe) == catalog and europe["PF-4020"].stock == 0 and europe["PF-4019"].stock == 1000


def test_a_pull_waits_out_a_refused_page_instead_of_failing(emulator, connector):
    emulator.faults.inject("rate_limit", operation="catalog", retry_after=1)
    emulator.faults.inject("error_500", operation="catalog")
    assert len(pull(connector)) == 23  # 11 store variants, 12 catalog variants: all there
    assert emulator.faults.pending() == {}


def test_the_whole_catalog_pages_at_one_hundred_with_the_calls_the_api_needs(make_emulator):
    emulator = make_emulator(featured=False, store_products=False, catalog_products=150, variants_per_product=120,
                             rate_limit_per_minute=60_000)
    connector = build(emulator, timeout=30.0, catalog_products="all", available_quantity=7, store_products=False,
                      rate_limit_per_minute=60_000)  # no timeout on a loaded machine: every call counts
    rows = pull(connector)
    assert len(rows) == len({r.supplier_sku for r in rows}) == 150 * 120
    assert sum(r.stock == 0 for r in rows) == 0  # worldwide, all in stock
    # 2 list pages, and per product: its variants, its prices, 2 availability pages of 100
    assert connector.client.calls == 2 + 150 * (1 + 1 + 2)
    assert emulator.calls == {"catalog": connector.client.calls}


def test_a_catalog_order_goes_through_v2_with_designs_and_packing_slip_then_is_confirmed(emulator, connector):
    placed = connector.place_order(request("db-1-1-1", quantity=2))
    assert (placed.reference, placed.status, placed.placement) == ("db-1-1-1", "pending", Placement.ACCEPTED)
    assert placed.cost is None  # Printful is still calculating
    (order,) = emulator.order_list()
    assert (order["external_id"], order["status"], str(order["id"])) == ("db-1-1-1", "pending", placed.external_id)
    (item,) = order["items"]
    assert (item["variant_id"], item["quantity"], item["external_id"]) == (4012, 2, "7")
    assert [(f["type"], f["url"]) for f in item["files"]] == [("front", "https://acme.example/front.png")]
    assert order["packing_slip"] == {"store_name": "Acme Tees", "message": "Thank you!", "custom_order_id": "#1001"}
    found = eventually(lambda: connector.find_order("db-1-1-1"), lambda f: f.cost is not None)  # computed later
    assert (found.cost, found.shipping_cost) == (Money(1970, "USD"), Money(695, "USD"))


def test_in_draft_mode_the_order_waits_for_the_merchant(emulator):
    connector = build(emulator, confirm="draft")
    placed = connector.place_order(request("db-2-1-1"))
    assert (placed.status, placed.placement) == ("draft", Placement.AWAITING_PAYMENT)
    assert connector.find_order("db-2-1-1").status == "draft"  # looking it up does not confirm it
    assert [o["status"] for o in emulator.order_list()] == ["draft"]


def test_a_draft_left_between_the_two_steps_is_confirmed_not_made_again(emulator, connector):
    emulator.faults.inject("error_500", operation="orders.confirm")
    with pytest.raises(RetryableError):
        connector.place_order(request("db-3-1-1"))
    assert [o["status"] for o in emulator.order_list()] == ["draft"]
    found = connector.find_order("db-3-1-1")
    assert (found.status, found.placement) == ("pending", Placement.ACCEPTED)
    assert [(o["external_id"], o["status"]) for o in emulator.order_list()] == [("db-3-1-1", "pending")]


def test_a_second_attempt_that_finds_our_reference_taken_returns_the_first_order(emulator, connector):
    first = connector.place_order(request("db-4-1-1"))
    again = connector.place_order(request("db-4-1-1"))  # OR-13 EXTERNAL_ID_IN_USE: it is ours
    assert again.external_id == first.external_id and len(emulator.order_list()) == 1


def test_a_store_product_order_goes_through_v1_by_external_variant_id(emulator, connector):
    placed = connector.place_order(request("db-5-1-1", "LOGO-TEE-WHT-M", files=(), shipping_method="EXPRESS"))
    assert (placed.status, placed.placement) == ("pending", Placement.ACCEPTED)
    (order,) = emulator.order_list()
    assert (order["shipping"], order["items"][0]["external_variant_id"]) == ("EXPRESS", "LOGO-TEE-WHT-M")
    assert order["items"][0]["files"][0]["url"] == "https://example.com/designs/logo-front.png"  # its own design


def test_a_catalog_line_without_a_design_is_refused_before_anything_is_sent(emulator, connector):
    with pytest.raises(PermanentError, match="PF-4012 has no design"):
        connector.place_order(request("db-6-1-1", files=()))
    assert emulator.order_list() == [] and emulator.calls == {}


def test_refusals_say_why_and_create_nothing(emulator, connector):
    emulator.faults.inject("reject")
    with pytest.raises(OutOfStock, match="out of stock"):
        connector.place_order(request("db-7-1-1"))
    with pytest.raises(OutOfStock, match="temporary out of stock"):
        connector.place_order(request("db-7-1-2", "LOGO-TEE-BLK-2XL", files=()))
    with pytest.raises(PermanentError, match="OR-4"):
        connector.place_order(request("db-7-1-3", shipping_method="OVERNIGHT"))
    assert emulator.order_list() == []


def test_cancel_before_production_and_refused_after(emulator, connector):
    placed = connector.place_order(request("db-8-1-1"))
    assert connector.cancel_order(placed.external_id).status == "canceled"
    shipped = connector.place_order(request("db-8-1-2"))
    emulator.ship(shipped.external_id)
    with pytest.raises(PermanentError, match="can no longer be canceled"):
        connector.cancel_order(shipped.external_id)
    assert [o["status"] for o in emulator.order_list()] == ["canceled", "fulfilled"]


def test_tracking_by_poll_names_carrier_number_and_items(emulator, connector):
    placed = connector.place_order(request("db-9-1-1", quantity=3))
    assert connector.fetch_tracking(placed.external_id, "db-9-1-1") == []
    emulator.ship(placed.external_id)
    (update,) = connector.fetch_tracking(placed.external_id, "db-9-1-1")
    assert (update.reference, update.carrier, update.external_order_id) == ("db-9-1-1", "USPS", placed.external_id)
    assert update.tracking_number.startswith("9400") and update.tracking_url.endswith(update.tracking_number)
    assert update.items == [SupplierOrderItem("PF-4012", 3)] and update.shipped_at is not None


def test_shipping_rates_for_catalog_and_store_products(emulator, connector):
    quote = ShippingQuoteRequest((SupplierOrderItem("PF-4012", 2),), "US", "91311", "CA", "USD", "Chatsworth",
                                 "19749 Dearborn St")
    options = {o.method: o for o in connector.quote_shipping(quote)}
    assert (options["STANDARD"].cost, options["STANDARD"].min_days) == (Money(695, "USD"), 3)
    assert options["EXPRESS"].cost == Money(1549, "USD")
    store = ShippingQuoteRequest((SupplierOrderItem("LOGO-TEE-BLK-M", 1),), "DE", "10115", "", "EUR", "Berlin",
                                 "Unter den Linden 1")
    (standard, express) = connector.quote_shipping(store)
    assert (standard.method, standard.cost, express.cost) == ("STANDARD", Money(597, "EUR"), Money(1563, "EUR"))
    with pytest.raises(PermanentError, match="state_code"):  # contract 1.6: US needs a state
        connector.quote_shipping(ShippingQuoteRequest((SupplierOrderItem("PF-4012", 1),), "US", city="X",
                                                      address1="1 Main"))


def test_an_invoice_once_the_order_is_charged_and_costed(emulator, connector):
    placed = connector.place_order(request("db-10-1-1", quantity=2))
    invoice = eventually(lambda: connector.fetch_invoice(placed.external_id, "db-10-1-1"), lambda i: i is not None)
    assert (invoice.number, invoice.total) == (f"PF-{placed.external_id}", Money(2665, "USD"))
    assert [(ln.kind, ln.supplier_sku, ln.quantity, ln.unit_price.amount) for ln in invoice.lines] == \
        [("item", "PF-4012", 2, 985), ("shipping", None, 1, 695)]
    draft = build(emulator, confirm="draft").place_order(request("db-10-1-2"))
    assert connector.fetch_invoice(draft.external_id, "db-10-1-2") is None


def test_an_expired_token_is_said_not_retried(emulator, connector):
    emulator.faults.inject("token_expired", operation="orders.read")
    with pytest.raises(AuthExpired, match="expired"):
        connector.find_order("db-11-1-1")
    assert connector.find_order("db-11-1-1") is None  # the next call, with a good token, answers


def test_the_accounts_rate_limit_is_honoured(make_emulator):
    emulator = make_emulator(rate_limit_per_minute=2)
    connector = build(emulator, rate_limit_per_minute=1000)  # a budget above what the account has
    connector.find_order("db-12-1-1")
    connector.find_order("db-12-1-2")
    with pytest.raises(RateLimited) as info:  # a write is not retried: the job runner waits Retry-After
        connector.place_order(request("db-12-1-3"))
    assert 20 <= info.value.retry_after <= 30  # Retry-After: until the bucket holds one token again


def test_the_check_fails_a_field_printful_does_not_define(emulator, spec_check):
    body = {"external_id": "db-13-1-1", "recipient": {"address1": "1 Main", "city": "X", "country_code": "DE"},
            "order_items": [{"source": "catalog", "catalog_variant_id": 4012, "quantity": 1, "gift_wrap": True,
                             "placements": [{"placement": "front", "layers": [{"type": "file",
                                                                                "url": "https://a.example/f.png"}]}]}]}
    r = httpx.post(f"{emulator.url}/v2/orders", json=body, headers={"Authorization": f"Bearer {emulator.api_token}"})
    assert r.status_code == 200  # the emulator took it; the documents do not define the field
    assert spec_check.violations == ["POST /v2/orders: request field body.order_items[0].gift_wrap is not defined "
                                     "by the documents"]
    r = httpx.get(f"{emulator.url}/v2/orders", params={"status": "draft"},
                  headers={"Authorization": f"Bearer {emulator.api_token}"})
    assert spec_check.violations[1] == "GET /v2/orders: query parameters the documents do not define: ['status']"
    spec_check.violations.clear()
