"""Where the Shopify emulator used to differ from Shopify (issue 17), on the emulator and on the connector:
several API versions with their own rules (storefronts.md §1.1, §1.3), named fragments, sortKey, Shop.id,
the Standard plan's 2000/100 bucket (§1.6), REST error envelopes (§1.8), and both behaviours of the [U]
points the emulator makes settings of."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from dropbridge.connectors.stores.shopify import ShopifyClient, from_config
from dropbridge.sandbox.shopify import ShopifyEmulator
from dropbridge.services.ports import StockUpdate

TOKEN = "shpat_fidelity"


@contextlib.contextmanager
def running(**options):
    emu = ShopifyEmulator(static_tokens=(TOKEN,), **options)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


def post(emu, version: str, query: str, variables: dict | None = None) -> httpx.Response:
    return httpx.post(f"{emu.url}/admin/api/{version}/graphql.json",
                      json={"query": query, "variables": variables or {}},
                      headers={"X-Shopify-Access-Token": TOKEN}, timeout=5)


def gql(emu, query: str, variables: dict | None = None, version: str | None = None) -> dict:
    response = post(emu, version or emu.api_version, query, variables)
    assert response.status_code == 200, response.text
    return response.json()


def store_for(emu, version: str):
    return from_config(emu.url, {"access_token": TOKEN, "client_secret": emu.client_secret},
                       {"api_version": version, "location_id": emu.primary_location, "shop_domain": emu.domain})


SET = """mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) { userErrors { code } inventoryAdjustmentGroup { id } } }"""


# ---- versions -------------------------------------------------------------------------------------


def test_one_shop_serves_every_supported_version_with_its_own_rules():
    with running() as emu:
        variant = emu.seed_product("V", [{"sku": "V-1", "price": "1.00", "quantity": 5}])["variants"][0]
        quantities = {"input": {"name": "available", "reason": "correction", "quantities": [
            {"inventoryItemId": variant["inventoryItemId"], "locationId": emu.primary_location, "quantity": 6}]}}
        for version in ("2025-01", "2025-07", "2026-01", "2026-04", "unstable"):
            response = post(emu, version, "{ shop { name } }")
            assert response.headers["X-Shopify-API-Version"] == version
        old = gql(emu, SET, quantities, "2025-07")  # compareQuantity era: required unless ignored
        assert [e["code"] for e in old["data"]["inventorySetQuantities"]["userErrors"]] == ["COMPARE_QUANTITY_REQUIRED"]
        assert gql(emu, SET, quantities, "2026-01")["data"]["inventorySetQuantities"]["userErrors"] == []
        newest = gql(emu, SET, quantities, "2026-04")
        assert "@idempotent directive is required" in newest["errors"][0]["message"]
        # The connector follows the version it is configured for, on the same shop.
        for version, quantity in (("2025-07", 7), ("2026-01", 8), ("2026-04", 9)):
            result = store_for(emu, version).push_stock([StockUpdate(variant["id"], "V-1", quantity)], f"k-{version}")
            assert (result.applied, result.failed) == (1, [])
            assert emu.available(variant["id"]) == quantity


@pytest.mark.parametrize("fall_forward", [True, False])
def test_a_retired_version_falls_forward_or_is_not_found(fall_forward):
    """A dated version older than the oldest supported: served as the oldest one ([U], `fall_forward`)."""
    with running(fall_forward=fall_forward) as emu:
        response = post(emu, "2023-04", "{ shop { name } }")
        if fall_forward:
            assert (response.status_code, response.headers["X-Shopify-API-Version"]) == (200, "2025-01")
        else:
            assert (response.status_code, response.json()) == (404, {"errors": "Not Found"})
        for bad in ("2026-02", "latest", "2099-01"):
            assert post(emu, bad, "{ shop { name } }").json() == {"errors": "Not Found"}


def test_rest_style_errors_for_every_path_shopify_does_not_serve():
    with running() as emu:
        for method, path in (("GET", "/admin/api/2026-01/orders.json"), ("GET", "/admin/api/2026-01/graphql.json"),
                             ("POST", "/admin/api/2026-01/nope.json"), ("DELETE", "/anything")):
            response = httpx.request(method, emu.url + path, headers={"X-Shopify-Access-Token": TOKEN})
            assert (response.status_code, response.json()) == (404, {"errors": "Not Found"}), (method, path)


# ---- GraphQL ---------------------------------------------------------------------------------------


def test_named_fragments_are_understood_and_checked():
    with running() as emu:
        emu.seed_product("Hat", [{"sku": "HAT-1", "price": "9.50", "quantity": 2}])
        query = """
          query Products { products(first: 5) { nodes { ...ProductBits } } }
          fragment ProductBits on Product { id title variants(first: 5) { nodes { ...VariantBits } } }
          fragment VariantBits on ProductVariant { sku price }
        """
        data = gql(emu, query)["data"]
        assert data["products"]["nodes"][0]["title"] == "Hat"
        assert data["products"]["nodes"][0]["variants"]["nodes"] == [{"sku": "HAT-1", "price": "9.5"}]
        plain = gql(emu, "{ products(first: 5) { nodes { id title variants(first: 5) { nodes { sku price } } } } }")
        assert plain["extensions"]["cost"]["requestedQueryCost"] == gql(emu, query)["extensions"]["cost"][
            "requestedQueryCost"]  # a fragment costs what its fields cost
        for bad, code in (("{ shop { ...Missing } }", "useAndDefineFragment"),
                          ("{ shop { name } } fragment Unused on Shop { name }", "useAndDefineFragment"),
                          ("{ shop { ...A } } fragment A on Shop { ...B } fragment B on Shop { ...A }",
                           "fragmentSpreadsAreFinite")):
            assert gql(emu, bad)["errors"][0]["extensions"]["code"] == code


def test_sort_keys_and_reverse_are_honoured():
    with running() as emu:
        for title in ("Banana", "apple", "Cherry"):
            emu.seed_product(title, [{"sku": f"S-{title}", "price": "1.00"}])
        titles = gql(emu, "{ products(first: 5, sortKey: TITLE) { nodes { title } } }")["data"]["products"]["nodes"]
        assert [n["title"] for n in titles] == ["apple", "Banana", "Cherry"]
        backwards = gql(emu, "{ products(first: 2, sortKey: TITLE, reverse: true) { nodes { title } "
                             "pageInfo { endCursor } } }")["data"]["products"]
        assert [n["title"] for n in backwards["nodes"]] == ["Cherry", "Banana"]
        rest = gql(emu, "query($c: String) { products(first: 2, sortKey: TITLE, reverse: true, after: $c) "
                        "{ nodes { title } } }", {"c": backwards["pageInfo"]["endCursor"]})["data"]["products"]
        assert [n["title"] for n in rest["nodes"]] == ["apple"]
        skus = gql(emu, "{ productVariants(first: 5, sortKey: SKU, reverse: true) { nodes { sku } } }")
        assert [n["sku"] for n in skus["data"]["productVariants"]["nodes"]] == ["S-apple", "S-Cherry", "S-Banana"]
        bad = gql(emu, "{ products(first: 5, sortKey: PRICE_ASCENDING) { nodes { id } } }")
        assert bad["errors"][0]["extensions"]["code"] == "argumentLiteralsIncompatible"


def test_orders_sort_key_orders_the_connectors_pull():
    with running() as emu:
        emu.seed_product("O", [{"sku": "O-1", "price": "1.00", "quantity": 50}])
        created = [emu.create_order([{"sku": "O-1", "quantity": 1}]) for _ in range(3)]
        newest_first = gql(emu, "{ orders(first: 5, sortKey: CREATED_AT, reverse: true) { nodes { id } } }")
        ids = [n["id"] for n in newest_first["data"]["orders"]["nodes"]]
        assert ids == sorted(ids, key=lambda i: int(i.rsplit("/", 1)[1]), reverse=True)
        pulled = store_for(emu, emu.api_version).fetch_orders()  # the connector asks sortKey: ID
        assert [o.external_id for o in pulled.items] == [o["admin_graphql_api_id"] for o in created]


def test_shop_has_an_id_and_is_a_node():
    with running() as emu:
        shop = gql(emu, "{ shop { id name myshopifyDomain currencyCode primaryDomain { host } } }")["data"]["shop"]
        assert shop["id"].startswith("gid://shopify/Shop/") and shop["primaryDomain"]["host"] == emu.domain
        node = gql(emu, "query($id: ID!) { node(id: $id) { id ... on Shop { name } } }", {"id": shop["id"]})
        assert node["data"]["node"] == {"id": shop["id"], "name": emu.shop}


# ---- throttle --------------------------------------------------------------------------------------


def test_a_standard_shop_reports_2000_and_100_and_the_connector_plans_with_them():
    with running() as emu:
        status = gql(emu, "{ shop { name } }")["extensions"]["cost"]["throttleStatus"]
        assert (status["maximumAvailable"], status["restoreRate"]) == (2000.0, 100.0)
        client = ShopifyClient(emu.url, emu.api_version, access_token=TOKEN)
        client.execute("{ shop { name } }", what="shop")
        assert (client.budget.maximum, client.budget.restore_rate) == (2000.0, 100.0)
        client.close()


# ---- [U] settings, both ways -----------------------------------------------------------------------


@pytest.mark.parametrize("report", [True, False])
def test_token_grant_with_or_without_expires_in(report):
    with running(report_expires_in=report, token_lifetime=3600) as emu:
        grant = httpx.post(f"{emu.url}/admin/oauth/access_token",
                           data={"grant_type": "client_credentials", "client_id": emu.client_id,
                                 "client_secret": emu.client_secret}).json()
        assert ("expires_in" in grant) is report
        store = from_config(emu.url, {"client_id": emu.client_id, "client_secret": emu.client_secret},
                            {"api_version": emu.api_version, "location_id": emu.primary_location})
        store.fetch_orders()
        emu.expire_tokens()
        store.fetch_orders()  # without expires_in the refused token is renewed after the 401
        assert emu.stats["token_grants"] == 3  # ours above, then the connector's first and renewed ones


@pytest.mark.parametrize("all_or_nothing", [True, False])
def test_one_bad_quantity_refuses_the_batch_or_only_itself(all_or_nothing):
    with running(inventory_all_or_nothing=all_or_nothing) as emu:
        good = emu.seed_product("G", [{"sku": "G-1", "price": "1.00", "quantity": 1}])["variants"][0]
        store = store_for(emu, emu.api_version)
        result = store.push_stock([StockUpdate(good["id"], "G-1", 5, good["inventoryItemId"]),
                                   StockUpdate("gid://shopify/ProductVariant/1", "X", 5,
                                               "gid://shopify/InventoryItem/1")], "k")
        assert (result.applied, [f[0] for f in result.failed]) == (1, ["gid://shopify/ProductVariant/1"])
        assert emu.available(good["id"]) == 5
        assert len(emu.adjustment_groups) == 1  # all-or-nothing: resent without the bad one; else applied at once


@pytest.mark.parametrize("stable", [True, False])
def test_webhook_id_across_retries_either_way(stable):
    from tests.connectors.test_shopify import receiving

    with receiving(fail_first=1) as (receiver, uri), running(webhook_retry_delays=(0.05,),
                                                            webhook_id_stable_across_retries=stable) as emu:
        store = store_for(emu, emu.api_version)
        store.subscribe_webhooks(uri, topics=("ORDERS_CREATE",))
        emu.seed_product("W", [{"sku": "W-1", "price": "1.00", "quantity": 5}])
        emu.create_order([{"sku": "W-1", "quantity": 1}])
        (h1, b1), (h2, b2) = receiver.wait(2)[:2]
        assert (h1["x-shopify-webhook-id"] == h2["x-shopify-webhook-id"]) is stable
        assert h1["x-shopify-event-id"] == h2["x-shopify-event-id"]
        # The connector de-duplicates on the event id, so both answers are the same event either way.
        assert store.verify_webhook(h1, b1).event_id == store.verify_webhook(h2, b2).event_id


@pytest.mark.parametrize("max_array", [250, 100])
def test_the_array_limit_is_a_setting_and_the_connector_follows_a_lower_one(max_array):
    """§1.3 [U]: whether 250 binds inventorySetQuantities.quantities."""
    with running(max_array=max_array) as emu:
        product = emu.seed_product("A", [{"sku": f"A-{i}", "price": "1.00", "options": {"N": str(i)}}
                                         for i in range(150)])
        quantities = [{"inventoryItemId": v["inventoryItemId"], "locationId": emu.primary_location, "quantity": 2}
                      for v in product["variants"][:max_array + 1]]
        refused = gql(emu, SET, {"input": {"name": "available", "reason": "correction", "quantities": quantities}})
        assert ("errors" in refused) is (len(quantities) > max_array)
        config = {"api_version": emu.api_version, "location_id": emu.primary_location, "stock_batch_size": max_array}
        store = from_config(emu.url, {"access_token": TOKEN}, config)
        updates = [StockUpdate(v["id"], v["sku"], 3, v["inventoryItemId"]) for v in product["variants"]]
        result = store.push_stock(updates, "arr")
        assert (result.applied, result.failed, result.calls) == (150, [], -(-150 // max_array))


@pytest.mark.parametrize("max_page", [250, 500])
def test_the_page_size_cap_is_a_setting(max_page):
    """§1.7 [U]: the exact 250 cap on `first`."""
    with running(max_page=max_page) as emu:
        out = gql(emu, "{ products(first: 300) { nodes { id } } }")
        assert ("errors" in out) is (max_page < 300)
        if max_page < 300:
            assert out["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"


@pytest.mark.parametrize("stocked", [True, False])
def test_new_variants_stocked_at_the_primary_location_or_not(stocked):
    """§1.4 [U]: whether a new variant is stocked at the primary location; when it is not, the connector
    reports the item as failed (ITEM_NOT_STOCKED_AT_LOCATION, §1.3) and writes nothing for it."""
    with running(stock_new_items_at_primary=stocked) as emu:
        store = from_config(emu.url, {"access_token": TOKEN}, {"api_version": emu.api_version})
        created = gql(emu, """mutation { productSet(synchronous: true, input: {title: "N", variants: [
            {optionValues: [], sku: "N-1", price: "1.00"}]}) {
              product { variants(first: 1) { nodes { id inventoryItem { id } } } } userErrors { code } } }""")
        node = created["data"]["productSet"]["product"]["variants"]["nodes"][0]
        variant = {"id": node["id"], "inventoryItemId": node["inventoryItem"]["id"]}
        assert (emu.primary_location in emu.items[variant["inventoryItemId"]]["levels"]) is stocked
        result = store.push_stock([StockUpdate(variant["id"], "N-1", 4, variant["inventoryItemId"])], "n")
        if stocked:
            assert (result.applied, result.failed) == (1, []) and emu.available(variant["id"]) == 4
        else:
            assert result.applied == 0 and result.failed[0][1].startswith("ITEM_NOT_STOCKED_AT_LOCATION")
            assert emu.primary_location not in emu.items[variant["inventoryItemId"]]["levels"]


@pytest.mark.parametrize("required", [True, False])
def test_idempotency_requirement_can_be_forced_either_way(required):
    """§1.3 [S]: a community report says 2026-04 did not reject missing keys at first: a setting."""
    with running(api_version="2026-04", require_idempotency=required) as emu:
        variant = emu.seed_product("I", [{"sku": "I-1", "price": "1.00", "quantity": 1}])["variants"][0]
        out = gql(emu, SET, {"input": {"name": "available", "reason": "correction", "quantities": [
            {"inventoryItemId": variant["inventoryItemId"], "locationId": emu.primary_location, "quantity": 3,
             "changeFromQuantity": None}]}})
        assert ("errors" in out) is required
        assert emu.available(variant["id"]) == (1 if required else 3)


ADD_VARIANTS = """mutation Add($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkCreate(productId: $productId, variants: $variants, strategy: DEFAULT) {
    productVariants { id sku selectedOptions { name value } } userErrors { field code } } }"""
CHANGE_VARIANTS = """mutation Change($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants { id } userErrors { field code } } }"""


def test_variants_are_added_and_renamed_beside_the_live_ones():
    """productVariantsBulkCreate keeps every variant (strategy DEFAULT) and adds the option value it brings;
    a combination the product has is VARIANT_ALREADY_EXISTS and nothing is created (storefronts.md §1.4);
    productVariantsBulkUpdate renames a value in place, and an unused value leaves the option."""
    with running() as emu:
        p = emu.seed_product("Tee", [{"sku": "T-S", "price": "10.00", "options": {"Size": "S"}},
                                     {"sku": "T-M", "price": "10.00", "options": {"Size": "M"}}])
        before = {v["id"] for v in p["variants"]}
        new = {"optionValues": [{"optionName": "Size", "name": "L"}], "price": "11.00",
               "inventoryItem": {"sku": "T-L"},
               "inventoryQuantities": [{"locationId": emu.primary_location, "availableQuantity": 4}]}
        dup = {**new, "optionValues": [{"optionName": "Size", "name": "M"}], "inventoryItem": {"sku": "T-X"}}
        refused = gql(emu, ADD_VARIANTS, {"productId": p["id"], "variants": [new, dup]})["data"]
        assert [e["code"] for e in refused["productVariantsBulkCreate"]["userErrors"]] == ["VARIANT_ALREADY_EXISTS"]
        assert len(emu.product(p["id"])["variants"]) == 2  # all or nothing
        missing = {**new, "optionValues": []}
        refused = gql(emu, ADD_VARIANTS, {"productId": p["id"], "variants": [missing]})["data"]
        assert refused["productVariantsBulkCreate"]["userErrors"][0]["code"] == "NEED_TO_ADD_OPTION_VALUES"
        done = gql(emu, ADD_VARIANTS, {"productId": p["id"], "variants": [new]})["data"]["productVariantsBulkCreate"]
        [created] = done["productVariants"]
        assert (created["sku"], done["userErrors"]) == ("T-L", [])
        after = emu.product(p["id"])
        assert before < {v["id"] for v in after["variants"]} and emu.available(created["id"]) == 4
        assert after["options"][0]["values"] == ["S", "M", "L"]
        m = next(v["id"] for v in after["variants"] if v["sku"] == "T-M")
        clash = gql(emu, CHANGE_VARIANTS, {"productId": p["id"], "variants": [
            {"id": m, "optionValues": [{"optionName": "Size", "name": "S"}]}]})["data"]["productVariantsBulkUpdate"]
        assert clash["userErrors"][0]["code"] == "VARIANT_ALREADY_EXISTS"
        gql(emu, CHANGE_VARIANTS, {"productId": p["id"], "variants": [
            {"id": m, "optionValues": [{"optionName": "Size", "name": "Medium"}]}]})
        renamed = emu.product(p["id"])
        assert next(v for v in renamed["variants"] if v["id"] == m)["options"] == {"Size": "Medium"}
        assert renamed["options"][0]["values"] == ["S", "L", "Medium"]
