"""Variants follow the supplier, on the Shopify, WooCommerce and BigCommerce emulators over real HTTP (SQLite and
PostgreSQL): a published product gets the size its supplier added beside the live variants, a size the supplier
drops goes to zero stock and off sale (store setting `dropped_variants: hide`), a renamed option value and a new
product title are changed in place, and the product is archived when every variant is dropped. After every step
each listing names a variant the store has, and no variant the store ever had was deleted."""

from __future__ import annotations

import io

import pytest

from dropbridge.sandbox.bigcommerce import BigCommerceEmulator
from dropbridge.sandbox.shopify import ShopifyEmulator
from dropbridge.sandbox.woocommerce import WooCommerceEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.follow_variants import follow_variants
from dropbridge.services.offer_drift import confirm_offer
from dropbridge.services.publish_listings import publish_products, push_stock
from dropbridge.services.sync_feed import sync_feed

from .helpers import run_due_jobs

PRICING = {"markup_percent": 100}


class _Shopify:
    name = "shopify"

    def __init__(self):
        self.emu = ShopifyEmulator(shop="variants", static_tokens=("shpat_t",))

    def variants(self, pid):
        p = self.emu.product(pid)
        return {v["id"]: {"sku": v["sku"], "options": v["options"], "on_sale": v["inventoryPolicy"] == "DENY"}
                for v in p["variants"]}

    def all_ids(self):
        return set(self.emu.variants)

    def stock(self, vid):
        return self.emu.available(vid)

    def title(self, pid):
        return self.emu.product(pid)["title"]

    def archived(self, pid):
        return self.emu.product(pid)["status"] == "ARCHIVED"

    def option_values(self, pid):
        return {o["name"]: o["values"] for o in self.emu.product(pid)["options"]}

    def category(self, pid):
        return self.emu.product(pid)["productType"]


class _Woo:
    name = "woocommerce"

    def __init__(self):
        self.emu = WooCommerceEmulator()

    def variants(self, pid):
        parent = self.emu.product(pid)
        out = {}
        for v in parent["variations"]:
            rec = self.emu.product(v)
            out[str(v)] = {"sku": rec["sku"], "options": {a["name"]: a["option"] for a in rec["attributes"]},
                           "on_sale": rec["status"] == "publish"}
        return out

    def all_ids(self):
        return {str(i) for i, p in self.emu.products.items() if p["type"] == "variation"}

    def stock(self, vid):
        return self.emu.stock_of(vid)

    def title(self, pid):
        return self.emu.product(pid)["name"]

    def archived(self, pid):
        return self.emu.product(pid)["status"] != "publish"

    def option_values(self, pid):
        return {a["name"]: a["options"] for a in self.emu.product(pid)["attributes"]}

    def category(self, pid):
        cats = self.emu.product(pid)["categories"]
        names = {c["id"]: c for c in self.emu.categories.values()}
        return " > ".join(_path(names, c["id"], "parent") for c in cats)


class _BigCommerce:
    name = "bigcommerce"

    def __init__(self):
        self.emu = BigCommerceEmulator(inventory_delay=0)

    def variants(self, pid):
        p = self.emu.product(pid)
        return {str(v["id"]): {"sku": v["sku"], "options": {o["option_display_name"]: o["label"]
                                                           for o in v["option_values"]},
                               "on_sale": not v["purchasing_disabled"]} for v in p["variants"]}

    def all_ids(self):
        return {str(i) for i in self.emu.variants}

    def stock(self, vid):
        return self.emu.stock_of(vid)

    def title(self, pid):
        return self.emu.product(pid)["name"]

    def archived(self, pid):
        return not self.emu.product(pid)["is_visible"]

    def option_values(self, pid):
        return {o["display_name"]: [v["label"] for v in o["option_values"]] for o in self.emu.product(pid)["options"]}

    def category(self, pid):
        cats = self.emu.product(pid)["categories"]
        return " > ".join(_path(self.emu.categories, c, "parent_id") for c in cats)


def _path(categories, cid, parent_key) -> str:
    names = []
    while cid:
        names.append(categories[cid]["name"])
        cid = categories[cid].get(parent_key, 0)
    return " > ".join(reversed(names))


@pytest.fixture(params=[_Shopify, _Woo, _BigCommerce], ids=lambda c: c.name)
def store(request, app):
    platform = request.param()
    emu = platform.emu
    emu.start()
    conn = emu.connection()
    add_store(app.ctx, "shop", platform.name, conn["base_url"], conn["credentials"],
              {**conn.get("config", {}), "pricing": PRICING, "dropped_variants": "archive"})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"},
                 {"currency": "USD", "category_rules": [{"path": "tees", "category": "Apparel > Tees"}]})
    yield platform
    emu.stop()


def _feed(app, rows, title="Tee"):
    """acme's full catalog feed: (sku, qty, size, status) rows of the product TEE."""
    text = "sku,qty,cost,parent_sku,title,option1_name,option1_value,status,category\n" + "".join(
        f"{sku},{qty},8.00,TEE,{title},Size,{size},{status},tees\n" for sku, qty, size, status in rows)
    out = sync_feed(app.ctx, "acme", io.BytesIO(text.encode()), "acme.csv")
    assert out.status == "applied", out.reason
    return out



def _listings(app) -> dict[str, tuple[str, str]]:
    """Our SKU -> (store product id, store variant id), for every listing."""
    with app.ctx.uow(read_only=True) as uow:
        listings = uow.listings.for_store(1)
        variants = uow.catalog.variants_by_id([ls.variant_id for ls in listings])
    return {variants[ls.variant_id].sku: (ls.external_product_id, ls.external_variant_id) for ls in listings}


def _all_resolve(store, listings) -> None:
    """Every listing names a variant of its product that the store has, with the listing's SKU."""
    for sku, (pid, vid) in listings.items():
        live = store.variants(pid)
        assert vid in live, f"{sku}: listing names {vid}, the store has {sorted(live)}"
        assert live[vid]["sku"] == sku


def test_add_drop_rename_and_archive_on_a_published_product(app, store):
    _feed(app, [("TEE-S", 5, "S", "active"), ("TEE-M", 7, "M", "active")])
    assert sorted(publish_products(app.ctx, "shop")) == ["TEE-M", "TEE-S"]
    first = _listings(app)
    [pid] = {p for p, _ in first.values()}
    seen = store.all_ids()
    assert store.category(pid).endswith("Tees")  # the mapped category reached the store

    # The supplier adds a size L: it joins the live product; S and M keep their ids.
    _feed(app, [("TEE-S", 5, "S", "active"), ("TEE-M", 7, "M", "active"), ("TEE-L", 4, "L", "active")])
    assert publish_products(app.ctx, "shop") == []  # not a product of its own
    assert run_due_jobs(app, "follow_variants") == 1
    now = _listings(app)
    assert {k: now[k] for k in first} == first
    assert now["TEE-L"][0] == pid
    live = store.variants(pid)
    assert {v["sku"]: v["options"] for v in live.values()} == {
        "TEE-S": {"Size": "S"}, "TEE-M": {"Size": "M"}, "TEE-L": {"Size": "L"}}
    assert store.stock(now["TEE-L"][1]) == 4
    assert "L" in store.option_values(pid)["Size"]
    assert seen <= store.all_ids()
    _all_resolve(store, now)
    seen = store.all_ids()
    calls = store.emu.api_calls()
    _feed(app, [("TEE-S", 5, "S", "active"), ("TEE-M", 7, "M", "active"), ("TEE-L", 4, "L", "active")])
    assert run_due_jobs(app, "follow_variants") == 0 and store.emu.api_calls() == calls  # same feed: nothing to follow

    # The supplier drops S (discontinued) and renames the product: S goes to zero and off sale, nothing deleted.
    _feed(app, [("TEE-S", 5, "S", "discontinued"), ("TEE-M", 7, "M", "active"), ("TEE-L", 4, "L", "active")],
          title="Classic Tee")
    assert run_due_jobs(app, "follow_variants") == 1
    live = store.variants(pid)
    s_id = now["TEE-S"][1]
    assert store.stock(s_id) == 0
    assert store.title(pid) == "Classic Tee"
    if store.name != "shopify":  # a Shopify variant cannot be hidden alone: it stays shown, sold out, DENY
        assert live[s_id]["on_sale"] is False
    assert all(v["on_sale"] for k, v in live.items() if k != s_id)
    assert store.stock(now["TEE-M"][1]) == 7
    assert push_stock(app.ctx, "shop").changes == 0  # the zero was recorded as pushed
    assert seen <= store.all_ids() and not store.archived(pid)
    _all_resolve(store, _listings(app))

    # The supplier renames M to Medium: the offer is quarantined (another item under the SKU?) until a person
    # confirms; the next feed then renames the live variant in place.
    rows = [("TEE-S", 5, "S", "discontinued"), ("TEE-M", 7, "Medium", "active"), ("TEE-L", 4, "L", "active")]
    _feed(app, rows, title="Classic Tee")
    run_due_jobs(app, "follow_variants")
    assert store.variants(pid)[now["TEE-M"][1]]["options"] == {"Size": "M"}  # nothing renamed while quarantined
    confirm_offer(app.ctx, "acme", "TEE-M")
    _feed(app, rows, title="Classic Tee")
    assert run_due_jobs(app, "follow_variants") == 1
    live = store.variants(pid)
    assert live[now["TEE-M"][1]]["options"] == {"Size": "Medium"}
    assert live[now["TEE-M"][1]]["sku"] == "TEE-M"
    assert "Medium" in store.option_values(pid)["Size"]
    assert seen <= store.all_ids()
    _all_resolve(store, _listings(app))
    assert follow_variants(app.ctx, "shop").renamed == 0  # in step: nothing more to change

    # Every variant dropped: the product is archived (dropped_variants: archive); back in the feed, restored.
    _feed(app, [(s, q, z, "discontinued") for s, q, z, _ in rows], title="Classic Tee")
    run_due_jobs(app, "follow_variants")
    assert store.archived(pid)
    assert all(store.stock(vid) == 0 for _, vid in _listings(app).values())
    _feed(app, rows, title="Classic Tee")
    run_due_jobs(app, "follow_variants")
    assert not store.archived(pid)
    assert seen <= store.all_ids()
    _all_resolve(store, _listings(app))
    with app.ctx.uow(read_only=True) as uow:
        assert "variants.followed" in {e.action for e in uow.audit.recent(100)}


def test_a_listing_whose_store_variant_vanished_is_pointed_at_a_live_one(app, store):
    """The merchant deleted a variant (or the whole product) in the store admin: the next run adds it again and
    moves the listing to the new id; a lost product is published again."""
    _feed(app, [("TEE-S", 5, "S", "active"), ("TEE-M", 7, "M", "active")])
    publish_products(app.ctx, "shop")
    before = _listings(app)
    pid, m_id = before["TEE-M"]
    _delete_variant(store, pid, m_id)
    summary = follow_variants(app.ctx, "shop")
    assert summary.added == 1 and not summary.failed
    after = _listings(app)
    assert after["TEE-S"] == before["TEE-S"] and after["TEE-M"][1] != m_id
    _all_resolve(store, after)
    assert store.stock(after["TEE-M"][1]) == 7

    _delete_product(store, pid)
    assert follow_variants(app.ctx, "shop").republished == 1
    again = _listings(app)
    assert {p for p, _ in again.values()} != {pid}
    _all_resolve(store, again)


def _delete_variant(store, pid, vid):
    emu = store.emu
    with emu._lock:
        if store.name == "shopify":
            emu.products[pid]["variants"].remove(vid)
            emu.variants.pop(vid)
        elif store.name == "woocommerce":
            emu.products[int(pid)]["variations"].remove(int(vid))
            emu.products.pop(int(vid))
        else:
            emu.products[int(pid)]["variants"].remove(int(vid))
            emu.variants.pop(int(vid))


def _delete_product(store, pid):
    emu = store.emu
    with emu._lock:
        if store.name == "shopify":
            for v in emu.products.pop(pid)["variants"]:
                emu.variants.pop(v)
        elif store.name == "woocommerce":
            for v in emu.products.pop(int(pid))["variations"]:
                emu.products.pop(v)
        else:
            for v in emu.products.pop(int(pid))["variants"]:
                emu.variants.pop(v)


def _catalog_feed(app, rows):
    """(sku, parent, title, supplier category) rows, one variant each."""
    text = "sku,qty,cost,parent_sku,title,option1_name,option1_value,category\n" + "".join(
        f"{sku},5,8.00,{parent},{title},Size,M,{category}\n" for sku, parent, title, category in rows)
    assert sync_feed(app.ctx, "acme", io.BytesIO(text.encode()), "acme.csv").status == "applied"


def _category_ids(store) -> dict[str, int]:
    """Category name -> how many the store has by that name (created once, never duplicated)."""
    if store.name == "shopify":
        return {}
    counts: dict[str, int] = {}
    for c in store.emu.categories.values():
        counts[c["name"]] = counts.get(c["name"], 0) + 1
    return counts


def test_categories_reach_the_store_created_once_and_follow_the_rules(app, store):
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"},
                 {"category_rules": [{"path": "tees", "category": "Apparel > Tees"},
                                     {"keyword": "mug", "category": "Kitchen > Mugs"}]})
    rows = [("TEE-M", "TEE", "Tee", "tees"), ("TANK-M", "TANK", "Tank", "tees"), ("MUG-M", "MUG", "Big mug", "cups")]
    _catalog_feed(app, rows)
    publish_products(app.ctx, "shop")
    listed = _listings(app)
    tee, tank, mug = (listed[s][0] for s in ("TEE-M", "TANK-M", "MUG-M"))
    if store.name == "shopify":  # a flat product type: the leaf; and a collection per level, each made once
        assert [store.category(p) for p in (tee, tank, mug)] == ["Tees", "Tees", "Mugs"]
        assert [store.emu.collection_titles(p) for p in (tee, tank, mug)] == [
            ["Apparel", "Tees"], ["Apparel", "Tees"], ["Kitchen", "Mugs"]]
        assert sorted(c["title"] for c in store.emu.collections.values()) == ["Apparel", "Kitchen", "Mugs", "Tees"]
    else:  # the path, parents first, each created once and shared
        assert [store.category(p) for p in (tee, tank, mug)] == ["Apparel > Tees", "Apparel > Tees", "Kitchen > Mugs"]
        counts = _category_ids(store)
        assert (counts["Apparel"], counts["Tees"], counts["Kitchen"], counts["Mugs"]) == (1, 1, 1, 1)

    # The merchant changes a rule: the next feed re-maps the products and the store files them anew.
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"},
                 {"category_rules": [{"path": "tees", "category": "Apparel > Shirts"},
                                     {"keyword": "mug", "category": "Kitchen > Mugs"}]})
    _catalog_feed(app, rows)
    assert run_due_jobs(app, "follow_variants") == 1
    want = "Shirts" if store.name == "shopify" else "Apparel > Shirts"
    assert [store.category(p) for p in (tee, tank)] == [want, want]
    assert store.category(mug) == ("Mugs" if store.name == "shopify" else "Kitchen > Mugs")
    if store.name != "shopify":
        assert _category_ids(store)["Apparel"] == 1
    else:  # filed in the new path's collections too (beside the old ones: collections it was in are kept)
        assert [store.emu.collection_titles(p)[-1] for p in (tee, tank)] == ["Shirts", "Shirts"]
        assert sorted(c["title"] for c in store.emu.collections.values()) == [
            "Apparel", "Kitchen", "Mugs", "Shirts", "Tees"]
    assert follow_variants(app.ctx, "shop").recategorized == 0  # in step now


def _store_images(store, pid) -> list[str]:
    if store.name == "shopify":
        return store.emu.product(pid)["images"]
    if store.name == "woocommerce":
        return [i["src"] for i in store.emu.product(pid)["images"]]
    return [i["url_standard"] for i in store.emu.product(pid)["images"]]


def test_processed_images_reach_the_store(app, store, monkeypatch):
    """The resized, watermarked copies the catalog import stored: BigCommerce gets them through its own upload
    (multipart image_file, storefronts.md §3.4); Shopify and WooCommerce, which fetch images by URL (§1.4, §2.4),
    get dropbridge's public URL of each, which serves exactly the processed bytes."""
    import httpx

    from dropbridge.api.app import create_app
    from dropbridge.sandbox.kit.server import start_server
    from tests.catalog.conftest import ImageHost, image_bytes

    host = ImageHost()
    api = start_server(create_app(app))
    try:
        monkeypatch.setattr(app.ctx.settings, "images_allow_private_hosts", True)
        monkeypatch.setattr(app.ctx.settings, "public_url", api.url)
        add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"},
                     {"images": {"max_dimension": 80, "watermark": {"text": "DB", "opacity": 1.0, "scale": 0.3}}})
        original = image_bytes((400, 200), (200, 30, 30))
        host.files["red.png"] = original
        text = ("sku,qty,cost,parent_sku,title,option1_name,option1_value,image_url\n"
                f"TEE-S,5,8.00,TEE,Tee,Size,S,{host.url('red.png')}\n")
        assert sync_feed(app.ctx, "acme", io.BytesIO(text.encode()), "acme.csv").status == "applied"
        assert run_due_jobs(app, "catalog_images") == 1
        with app.ctx.uow(read_only=True) as uow:
            [(sha, path, fmt)] = uow.listings.processed_images([1])[1]
        stored = (app.settings.data_dir / "images" / path).read_bytes()
        assert stored != original and fmt == "webp"  # the deployment's default format

        publish_products(app.ctx, "shop")
        [(pid, _)] = _listings(app).values()
        [url] = _store_images(store, pid)
        if store.name == "bigcommerce":
            [upload] = store.emu.uploads.values()
            assert upload["data"] == stored and upload["filename"] == f"{sha}.webp"
            assert httpx.get(url).content == stored  # the store's own copy
        else:
            assert url == f"{api.url}/images/{sha}.webp"
        served = httpx.get(f"{api.url}/images/{sha}.webp")
        assert served.status_code == 200 and served.content == stored
        assert served.headers["content-type"] == "image/webp"
        assert httpx.get(f"{api.url}/images/{'0' * 64}.jpg").status_code == 404
        assert httpx.get(f"{api.url}/images/..%2F..%2Fsecret.jpg").status_code == 404
    finally:
        api.stop()
        host.server.stop()


@pytest.mark.parametrize("mode", ["hide", "archive"])
def test_a_sku_gone_from_a_full_feed_is_dropped_and_comes_back(app, store, mode):
    """A SKU that simply disappears from the supplier's full feed (no status saying so) is dropped like a
    discontinued one: zero stock, off sale by `dropped_variants`, the product archived with `archive` once none
    of its SKUs is listed; back in the feed, back on sale with its stock. Nothing is deleted on the way."""
    conn = store.emu.connection()
    add_store(app.ctx, "shop", store.name, conn["base_url"], {}, {"dropped_variants": mode})
    caps = [(f"CAP-{n}", 3, str(n), "active") for n in range(1, 4)]  # another product: the feed stays long enough
    tee = [("TEE-S", 5, "S", "active"), ("TEE-M", 7, "M", "active")]

    def feed(rows):
        text = "sku,qty,cost,parent_sku,title,option1_name,option1_value,status,category\n" + "".join(
            f"{sku},{qty},8.00,{sku.split('-')[0]},{sku.split('-')[0].title()},Size,{size},{status},tees\n"
            for sku, qty, size, status in rows)
        out = sync_feed(app.ctx, "acme", io.BytesIO(text.encode()), "acme.csv")
        assert out.status == "applied", out.reason
        return out

    feed(tee + caps)
    publish_products(app.ctx, "shop")
    listed = _listings(app)
    pid, s_id, m_id = listed["TEE-S"][0], listed["TEE-S"][1], listed["TEE-M"][1]
    seen = store.all_ids()

    # TEE-S is simply not in the next full feed: zeroed, off sale, the product still on sale with M.
    assert feed(tee[1:] + caps).zeroed == 1
    assert run_due_jobs(app, "follow_variants") == 1
    run_due_jobs(app, "push_stock")
    assert store.stock(s_id) == 0 and store.stock(m_id) == 7
    live = store.variants(pid)
    if store.name != "shopify":  # a Shopify variant cannot be hidden alone (see the test above)
        assert live[s_id]["on_sale"] is False
    assert live[m_id]["on_sale"] is True and not store.archived(pid)
    assert push_stock(app.ctx, "shop").changes == 0
    calls = store.emu.api_calls()
    feed(tee[1:] + caps)  # still absent: nothing more to follow or push
    assert run_due_jobs(app, "follow_variants") == 0 and run_due_jobs(app, "push_stock") == 0
    assert store.emu.api_calls() == calls

    # TEE-M goes too: no SKU of the product is listed; archived only by `archive`.
    assert feed(caps).zeroed == 1
    assert run_due_jobs(app, "follow_variants") == 1
    run_due_jobs(app, "push_stock")
    assert store.stock(s_id) == 0 and store.stock(m_id) == 0
    assert store.archived(pid) is (mode == "archive")
    if store.name != "shopify":
        assert not any(v["on_sale"] for v in store.variants(pid).values())

    # Both are listed again: back on sale, the stock back, under the same store ids.
    feed(tee + caps)
    assert run_due_jobs(app, "follow_variants") == 1
    run_due_jobs(app, "push_stock")
    assert store.stock(s_id) == 5 and store.stock(m_id) == 7
    assert not store.archived(pid)
    assert all(v["on_sale"] for v in store.variants(pid).values())
    assert _listings(app) == listed
    assert seen <= store.all_ids()
    _all_resolve(store, listed)
    assert follow_variants(app.ctx, "shop").restored == 0  # in step
