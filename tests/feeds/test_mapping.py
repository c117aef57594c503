import io

import pytest

from dropbridge.connectors.formats.feeds.mapping import ColumnMapping, normalize_header
from dropbridge.connectors.formats.feeds.presets import PRESETS, preset
from dropbridge.connectors.formats.feeds.reader import read_feed
from dropbridge.connectors.formats.feeds.spec import FeedSpec
from dropbridge.connectors.formats.feeds.types import FeedFormatError, ParsedRow


def test_normalize_header():
    assert normalize_header("Retailer's Cost") == "retailerscost"
    assert normalize_header(" SKU** ") == "sku"
    assert normalize_header("Qty_Avail") == normalize_header("qty avail") == "qtyavail"


@pytest.mark.parametrize(
    "headers, expected",
    [
        (["SKU", "QTY", "Price"], {"sku": 0, "qty": 1, "cost": 2}),
        (["Supplier SKU", "Quantity Available", "Retailer's Cost"], {"sku": 0, "qty": 1, "cost": 2}),
        (["item_sku", "inventory quantity", "Base Cost"], {"sku": 0, "qty": 1, "cost": 2}),
        (["product_sku", "qty_avail", "stock", "wholesale_price"], {"sku": 0, "qty": 1, "cost": 3}),
        (["SupplierSKU", "qty", "cost", "MerchantSKU"], {"sku": 0, "qty": 1, "cost": 2}),
    ],
)
def test_generic_aliases(headers, expected):
    resolved = preset("generic").resolve(headers)
    assert {k: v for k, v in resolved.index.items() if k in expected} == expected


def test_earlier_alias_wins_over_header_order():
    # Doba files carry both item_sku (the variant) and product_sku (its parent)
    resolved = preset("generic").resolve(["product_sku", "item_sku", "qty", "cost"])
    assert resolved.index["sku"] == 1


def test_missing_required_names_field_and_headers():
    with pytest.raises(FeedFormatError) as e:
        preset("generic").resolve(["SKU", "Price"])
    msg = str(e.value)
    assert "'qty'" in msg and "headers seen: 'SKU', 'Price'" in msg


def test_round_trip_and_preset_override():
    m = ColumnMapping.from_dict({
        "preset": "hublogix", "fields": {"qty": ["On Hand"]}, "defaults": {"currency": "CAD"},
        "transforms": {"cost": {"scale": "0.01"}, "sku": {"strip_prefix": "X-", "value_map": {"A b": "c"}}},
    })
    assert m.fields["qty"] == ("On Hand",)
    assert m.fields["cost"] == ("Retailer's Cost",)
    again = ColumnMapping.from_dict(m.to_dict())
    assert again == m
    spec = FeedSpec.from_dict(
        {"format": "csv", "delimiter": "tab", "currency": "eur", "mapping": m.to_dict()})
    assert spec.delimiter == "\t" and spec.currency == "EUR"
    assert FeedSpec.from_dict(spec.to_dict()) == spec
    assert FeedSpec.from_dict({"mapping": "doba"}).mapping == preset("doba")


@pytest.mark.parametrize(
    "bad",
    [{"fields": {"colour": ["x"]}}, {"bogus": 1}, {"preset": "nope"}, {"transforms": {"cost": {"times": 2}}},
     {"transforms": {"cost": {"scale": "abc"}}}],
)
def test_bad_mappings_are_rejected(bad):
    with pytest.raises(ValueError):
        ColumnMapping.from_dict(bad)


@pytest.mark.parametrize(
    "bad",
    [{"format": "xml"}, {"delimiter": ";;"}, {"encoding": "nope-8"}, {"currency": "XX"}, {"colour": 1}],
)
def test_bad_specs_are_rejected(bad):
    with pytest.raises((ValueError, LookupError)):
        FeedSpec.from_dict(bad)


def rows_of(data: bytes, name: str):
    spec = FeedSpec(mapping=preset(name))
    return [r for b in read_feed(io.BytesIO(data), name="f.csv", spec=spec) for r in b.rows]


def test_doba_preset():
    data = (b"item_id,product_id,product_sku,item_sku,title,qty_avail,stock,price,msrp,map,upc,brand_name,"
            b"images,item_weight\n"
            b"11,7,TEE,TEE-M,Tee M,5,in-stock,4.10,19.99,14.99,012345678905,Acme,https://a/1.jpg|https://a/2.jpg,0.3\n"
            b"12,7,TEE,TEE-L,Tee L,9,discontinued,4.10,,,,Acme,,\n")
    rows = rows_of(data, "doba")
    assert [(r.sku, r.stock, r.cost_minor, r.gtin) for r in rows] == [
        ("TEE-M", 5, 410, "00012345678905"), ("TEE-L", 0, 410, None)]  # discontinued: stock forced to 0
    assert rows[0].catalog["parent_sku"] == "TEE"
    assert rows[0].catalog["images"] == ["https://a/1.jpg", "https://a/2.jpg"]
    cat = rows[0].catalog
    assert (cat["msrp_minor"], cat["map_minor"], cat["brand"]) == (1999, 1499, "Acme")
    assert rows[1].catalog["status"] == "discontinued"


def test_hublogix_preset():
    data = (b"SKU**,Product Name,Brand Name**,MPN,UPC,Quantity Available,Retailer's Cost,MSRP,Notes\n"
            b"HL-1,Lamp,Acme,L-100,012345678905,12,$20.00,$39.99,fragile\n")
    [row] = rows_of(data, "hublogix")
    assert row[:5] == (2, "HL-1", 12, 2000, "USD")
    assert (row.catalog["title"], row.catalog["brand"], row.catalog["mpn"], row.catalog["msrp_minor"]) == (
        "Lamp", "Acme", "L-100", 3999)


def test_logicbroker_preset():
    data = b"SupplierSKU,MerchantSKU,Quantity,Cost,Warehouse\nLB-1,M-9,3,7.25,EAST\n"
    assert rows_of(data, "logicbroker") == [ParsedRow(2, "LB-1", 3, 725, "USD")]


def test_syncee_preset():
    data = (b"product id,SKU/variant SKU,title,price,barcode,image URL,inventory quantity,description,"
            b"option name,option value\n"
            b"P1,P1-RED,Mug,3.00,4006381333931,https://i/1.jpg,4,Nice,Color,Red\n")
    [row] = rows_of(data, "syncee")
    assert row[:7] == (2, "P1-RED", 4, 300, "USD", None, "04006381333931")
    assert row.catalog["options"] == {"Color": "Red"}
    assert row.catalog["parent_sku"] == "P1"
    assert row.catalog["images"] == ["https://i/1.jpg"]


def test_fabric_preset():
    data = b"Supplier SKU,Base Cost,Shipping Cost,MAP,Quantity\nF-1,10.00,2.00,15.00,6\n"
    [row] = rows_of(data, "fabric")
    assert row[:5] == (2, "F-1", 6, 1000, "USD")
    assert row.catalog["map_minor"] == 1500


def test_every_preset_loads():
    for name in PRESETS:
        assert preset(name).required == ("sku", "qty", "cost")
