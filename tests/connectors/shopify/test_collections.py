"""Category rules as Shopify collections (storefronts.md §1.10), on the emulator over HTTP and through the
connector: collectionCreate and collectionAddProducts with their errors in Shopify's envelope (HTTP 200,
`userErrors` of `field` and `message`), and the connector filing a product in a collection per level of its
category path, created once when missing, reusing the merchant's own, leaving smart collections to their rules."""

from __future__ import annotations

import httpx
import pytest

from dropbridge.connectors.stores.shopify import from_config
from dropbridge.domain.errors import PermanentError
from dropbridge.domain.money import Money
from dropbridge.sandbox.shopify import ShopifyEmulator
from dropbridge.services.ports import ProductDraft, ProductVariantDraft, VariantChanges

TOKEN = "shpat_collections"
CREATE = """mutation C($input: CollectionInput!) {
  collectionCreate(input: $input) { collection { id title handle ruleSet { appliedDisjunctively } }
                                    userErrors { field message } } }"""
ADD = """mutation A($id: ID!, $ids: [ID!]!) {
  collectionAddProducts(id: $id, productIds: $ids) { collection { id productsCount { count } }
                                                     userErrors { field message } } }"""


@pytest.fixture
def emu():
    emu = ShopifyEmulator(static_tokens=(TOKEN,))
    emu.start()
    yield emu
    emu.stop()


def gql(emu, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(f"{emu.url}/admin/api/{emu.api_version}/graphql.json",
                          json={"query": query, "variables": variables or {}},
                          headers={"X-Shopify-Access-Token": TOKEN}, timeout=5)
    assert response.status_code == 200, response.text  # errors too come back with 200 (§1.8)
    return response.json()


def store(emu):
    return from_config(emu.url, {"access_token": TOKEN}, {"location_id": emu.primary_location,
                                                          "shop_domain": emu.domain})


def draft(sku: str, category: str | None) -> ProductDraft:
    return ProductDraft(sku=sku, title=sku.title(), category=category,
                        variants=[ProductVariantDraft(sku=f"{sku}-1", price=Money(1999, "USD"), quantity=3)])


def test_collection_create_and_add_products_answer_in_shopifys_envelope(emu):
    pid = emu.seed_product("Tee", [{"sku": "T-1", "price": "10.00"}])["id"]
    blank = gql(emu, CREATE, {"input": {"title": "  "}})["data"]["collectionCreate"]
    assert blank == {"collection": None, "userErrors": [{"field": ["title"], "message": "Title can't be blank"}]}
    made = gql(emu, CREATE, {"input": {"title": "Summer Tees"}})["data"]["collectionCreate"]
    assert made["userErrors"] == [] and made["collection"]["handle"] == "summer-tees"
    assert made["collection"]["ruleSet"] is None  # a custom (manual) collection
    cid = made["collection"]["id"]
    again = gql(emu, CREATE, {"input": {"title": "Summer Tees"}})["data"]["collectionCreate"]["collection"]
    assert again["handle"] == "summer-tees-1"  # titles may repeat, handles may not

    added = gql(emu, ADD, {"id": cid, "ids": [pid]})["data"]["collectionAddProducts"]
    assert added == {"collection": {"id": cid, "productsCount": {"count": 1}}, "userErrors": []}
    other = emu.seed_product("Cap", [{"sku": "C-1", "price": "5.00"}])["id"]
    # A product already in it fails the whole call: the other one is not added either.
    twice = gql(emu, ADD, {"id": cid, "ids": [other, pid]})["data"]["collectionAddProducts"]
    assert twice["collection"] is None and twice["userErrors"][0]["field"] == ["productIds"]
    assert emu.collection_titles(other) == []
    smart = emu.seed_collection("Sale", smart=True)
    refused = gql(emu, ADD, {"id": smart, "ids": [other]})["data"]["collectionAddProducts"]
    assert refused["userErrors"] == [{"field": ["id"], "message": "Can't manually add products to a smart collection"}]
    gone = gql(emu, ADD, {"id": "gid://shopify/Collection/1", "ids": [other]})["data"]["collectionAddProducts"]
    assert gone["userErrors"] == [{"field": ["id"], "message": "Collection does not exist"}]
    too_many = gql(emu, ADD, {"id": cid, "ids": [other] * 251})
    assert too_many["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    found = gql(emu, '{ collections(first: 5, query: "title:\\"summer tees\\"") { nodes { id } } }')
    assert len(found["data"]["collections"]["nodes"]) == 2
    member = gql(emu, "query P($id: ID!) { product(id: $id) { collections(first: 5) { nodes { title } } } }",
                 {"id": pid})
    assert member["data"]["product"]["collections"]["nodes"] == [{"title": "Summer Tees"}]


def test_a_published_product_joins_a_collection_per_category_level_created_once(emu):
    kitchen = emu.seed_collection("Kitchen")  # the merchant's own: reused, not duplicated
    emu.seed_collection("Mugs", smart=True)  # its rules decide: nothing added, no manual twin made
    shop = store(emu)
    tee = shop.publish_product(draft("TEE", "Apparel > Tees"), "k1").external_product_id
    tank = shop.publish_product(draft("TANK", "Apparel > Tees"), "k2").external_product_id
    mug = shop.publish_product(draft("MUG", "Kitchen > Mugs"), "k3").external_product_id
    plain = shop.publish_product(draft("PIN", None), "k4").external_product_id
    assert emu.collection_titles(tee) == emu.collection_titles(tank) == ["Apparel", "Tees"]
    assert emu.collection_titles(mug) == ["Kitchen"] and emu.collection_titles(plain) == []
    assert sorted(c["title"] for c in emu.collections.values()) == ["Apparel", "Kitchen", "Mugs", "Tees"]
    assert kitchen in {c["id"] for c in emu.collections.values() if mug in c["products"]}
    assert emu.product(tee)["productType"] == "Tees"
    assert [c.casefold() for c in shop.read_product(tee).categories] == ["tees"]

    # Published again (the same handle): already in both, nothing is added twice, nothing fails.
    calls = emu.api_calls()
    assert shop.publish_product(draft("TEE", "Apparel > Tees"), "k1").external_product_id == tee
    assert emu.api_calls() - calls == 1  # productSet alone: no collection call
    assert emu.collection_titles(tee) == ["Apparel", "Tees"]

    # A new category for the product: it joins the new path's collections beside the ones it is in.
    changes = VariantChanges(external_product_id=tee, product=draft("TEE", "Apparel > Shirts"), recategorize=True)
    shop.apply_variant_changes(changes, "k5")
    assert emu.product(tee)["productType"] == "Shirts"
    assert emu.collection_titles(tee) == ["Apparel", "Tees", "Shirts"]
    assert sorted(c["title"] for c in emu.collections.values()).count("Apparel") == 1


def test_a_product_typed_but_not_in_its_collection_reads_as_not_filed_and_a_refusal_is_permanent(emu):
    """A product published before collections existed has its type only: the live product shows no category, so
    follow_variants files it again. A collection the merchant deleted meanwhile (the connector remembers its id)
    is looked up afresh and made again; one that still refuses the product is a PermanentError the job records."""
    shop = store(emu)
    tee = shop.publish_product(draft("TEE", "Apparel > Tees"), "k1").external_product_id
    for c in emu.collections.values():
        c["products"].clear()
    assert shop.read_product(tee).categories == []
    emu.collections.clear()  # deleted in the admin, still in the connector's memory
    changes = VariantChanges(external_product_id=tee, product=draft("TEE", "Apparel > Tees"), recategorize=True)
    shop.apply_variant_changes(changes, "k2")
    assert emu.collection_titles(tee) == ["Apparel", "Tees"]
    assert shop.read_product(tee).categories == ["Tees"]
    assert sorted(c["title"] for c in emu.collections.values()) == ["Apparel", "Tees"]

    cap = shop.publish_product(draft("CAP", None), "k3").external_product_id
    emu.products.pop(cap)  # gone between the read and the add: refused, and said so
    with pytest.raises(PermanentError, match="collectionAddProducts"):
        shop._join_collections(cap, "Apparel", set())
