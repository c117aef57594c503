"""Delivery windows (Capability.DELIVERY) on each platform that declares it, connector against emulator over
real HTTP: every window lands in the variant's own field, read back through the platform's API; more than
one batch is split at the platform's limit; a bad variant fails alone; errors come in each platform's
envelope."""

from __future__ import annotations

import importlib

import httpx
import pytest

from dropbridge.connectors.registry import Registry
from dropbridge.domain.errors import PermanentError
from dropbridge.services.ports import Capability, DeliveryUpdate

DELIVERY_PLATFORMS = [i.name for i in Registry.default().kinds("store") if i.has(Capability.DELIVERY)]


def test_the_three_platforms_declare_delivery():
    assert sorted(DELIVERY_PLATFORMS) == ["bigcommerce", "shopify", "woocommerce"]


@pytest.fixture(params=sorted(DELIVERY_PLATFORMS))
def harness(request):
    module = importlib.import_module(f"{__package__}.{request.param}_harness")
    with module.open_harness() as h:
        yield h


def _product_of(h, vid: str) -> str:
    emu = h.emulator
    if emu.name == "shopify":
        return emu.variants[vid]["productId"]
    if emu.name == "bigcommerce":
        return str(emu.variants[int(vid)]["product_id"])
    return vid  # WooCommerce simple product: the product is the variant


def _stored(h, vid: str) -> str | None:
    """The window as the platform returns it (its own read API)."""
    emu, c = h.emulator, h.connector
    if emu.name == "shopify":
        data = c.client.execute('query($id: ID!) { productVariant(id: $id) { '
                                'metafield(namespace: "dropbridge", key: "delivery_days") { value } } }',
                                {"id": vid}, what="read")
        field = data["productVariant"]["metafield"]
        return field and field["value"]
    if emu.name == "bigcommerce":
        body = c.client.get(f"/v3/catalog/products/{_product_of(h, vid)}/variants/{vid}/metafields",
                            what="read", params={"namespace": "dropbridge", "key": "delivery_days"})
        return body["data"][0]["value"] if body["data"] else None
    body, _ = c.client.get(f"/wp-json/wc/v3/products/{vid}", what="read")
    found = [m["value"] for m in body["meta_data"] if m["key"] == "dropbridge_delivery_days"]
    return found[0] if found else None


def test_windows_land_per_variant_in_batches_and_a_bad_variant_fails_alone(harness):
    h = harness
    vids = [h.seed_product(f"D{i:02d}", 1, "9.99") for i in range(27)]  # > Shopify's 25 a metafieldsSet
    updates = [DeliveryUpdate(v, _product_of(h, v), f"D{i:02d}", 5, 9 + i % 3) for i, v in enumerate(vids)]
    bogus = {"shopify": "gid://shopify/ProductVariant/999999999", "woocommerce": "999999",
             "bigcommerce": "999999"}[h.emulator.name]
    bad = DeliveryUpdate(bogus, bogus if h.emulator.name != "bigcommerce" else _product_of(h, vids[0]), "X", 1, 2)
    calls = h.api_calls()
    result = h.connector.push_delivery(updates[:13] + [bad] + updates[13:], "k1")
    assert result.applied == 27
    assert [vid for vid, _ in result.failed] == [bogus]
    assert h.api_calls() - calls == result.calls  # the count it reports is what the store saw
    assert all(_stored(h, u.external_variant_id) == u.value for u in updates)
    if h.emulator.name == "shopify":
        assert result.calls == 3  # two batches of 25 and 3, the first sent again without the bad one
    elif h.emulator.name == "woocommerce":
        assert result.calls == 1  # one products/batch call (<= 100)
    else:  # the listing of fields, one batch create (partial success), then the refused variant's own lookup
        assert result.calls == 3
    # Again with new values: updated in place, never a second field.
    again = [DeliveryUpdate(u.external_variant_id, u.external_product_id, u.sku, 6, 12) for u in updates[:3]]
    second = h.connector.push_delivery(again, "k2")
    assert second.applied == 3
    if h.emulator.name == "bigcommerce":
        assert second.calls == 2  # the listing of fields, then one batch update by metafield id
    assert [_stored(h, u.external_variant_id) for u in again] == ["6-12"] * 3
    assert _stored(h, updates[3].external_variant_id) == updates[3].value


def test_shopify_metafields_set_is_atomic_and_capped():
    from .shopify_harness import open_harness
    with open_harness() as h:
        vid = h.seed_product("S1", 1, "5.00")
        run = h.connector.client.execute
        mutation = ("mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { "
                    "metafields { id value } userErrors { field message code elementIndex } } }")
        good = {"ownerId": vid, "namespace": "dropbridge", "key": "delivery_days", "type": "single_line_text_field",
                "value": "5-9"}
        data = run(mutation, {"m": [good, {**good, "key": "other", "type": "number_integer", "value": "x"}]},
                   what="t")["metafieldsSet"]
        assert data["metafields"] is None
        assert data["userErrors"][0]["elementIndex"] == 1 and data["userErrors"][0]["code"] == "INVALID_VALUE"
        assert _stored(h, vid) is None  # atomic: the good one was not written either
        data = run(mutation, {"m": [good] * 26}, what="t")["metafieldsSet"]
        assert data["userErrors"][0]["code"] == "LESS_THAN_OR_EQUAL_TO"
        data = run(mutation, {"m": [{k: v for k, v in good.items() if k != "type"}]}, what="t")["metafieldsSet"]
        assert data["userErrors"][0]["code"] == "BLANK"  # no type and no such metafield yet


def test_woocommerce_bad_meta_data_is_rest_invalid_param():
    from .woocommerce_harness import open_harness
    with open_harness() as h:
        vid = h.seed_product("W1", 1, "5.00")
        with pytest.raises(PermanentError) as caught:
            h.connector.client.put(f"/wp-json/wc/v3/products/{vid}", {"meta_data": "5-9"}, what="t")
        assert caught.value.status == 400
        assert "rest_invalid_param" in str(caught.value) or "meta_data" in str(caught.value)


def test_bigcommerce_metafield_errors_in_the_v3_envelope():
    from .bigcommerce_harness import ACCESS_TOKEN, STORE_HASH, open_harness
    with open_harness() as h:
        vid = h.seed_product("B1", 1, "5.00")
        pid = _product_of(h, vid)
        url = f"{h.emulator.url}/stores/{STORE_HASH}/v3/catalog/products/{pid}/variants/{vid}/metafields"
        headers = {"X-Auth-Token": ACCESS_TOKEN, "Accept": "application/json"}
        body = {"namespace": "dropbridge", "key": "delivery_days", "value": "5-9", "permission_set": "read"}
        assert httpx.post(url, json=body, headers=headers).status_code == 200
        dup = httpx.post(url, json=body, headers=headers)
        assert dup.status_code == 409 and dup.json()["status"] == 409 and "title" in dup.json()
        missing = httpx.post(url, json={"namespace": "n", "key": "k", "value": "v"}, headers=headers)
        assert missing.status_code == 422 and "permission_set" in missing.json()["errors"]
        gone = httpx.get(url.replace(f"/variants/{vid}/", "/variants/999999/"), headers=headers)
        assert gone.status_code == 404 and gone.json()["type"]
        listed = httpx.get(url, params={"key": "delivery_days"}, headers=headers).json()
        assert [m["value"] for m in listed["data"]] == ["5-9"] and listed["meta"]["pagination"]["total"] == 1


def test_bigcommerce_batch_metafields_write_the_good_items_and_name_the_rest():
    from .bigcommerce_harness import ACCESS_TOKEN, STORE_HASH, open_harness
    with open_harness() as h:
        vids = [int(h.seed_product(f"B{i}", 1, "5.00")) for i in range(2)]
        url = f"{h.emulator.url}/stores/{STORE_HASH}/v3/catalog/variants/metafields"
        headers = {"X-Auth-Token": ACCESS_TOKEN, "Accept": "application/json"}
        item = {"namespace": "dropbridge", "key": "delivery_days", "value": "5-9", "permission_set": "read"}
        made = httpx.post(url, json=[{**item, "resource_id": vids[0]}, {**item, "resource_id": 999999},
                                     {**item, "resource_id": vids[1], "permission_set": "nobody"}], headers=headers)
        assert made.status_code == 422
        body = made.json()
        assert [m["resource_id"] for m in body["data"]] == [vids[0]]
        assert body["meta"] == {"total": 3, "success": 1, "failed": 2}
        assert [e["status"] for e in body["errors"]] == [422, 422] and "permission_set" in body["errors"][1]["errors"]
        mid = body["data"][0]["id"]
        assert httpx.post(url, json=[{**item, "resource_id": vids[0]}], headers=headers).json()["errors"][0][
            "status"] == 409  # the same namespace and key twice on one variant
        updated = httpx.put(url, json=[{"id": mid, "value": "6-10"}], headers=headers)
        assert updated.status_code == 200 and updated.json()["data"][0]["value"] == "6-10"
        assert httpx.put(url, json=[{"id": 424242, "value": "x"}], headers=headers).status_code == 422
        listed = httpx.get(url, params={"namespace": "dropbridge", "key": "delivery_days"}, headers=headers).json()
        assert [(m["resource_id"], m["value"]) for m in listed["data"]] == [(vids[0], "6-10")]
        empty = httpx.post(url, json=[], headers=headers)
        assert empty.status_code == 400 and empty.json()["title"]


def test_bigcommerce_asks_per_variant_when_the_store_holds_many_more_fields():
    """A store with far more delivery fields than one push changes: the fields are looked up per variant
    instead of paging through them all."""
    from .bigcommerce_harness import open_harness
    with open_harness() as h:
        vids = [h.seed_product(f"M{i:03d}", 1, "5.00") for i in range(510)]
        first = h.connector.push_delivery([DeliveryUpdate(v, _product_of(h, v), "M", 5, 9) for v in vids], "k1")
        assert first.applied == 510 and first.calls == 1 + 11  # nothing yet; 11 batch creates of <= 50
        calls = h.api_calls()
        one = h.connector.push_delivery([DeliveryUpdate(vids[7], _product_of(h, vids[7]), "M", 7, 11)], "k2")
        assert one.applied == 1 and not one.failed
        # the first page (of three), the variant's own lookup, one update; not the other two pages
        assert one.calls == h.api_calls() - calls == 3
        assert _stored(h, vids[7]) == "7-11" and _stored(h, vids[8]) == "5-9"
