"""Where the BigCommerce emulator used to differ from BigCommerce (issue 17), on the emulator and on the
connector: envelopes for every error (storefronts.md §3.8), documented shapes (§3.4), several inventory
locations (§3.3), and the points §3 leaves unverified, each with both behaviours."""

from __future__ import annotations

import time

import httpx
import pytest

from dropbridge.connectors.stores.bigcommerce import from_config
from dropbridge.sandbox.bigcommerce import BigCommerceEmulator
from dropbridge.services.ports import Fulfillment, StockUpdate
from tests.connectors.fixtures import load

HASH, TOKEN, SECRET = "fid123", "bc-fidelity-token", "bc-fidelity-secret"
AUTH = {"X-Auth-Token": TOKEN}
V2_NOT_FOUND = [{"status": 404, "message": "The requested resource was not found."}]


@pytest.fixture
def emu():
    with BigCommerceEmulator(HASH, TOKEN, SECRET, inventory_delay=0.05, retry_intervals=(0.05,)) as e:
        yield e


def api(emu) -> str:
    return f"{emu.url}/stores/{HASH}"


def store(emu, **config):
    return from_config(emu.url, {"access_token": TOKEN, "client_secret": SECRET},
                       {"store_hash": HASH, "backoff_base": 0.01, **config})


def seed(emu, sku="FID-1", quantity=5):
    return emu.add_product({"name": f"P {sku}", "type": "physical", "weight": 1, "price": "12.50",
                            "sku": f"{sku}-P", "inventory_tracking": "variant",
                            "variants": [{"sku": sku, "price": "12.50", "inventory_level": quantity,
                                          "option_values": [{"option_display_name": "Size", "label": "M"}]}]})


def test_every_error_is_in_the_envelope_of_its_api_version(emu):
    for path in ("/v2/orders/abc", "/v2/orders/99999", "/v2/no/such/thing", "/v2/orders/1.5/products"):
        response = httpx.get(api(emu) + path, headers=AUTH)
        assert (response.status_code, response.json()) == (404, V2_NOT_FOUND), path
    for path in ("/v3/catalog/products/abc", "/v3/catalog/nothing-here", "/v3/hooks/xyz"):
        response = httpx.get(api(emu) + path, headers=AUTH)
        body = response.json()
        assert response.status_code == 404 and set(body) == {"status", "title", "type", "errors"}, path
        assert body["status"] == 404 and body["type"].startswith("https://developer.bigcommerce.com")
        assert response.headers["content-type"].startswith("application/problem+json")
    wrong_method = httpx.patch(api(emu) + "/v3/hooks", headers=AUTH)
    assert wrong_method.status_code == 405 and wrong_method.json()["status"] == 405
    wrong_method_v2 = httpx.patch(api(emu) + "/v2/orders", headers=AUTH)
    assert wrong_method_v2.json() == [{"status": 405, "message": "The requested method is not allowed for this "
                                                                  "resource."}]
    for response in (wrong_method, wrong_method_v2):
        assert "detail" not in response.text


def test_orders_count_is_served_as_documented(emu):
    seed(emu)
    emu.create_order([{"sku": "FID-1", "quantity": 1}])
    emu.create_order([{"sku": "FID-1", "quantity": 1}], status_id=0)
    body = httpx.get(api(emu) + "/v2/orders/count", headers=AUTH).json()
    documented = load("bigcommerce", "orders_count")["body"]
    assert set(body) == set(documented) and set(body["statuses"][0]) == set(documented["statuses"][0])
    assert body["count"] == 2
    assert {s["id"]: s["count"] for s in body["statuses"]}[11] == 1


def test_products_and_variants_have_every_documented_field(emu):
    product = seed(emu)
    got = httpx.get(f"{api(emu)}/v3/catalog/products/{product['id']}", headers=AUTH).json()["data"]
    documented = load("bigcommerce", "product")["body"]["data"]
    sub_resources = {"variants", "images", "custom_fields", "bulk_pricing_rules", "primary_image", "modifiers",
                     "options", "videos"}
    assert set(documented) - sub_resources <= set(got), sorted(set(documented) - sub_resources - set(got))
    for name in ("date_modified", "custom_url", "availability", "calculated_price", "upc", "mpn", "gtin"):
        assert name in got
    assert got["custom_url"] == {"url": "/p-fid-1/", "is_customized": False}
    assert "variants" not in got  # sub-resources only with include=
    with_variants = httpx.get(f"{api(emu)}/v3/catalog/products/{product['id']}", params={"include": "variants"},
                              headers=AUTH).json()["data"]
    documented_variant = load("bigcommerce", "product_variants")["body"]["data"][0]
    assert set(documented_variant) <= set(with_variants["variants"][0])
    for name in ("cost_price", "upc", "image_url", "calculated_price"):
        assert name in with_variants["variants"][0]


def test_stock_lives_at_several_locations(emu):
    product = seed(emu, quantity=5)
    vid = product["variants"][0]["id"]
    second = emu.add_location("East warehouse")
    locations = httpx.get(api(emu) + "/v3/inventory/locations", headers=AUTH).json()["data"]
    assert [(loc["id"], loc["label"]) for loc in locations] == [(1, "Default location"), (second, "East warehouse")]
    result = store(emu, location_id=second).push_stock([StockUpdate(str(vid), "FID-1", 7)], "k")
    assert (result.applied, result.failed) == (1, [])
    emu.wait_inventory()
    assert (emu.stock_of(vid, 1), emu.stock_of(vid, second), emu.stock_of(vid)) == (5, 7, 12)
    items = httpx.get(api(emu) + "/v3/inventory/items", headers=AUTH).json()["data"][0]
    assert [(loc["location_id"], loc["available_to_sell"]) for loc in items["locations"]] == [(1, 5), (second, 7)]
    at = httpx.get(f"{api(emu)}/v3/inventory/locations/{second}/items", headers=AUTH).json()["data"][0]
    assert at["available_to_sell"] == 7
    catalog = httpx.get(f"{api(emu)}/v3/catalog/products/{product['id']}", headers=AUTH).json()["data"]
    assert catalog["inventory_level"] == 12  # the catalog reports the total
    refused = store(emu, location_id=99).push_stock([StockUpdate(str(vid), "FID-1", 1)], "k2")
    assert refused.applied == 0 and "Location with id 99 not found" in refused.failed[0][1]
    emu.wait_inventory()
    assert emu.stock_of(vid) == 12


def test_relative_adjustment_needs_an_absolute_one_first(emu):
    vid = seed(emu)["variants"][0]["id"]
    body = {"reason": "r", "items": [{"location_id": 1, "variant_id": vid, "quantity": -2}]}
    first = httpx.post(api(emu) + "/v3/inventory/adjustments/relative", json=body, headers=AUTH)
    assert first.status_code == 422 and "absolute" in first.json()["title"]
    httpx.put(api(emu) + "/v3/inventory/adjustments/absolute",
              json={"reason": "r", "items": [{"location_id": 1, "variant_id": vid, "quantity": 10}]}, headers=AUTH)
    assert httpx.post(api(emu) + "/v3/inventory/adjustments/relative", json=body, headers=AUTH).status_code == 200
    emu.wait_inventory()
    assert emu.stock_of(vid) == 8


@pytest.mark.parametrize("empty_204", [True, False])
def test_an_empty_orders_page_either_way(empty_204):
    """§3.7 [U]: an empty /v2/orders page may be 204 or 200 []; the connector ends paging on both."""
    with BigCommerceEmulator(HASH, TOKEN, SECRET, empty_orders_204=empty_204) as e:
        response = httpx.get(f"{e.url}/stores/{HASH}/v2/orders", headers=AUTH)
        assert (response.status_code, response.content) == ((204, b"") if empty_204 else (200, b"[]"))
        page = store(e).fetch_orders()
        assert (page.items, page.next_cursor) == ([], None)


@pytest.mark.parametrize("auto_status", [True, False])
def test_shipment_moves_the_order_status_or_not(auto_status):
    """§3.5 [U]: whether a shipment moves the order to Shipped; the connector's fulfillment works either way."""
    with BigCommerceEmulator(HASH, TOKEN, SECRET, auto_status_on_shipment=auto_status) as e:
        seed(e)
        order = e.create_order([{"sku": "FID-1", "quantity": 1}])
        store(e).push_fulfillment(Fulfillment(str(order["id"]), "UPS", "1Z9", None, []), "ship-1")
        assert e.order(order["id"])["status_id"] == (2 if auto_status else 11)
        assert len(e.shipments_of(order["id"])) == 1


def test_webhook_retries_keep_the_webhook_id_and_deactivate_the_hook_after_the_last(emu):
    hook = httpx.post(api(emu) + "/v3/hooks", headers=AUTH, json={"scope": "store/order/created",
                                                                   "destination": "http://127.0.0.1:9/x"}).json()["data"]
    seed(emu)
    emu.create_order([{"sku": "FID-1", "quantity": 1}])
    time.sleep(0.3)
    emu.wait_deliveries()
    attempts = emu.webhook_deliveries()
    assert [a["attempt"] for a in attempts] == [0, 1] and len({a["webhook_id"] for a in attempts}) == 1
    assert emu.hooks[hook["id"]]["is_active"] is False


def test_a_new_variant_names_existing_option_values_and_labels_are_renamed_in_place(emu):
    """POST .../variants takes option value ids the product has (storefronts.md §3.4): an unknown one is 422, a
    taken combination 422, a taken SKU 409; a value's label renamed in place shows on its variants."""
    product = seed(emu)
    pid = product["id"]
    [size] = httpx.get(api(emu) + f"/v3/catalog/products/{pid}/options", headers=AUTH).json()["data"]
    [m] = size["option_values"]
    unknown = httpx.post(api(emu) + f"/v3/catalog/products/{pid}/variants", headers=AUTH,
                         json={"sku": "FID-L", "option_values": [{"id": 999999, "option_id": size["id"]}]})
    assert unknown.status_code == 422 and set(unknown.json()) == {"status", "title", "type", "errors"}
    taken = httpx.post(api(emu) + f"/v3/catalog/products/{pid}/variants", headers=AUTH,
                       json={"sku": "FID-M2", "option_values": [{"id": m["id"], "option_id": size["id"]}]})
    assert taken.status_code == 422
    value = httpx.post(api(emu) + f"/v3/catalog/products/{pid}/options/{size['id']}/values", headers=AUTH,
                       json={"label": "L"}).json()["data"]
    again = httpx.post(api(emu) + f"/v3/catalog/products/{pid}/options/{size['id']}/values", headers=AUTH,
                       json={"label": "L"})
    assert again.status_code == 409
    dup_sku = httpx.post(api(emu) + f"/v3/catalog/products/{pid}/variants", headers=AUTH,
                         json={"sku": "FID-1", "option_values": [{"id": value["id"], "option_id": size["id"]}]})
    assert dup_sku.status_code == 409
    made = httpx.post(api(emu) + f"/v3/catalog/products/{pid}/variants", headers=AUTH,
                      json={"sku": "FID-L", "price": 13, "inventory_level": 3,
                            "option_values": [{"id": value["id"], "option_id": size["id"]}]})
    assert made.status_code == 200 and made.json()["data"]["option_values"][0]["label"] == "L"
    httpx.put(api(emu) + f"/v3/catalog/products/{pid}/options/{size['id']}/values/{m['id']}", headers=AUTH,
              json={"label": "Medium"}).raise_for_status()
    labels = {v["sku"]: v["option_values"][0]["label"] for v in emu.product(pid)["variants"]}
    assert labels == {"FID-1": "Medium", "FID-L": "L"}
    cat = httpx.post(api(emu) + "/v3/catalog/categories", headers=AUTH, json={"name": "Tees", "parent_id": 0})
    assert cat.status_code == 200
    assert httpx.post(api(emu) + "/v3/catalog/categories", headers=AUTH,
                      json={"name": "tees", "parent_id": 0}).status_code == 409


def test_a_rename_that_would_move_other_variants_is_refused_by_the_connector(emu):
    """A BigCommerce variant keeps its option value ids, so renaming is renaming the value, which every variant
    using it shows: when another variant still uses it, the connector refuses (nothing is changed)."""
    from dropbridge.domain.errors import PermanentError
    from dropbridge.domain.money import Money
    from dropbridge.services.ports import ProductDraft, ProductVariantDraft, VariantChanges

    product = emu.add_product({"name": "Two", "type": "physical", "weight": 1, "price": "5", "sku": "TWO",
                               "inventory_tracking": "variant", "variants": [
                                   {"sku": f"TWO-{c}", "price": "5", "option_values": [
                                       {"option_display_name": "Color", "label": c},
                                       {"option_display_name": "Size", "label": "M"}]} for c in ("Red", "Blue")]})
    red = next(v for v in product["variants"] if v["sku"] == "TWO-Red")
    wanted = ProductVariantDraft(sku="TWO-Red", price=Money(500, "USD"), options={"Color": "Red", "Size": "Medium"})
    changes = VariantChanges(str(product["id"]), ProductDraft(sku="TWO", title="Two"),
                             rename=[(str(red["id"]), wanted)])
    with pytest.raises(PermanentError, match="TWO-Blue also uses the option value"):
        store(emu).apply_variant_changes(changes, "k")
    assert {v["option_values"][1]["label"] for v in emu.product(product["id"])["variants"]} == {"M"}
