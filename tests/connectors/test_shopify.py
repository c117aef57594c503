"""Shopify-specific behaviour: tokens, version rules for inventory, idempotency, throttling, webhooks.

Everything runs against the emulator over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response

from dropbridge.connectors.stores.shopify import ShopifyClient, ShopifyStore, from_config, mapping
from dropbridge.connectors.stores.shopify.webhooks import verify
from dropbridge.domain.errors import AuthExpired, PermanentError, WebhookRejected
from dropbridge.domain.money import Money
from dropbridge.sandbox.kit.server import start_server
from dropbridge.sandbox.shopify import ShopifyEmulator, sign_webhook
from dropbridge.services.ports import (
    Fulfillment,
    FulfillmentLine,
    ProductDraft,
    ProductVariantDraft,
    StockUpdate,
)


@contextlib.contextmanager
def running(**options):
    emu = ShopifyEmulator(**options)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


def store_for(emu: ShopifyEmulator, **config) -> ShopifyStore:
    base = {"api_version": emu.api_version, "location_id": emu.primary_location, "shop_domain": emu.domain}
    return from_config(emu.url, {"client_id": emu.client_id, "client_secret": emu.client_secret}, base | config)


def raw_graphql(emu: ShopifyEmulator, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    token = token or next(iter(emu.static_tokens))
    response = httpx.post(f"{emu.url}/admin/api/{emu.api_version}/graphql.json",
                          json={"query": query, "variables": variables or {}},
                          headers={"X-Shopify-Access-Token": token}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def seed(emu: ShopifyEmulator, sku: str, quantity: int = 5, price: str = "10.00") -> dict:
    return emu.seed_product(sku, [{"sku": sku, "price": price, "quantity": quantity}])["variants"][0]


SET_MUTATION = """
mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input)%s {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}
"""


def set_input(emu: ShopifyEmulator, item: str, quantity: int, **extra) -> dict:
    return {"input": {"name": "available", "reason": "correction",
                      "quantities": [{"inventoryItemId": item, "locationId": emu.primary_location,
                                      "quantity": quantity, **extra}]}}


# -- tokens -----------------------------------------------------------------------------------------


def test_client_credentials_token_is_refreshed_after_expiry():
    with running() as emu:
        store = store_for(emu)
        variant = seed(emu, "TOK-1")
        assert store.push_stock([StockUpdate(variant["id"], "TOK-1", 3)], "tok-1").applied == 1
        emu.expire_tokens()

        result = store.push_stock([StockUpdate(variant["id"], "TOK-1", 4)], "tok-2")

        assert result.applied == 1 and emu.available(variant["id"]) == 4
        assert emu.stats["token_grants"] == 2
        assert emu.stats["unauthorized"] == 1  # one refused call, then the refreshed token
        assert store.client.token_requests == 2


def test_token_is_renewed_before_it_expires_without_a_refused_call():
    now = [1000.0]
    with running(token_lifetime=3600) as emu:
        client = ShopifyClient(emu.url, emu.api_version, client_id=emu.client_id, client_secret=emu.client_secret,
                               clock=lambda: now[0])
        client.execute("query { shop { name } }", what="shop")
        now[0] += 3600 - 300 + 1  # inside the early-refresh margin
        client.execute("query { shop { name } }", what="shop")
        assert (client.token_requests, emu.stats["token_grants"], emu.stats["unauthorized"]) == (2, 2, 0)
        client.close()


def test_wrong_client_secret_and_refused_static_token_raise_auth_expired():
    with running() as emu:
        bad = from_config(emu.url, {"client_id": emu.client_id, "client_secret": "wrong"},
                          {"location_id": emu.primary_location})
        with pytest.raises(AuthExpired):
            bad.fetch_orders()
        static = from_config(emu.url, {"access_token": "shpat_revoked"}, {"location_id": emu.primary_location})
        with pytest.raises(AuthExpired) as info:
            static.fetch_orders()
        assert "Invalid API key or access token" in str(info.value)
        assert emu.stats["unauthorized"] == 1  # a static token is not retried
        assert emu.stats["token_grants"] == 0


# -- inventory rules by version ---------------------------------------------------------------------


def test_2026_04_requires_idempotent_directive_and_change_from_quantity():
    with running(api_version="2026-04") as emu:
        variant = seed(emu, "V04-1", quantity=5)
        item = variant["inventoryItemId"]

        missing_key = raw_graphql(emu, SET_MUTATION % "", set_input(emu, item, 8, changeFromQuantity=None))
        assert "@idempotent directive is required" in missing_key["errors"][0]["message"]
        missing_cas = raw_graphql(emu, SET_MUTATION % ' @idempotent(key: "k-1")', set_input(emu, item, 8))
        errors = missing_cas["data"]["inventorySetQuantities"]["userErrors"]
        assert [e["code"] for e in errors] == ["CHANGE_FROM_QUANTITY_REQUIRED"]
        removed = raw_graphql(emu, SET_MUTATION % ' @idempotent(key: "k-2")',
                              set_input(emu, item, 8, compareQuantity=5))
        assert removed["errors"][0]["extensions"]["code"] == "argumentNotAccepted"
        assert emu.available(variant["id"]) == 5  # none of the refused calls changed stock

        store = store_for(emu)
        result = store.push_stock([StockUpdate(variant["id"], "V04-1", 8)], "v04")
        assert (result.applied, result.failed, emu.available(variant["id"])) == (1, [], 8)


def test_2026_01_change_from_quantity_is_optional_and_checked_when_given():
    with running(api_version="2026-01") as emu:
        variant = seed(emu, "V01-1", quantity=5)
        item = variant["inventoryItemId"]
        stale = raw_graphql(emu, SET_MUTATION % "", set_input(emu, item, 9, changeFromQuantity=4))
        assert [e["code"] for e in stale["data"]["inventorySetQuantities"]["userErrors"]] == [
            "CHANGE_FROM_QUANTITY_STALE"]
        assert emu.available(variant["id"]) == 5
        fresh = raw_graphql(emu, SET_MUTATION % "", set_input(emu, item, 9, changeFromQuantity=5))
        assert fresh["data"]["inventorySetQuantities"]["userErrors"] == []
        plain = raw_graphql(emu, SET_MUTATION % "", set_input(emu, item, 11))
        assert plain["data"]["inventorySetQuantities"]["userErrors"] == []
        assert emu.available(variant["id"]) == 11


def test_idempotent_key_replays_the_original_result_and_rejects_other_parameters():
    with running() as emu:
        variant = seed(emu, "IDEM-1", quantity=5)
        item = variant["inventoryItemId"]
        query = SET_MUTATION % ' @idempotent(key: "same-key")'
        first = raw_graphql(emu, query, set_input(emu, item, 7))
        emu.items[item]["levels"][emu.primary_location]["available"] = 2  # the shop sells in between

        replay = raw_graphql(emu, query, set_input(emu, item, 7))
        assert replay["data"] == first["data"]
        assert emu.available(variant["id"]) == 2  # the replay did not set 7 again
        other = raw_graphql(emu, query, set_input(emu, item, 8))
        assert other["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"

        store = store_for(emu)
        store.push_stock([StockUpdate(variant["id"], "IDEM-1", 30)], "outbox-row-9")
        emu.items[item]["levels"][emu.primary_location]["available"] = 29
        store.push_stock([StockUpdate(variant["id"], "OTHER", 30)], "outbox-row-9")  # a retried job
        assert emu.available(variant["id"]) == 29


def test_arrays_over_250_are_refused_and_the_connector_never_sends_them():
    with running() as emu:
        product = emu.seed_product("ARR", [{"sku": f"ARR-{i}", "price": "1.00", "options": {"N": str(i)}}
                                           for i in range(251)])
        quantities = [{"inventoryItemId": v["inventoryItemId"], "locationId": emu.primary_location, "quantity": 1}
                      for v in product["variants"]]
        refused = raw_graphql(emu, SET_MUTATION % "", {"input": {"name": "available", "reason": "correction",
                                                               "quantities": quantities}})
        assert refused["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"

        store = store_for(emu)
        updates = [StockUpdate(v["id"], v["sku"], 4, v["inventoryItemId"]) for v in product["variants"]]
        before = emu.stats["calls"]
        result = store.push_stock(updates, "arr")
        assert (result.calls, result.applied, emu.stats["calls"] - before) == (2, 251, 2)
        assert {emu.available(v["id"]) for v in product["variants"]} == {4}


def test_item_not_stocked_at_location_is_reported_and_the_rest_applied():
    with running() as emu:
        elsewhere = emu.add_location("Overflow")
        a, b = seed(emu, "LOC-A"), seed(emu, "LOC-B")
        emu.items[b["inventoryItemId"]]["levels"][elsewhere] = {"available": 1, "on_hand": 1, "committed": 0}
        del emu.items[a["inventoryItemId"]]["levels"][emu.primary_location]
        emu.items[a["inventoryItemId"]]["levels"][elsewhere] = {"available": 0, "on_hand": 0, "committed": 0}
        store = store_for(emu, location_id=elsewhere)
        c = seed(emu, "LOC-C")  # stocked only at the primary location

        result = store.push_stock([StockUpdate(a["id"], "LOC-A", 6), StockUpdate(c["id"], "LOC-C", 6),
                                   StockUpdate(b["id"], "LOC-B", 6)], "loc")

        assert result.applied == 2
        assert [(vid, reason.split(":")[0]) for vid, reason in result.failed] == [
            (c["id"], "ITEM_NOT_STOCKED_AT_LOCATION")]
        assert result.calls == 3  # variant lookup, the refused batch, the batch without the bad item
        assert emu.available(a["id"], elsewhere) == 6 and emu.available(b["id"], elsewhere) == 6
        assert emu.available(c["id"]) == 5


def test_unknown_variant_fails_without_a_write():
    with running() as emu:
        store = store_for(emu)
        result = store.push_stock([StockUpdate("gid://shopify/ProductVariant/999999", "NOPE", 1)], "unknown")
        assert result.applied == 0 and result.failed[0][0] == "gid://shopify/ProductVariant/999999"
        assert emu.adjustment_groups == []


# -- throttling -------------------------------------------------------------------------------------


def test_budget_waits_just_enough_so_the_bucket_never_refuses():
    with running(bucket_size=30, restore_rate=100) as emu:
        variant = seed(emu, "BUD-1")
        store = store_for(emu)
        started = time.monotonic()
        for n in range(8):  # 8 mutations x 10 points against a 30-point bucket at 100/s
            store.push_stock([StockUpdate(variant["id"], "BUD-1", n, variant["inventoryItemId"])], f"bud-{n}")
        elapsed = time.monotonic() - started
        assert emu.stats["throttled"] == 0
        assert elapsed >= (80 - 30) / 100 * 0.9
        assert elapsed < 2.0


@pytest.mark.parametrize("status", [200, 429])
def test_throttled_answers_are_waited_out(status):
    with running(throttle_status=status, bucket_size=100, restore_rate=100) as emu:
        variant = seed(emu, "THR-1")
        store = store_for(emu)
        emu.throttle_next(2)
        result = store.push_stock([StockUpdate(variant["id"], "THR-1", 3, variant["inventoryItemId"])], "thr")
        assert (result.calls, result.applied, emu.stats["throttled"]) == (3, 1, 2)
        assert store.client.throttled == 2


def test_query_over_the_max_cost_is_a_permanent_error():
    with running() as emu:
        store = store_for(emu, orders_page_size=50, line_items_page_size=50)
        with pytest.raises(PermanentError, match="MAX_COST_EXCEEDED"):
            store.fetch_orders()


def test_server_error_on_an_idempotent_push_is_retried_in_the_call():
    with running() as emu:
        variant = seed(emu, "5XX-1")
        store = store_for(emu)
        emu.fail_next(1, 502)
        result = store.push_stock([StockUpdate(variant["id"], "5XX-1", 2, variant["inventoryItemId"])], "5xx")
        assert (result.calls, result.applied, emu.available(variant["id"])) == (2, 1, 2)


# -- webhooks ---------------------------------------------------------------------------------------


class Receiver:
    def __init__(self, fail_first: int = 0):
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        self.app = FastAPI()

        @self.app.post("/hooks")
        async def hooks(request: Request) -> Response:
            self.got.append((dict(request.headers), await request.body()))
            return Response(status_code=500 if len(self.got) <= self.fail_first else 200)

    def wait(self, n: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.got) >= n, f"{len(self.got)} deliveries, wanted {n}"
        return self.got


@contextlib.contextmanager
def receiving(fail_first: int = 0):
    receiver = Receiver(fail_first)
    server = start_server(receiver.app)
    try:
        yield receiver, server.url + "/hooks"
    finally:
        server.stop()


def test_failed_delivery_is_retried_with_the_same_event_body_and_trigger_time():
    with receiving(fail_first=1) as (receiver, uri), running(webhook_retry_delays=(0.05, 0.05)) as emu:
        store = store_for(emu)
        assert len(store.subscribe_webhooks(uri)) == 4  # orders create/updated/cancelled, refunds/create
        assert store.subscribe_webhooks(uri) == store.subscribe_webhooks(uri)  # no duplicates
        assert len(emu.subscriptions) == 4
        seed(emu, "RET-1")
        emu.create_order([{"sku": "RET-1", "quantity": 1}])

        (h1, b1), (h2, b2) = receiver.wait(2)[:2]
        assert b1 == b2
        for name in ("x-shopify-event-id", "x-shopify-triggered-at", "x-shopify-webhook-id", "x-shopify-topic"):
            assert h1[name] == h2[name]
        assert h1["x-shopify-hmac-sha256"] == sign_webhook(emu.client_secret, b1)
        assert (h1["x-shopify-shop-domain"], h1["x-shopify-api-version"]) == (emu.domain, emu.api_version)
        events = [store.verify_webhook(h, b) for h, b in ((h1, b1), (h2, b2))]
        assert events[0].event_id == events[1].event_id == h1["x-shopify-event-id"]
        assert events[0].topic == "orders/create"


def test_duplicate_deliveries_share_the_event_id_and_cancellation_maps():
    with receiving() as (receiver, uri), running(webhook_duplicates=1) as emu:
        store = store_for(emu)
        store.subscribe_webhooks(uri, topics=("ORDERS_CREATE", "ORDERS_CANCELLED"))
        seed(emu, "DUP-1")
        order = emu.create_order([{"sku": "DUP-1", "quantity": 1}])
        receiver.wait(2)
        emu.cancel_order(order["id"])
        got = receiver.wait(4)
        events = [store.verify_webhook(h, b) for h, b in got]
        assert events[0].event_id == events[1].event_id != events[2].event_id == events[3].event_id
        cancelled = store.order_from_event(events[2])
        assert events[2].topic == "orders/cancelled" and cancelled.cancelled is True
        assert cancelled.external_id == order["admin_graphql_api_id"]


def test_verify_rejects_other_shops_stale_future_and_accepts_rotated_secret():
    body = json.dumps({"id": 1}).encode()
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def headers(secret="s1", shop="demo.myshopify.com", at=now):
        return {"X-Shopify-Hmac-Sha256": sign_webhook(secret, body), "X-Shopify-Shop-Domain": shop,
                "X-Shopify-Topic": "orders/create", "X-Shopify-Event-Id": "e-1",
                "X-Shopify-Triggered-At": at.isoformat()}

    def check(h, secrets=("s1",)):
        return verify(h, body, list(secrets), shop_domain="demo.myshopify.com", now=lambda: now)

    assert check(headers()).event_id == "e-1"
    assert check(headers(secret="s0"), secrets=("s1", "s0")).event_id == "e-1"  # during a rotation
    assert check(headers(at=now - timedelta(hours=23))).occurred_at == now - timedelta(hours=23)
    for bad in (headers(secret="s0"), headers(shop="other.myshopify.com"),
                headers(at=now - timedelta(hours=24, seconds=1)), headers(at=now + timedelta(minutes=6))):
        with pytest.raises(WebhookRejected):
            check(bad)


# -- orders, products, fulfillment ------------------------------------------------------------------


def test_long_orders_fetch_every_line_item_and_money_is_exact():
    with running() as emu:
        lines = []
        for i in range(20):
            seed(emu, f"LONG-{i:02d}", price="0.10")
            lines.append({"sku": f"LONG-{i:02d}", "quantity": 1 + i % 3, "price": "0.10", "discount": "0.01"})
        order = emu.create_order(lines, shipping_price="0.30", tax_rate="0.07")
        store = store_for(emu)
        pulled = store.fetch_orders().items[0]
        from_rest = mapping.order_from_rest(order)
        assert pulled == from_rest
        assert [line.sku for line in pulled.lines] == [f"LONG-{i:02d}" for i in range(20)]
        assert pulled.total_discounts == Money(20, "USD")
        assert pulled.total_price == Money.parse(order["total_price"], "USD")
        assert sum(line.tax.amount for line in pulled.lines) == pulled.total_tax.amount


def test_mapping_of_the_documented_example_body():
    body = {
        "id": 450789469, "admin_graphql_api_id": "gid://shopify/Order/450789469", "name": "#1001",
        "order_number": 1001, "email": "bob@example.com", "created_at": "2026-01-10T11:00:00-05:00",
        "currency": "USD", "financial_status": "paid", "fulfillment_status": None, "cancelled_at": None,
        "subtotal_price": "398.00", "total_tax": "11.94", "total_discounts": "0.00", "total_price": "409.94",
        "line_items": [{"id": 466157049, "admin_graphql_api_id": "gid://shopify/LineItem/466157049",
                        "variant_id": 39072856, "sku": "IPOD2008GREEN", "title": "IPod Nano - 8gb",
                        "quantity": 2, "price": "199.00"}],
        "shipping_lines": [{"code": "Free Shipping", "title": "Free Shipping", "price": "0.00"}],
        "shipping_address": {"first_name": "Bob", "last_name": "Norman", "name": "Bob Norman", "company": None,
                             "address1": "Chestnut Street 92", "address2": "", "city": "Louisville",
                             "province": "Kentucky", "province_code": "KY", "zip": "40202",
                             "country": "United States", "country_code": "US", "phone": "555-625-1199"},
    }
    order = mapping.order_from_rest(body)
    assert order.external_id == "gid://shopify/Order/450789469" and order.number == "#1001"
    assert order.created_at == datetime(2026, 1, 10, 16, 0, tzinfo=UTC)
    line = order.lines[0]
    assert (line.external_id, line.sku, line.quantity, line.unit_price, line.external_variant_id) == (
        "gid://shopify/LineItem/466157049", "IPOD2008GREEN", 2, Money(19900, "USD"),
        "gid://shopify/ProductVariant/39072856")
    assert (order.total_tax, order.total_price, order.shipping_price) == (
        Money(1194, "USD"), Money(40994, "USD"), Money(0, "USD"))
    assert (order.ship_to.province_code, order.ship_to.country_code, order.ship_to.postal_code) == (
        "KY", "US", "40202")


def test_republish_replaces_variants_and_keeps_ids():
    with running() as emu:
        store = store_for(emu)
        usd = "USD"
        draft = ProductDraft(sku="Mug 1", title="Mug", variants=[
            ProductVariantDraft(sku="MUG-R", price=Money(900, usd), options={"Color": "Red"}),
            ProductVariantDraft(sku="MUG-B", price=Money(900, usd), options={"Color": "Blue"})])
        first = store.publish_product(draft, "p1")
        second = store.publish_product(ProductDraft(sku="Mug 1", title="Mug", variants=[
            ProductVariantDraft(sku="MUG-R", price=Money(950, usd), compare_at_price=Money(1200, usd),
                                options={"Color": "Red"})]), "p2")
        assert second.external_product_id == first.external_product_id
        assert second.variant_ids == {"MUG-R": first.variant_ids["MUG-R"]}
        product = emu.product(first.external_product_id)
        assert product["handle"] == "mug-1"
        assert [(v["sku"], Decimal(v["price"]), Decimal(v["compareAtPrice"])) for v in product["variants"]] == [
            ("MUG-R", Decimal("9.50"), Decimal("12.00"))]
        assert first.variant_ids["MUG-B"] not in emu.variants


def test_fulfillment_of_part_of_an_order_then_the_rest():
    with running() as emu:
        seed(emu, "PART-1")
        seed(emu, "PART-2")
        order = emu.create_order([{"sku": "PART-1", "quantity": 2}, {"sku": "PART-2", "quantity": 1}])
        store = store_for(emu)
        lines = mapping.order_from_rest(order).lines

        first = store.push_fulfillment(Fulfillment(order["admin_graphql_api_id"], "UPS", "1Z1", None,
                                                   [FulfillmentLine(lines[0].external_id, 1)]), "f-1")
        second = store.push_fulfillment(Fulfillment(order["admin_graphql_api_id"], "USPS", "9400", None, []), "f-2")
        assert first != second
        shipped = emu.fulfillments_for(order["admin_graphql_api_id"])
        assert [[(x["lineItemId"], x["quantity"]) for x in f["lineItems"]] for f in shipped] == [
            [(lines[0].external_id, 1)], [(lines[0].external_id, 1), (lines[1].external_id, 1)]]
        assert all(f["notifyCustomer"] for f in shipped)
        with pytest.raises(PermanentError, match="no open fulfillment order"):
            store.push_fulfillment(Fulfillment(order["admin_graphql_api_id"], "UPS", "1Z3", None, []), "f-3")
        assert len(emu.fulfillments_for(order["admin_graphql_api_id"])) == 2


def test_unknown_field_is_a_graphql_error():
    with running() as emu:
        out = raw_graphql(emu, "query { shop { name notAField } }")
        assert out["errors"][0]["message"] == "Field 'notAField' doesn't exist on type 'Shop'"
