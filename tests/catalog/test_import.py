"""Catalog import on real SQLite and PostgreSQL: products and variants, GTIN matching across suppliers,
categories, descriptions, and images served by a real local HTTP server."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from PIL import Image
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from dropbridge.connectors.formats.feeds.types import ParsedRow
from dropbridge.domain.errors import ConfigurationError
from dropbridge.domain.model import CatalogImage, Product, ProductImage, Variant, VariantSource
from dropbridge.services.connections import add_supplier
from dropbridge.services.import_catalog import ImportProblem, import_catalog
from dropbridge.storage.migrate import current

from .conftest import bomb_png, image_bytes, jpeg_with_exif, prow

RULES = [{"path": "Apparel > Tops", "category": "Tops"}, {"keyword": "mug", "category": "Kitchen"}]


def supplier(app, name, **config):
    add_supplier(app.ctx, name, "feed", "", {}, {"currency": "USD", **config})


def everything(app):
    with app.ctx.uow(read_only=True) as uow:
        s = uow.session
        return {
            "products": {p.sku: p for p in s.scalars(select(Product))},
            "variants": {v.sku: v for v in s.scalars(select(Variant))},
            "sources": sorted((x.supplier_sku, x.variant_id, x.matched_by, x.gtin)
                              for x in s.scalars(select(VariantSource))),
            "images": list(s.scalars(select(CatalogImage).order_by(CatalogImage.id))),
            "links": [(li.product_id, li.image_id, li.variant_id, li.position, li.source_url)
                      for li in s.scalars(select(ProductImage).order_by(ProductImage.product_id,
                                                                         ProductImage.position))],
        }


def counts(report):
    c = report.counts()
    return {k: v for k, v in c.items() if v}


TEE = [
    prow(2, "TEE-S-BLK", parent="TEE", title="Organic Tee", options={"Size": "S", "Color": "Black"},
         gtin="00036000291452", category="Apparel > Tops > Tees", brand="Acme",
         description='<p onclick="x()">Soft <b>organic</b> cotton<script>alert(1)</script></p>'),
    prow(3, "TEE-M-BLK", parent="TEE", title="Organic Tee", options={"Size": "M", "Color": "Black"}),
    prow(4, "TEE-M-WHT", parent="TEE", title="Organic Tee", options={"size": "M", "color": "White"}),
    prow(5, "MUG-11", title="Big Mug 11oz", category="Home", msrp_minor=1500, map_minor=1200, weight="0.4",
         weight_unit="kg", status="active"),
]


def test_migration_to_head_creates_the_catalog_tables(app):
    from alembic.script import ScriptDirectory

    from dropbridge.storage.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config(app.engine))
    assert current(app.engine) == script.get_current_head()
    assert "0003" in {rev.revision for rev in script.walk_revisions()}
    insp = inspect(app.engine)
    assert {"variant_sources", "catalog_images", "image_urls", "product_images"} <= set(insp.get_table_names())
    assert {"description_html", "brand", "category", "supplier_category", "option_names", "supplier_id",
            "updated_at"} <= {c["name"] for c in insp.get_columns("products")}
    assert {"options", "position", "mpn", "msrp_minor", "map_minor", "currency", "weight", "weight_unit",
            "status"} <= {c["name"] for c in insp.get_columns("variants")}


def test_variants_grouped_under_parents_with_options_categories_and_clean_descriptions(app):
    supplier(app, "acme", category_rules=RULES)
    report = import_catalog(app.ctx, "acme", TEE + [ParsedRow(6, "STOCK-ONLY", 3, 500, "USD")],
                            fetch_images=False)
    assert counts(report) == {"rows_read": 4, "rows_skipped": 1, "products_created": 2, "variants_created": 4}
    assert report.problems == []
    db = everything(app)
    tee, mug = db["products"]["TEE"], db["products"]["MUG-11"]
    assert (tee.title, tee.option_names, tee.category, tee.supplier_category, tee.brand) == (
        "Organic Tee", ["Size", "Color"], "Tops", "Apparel > Tops > Tees", "Acme")
    assert (tee.description_html, tee.description) == ("<p>Soft <b>organic</b> cotton</p>", "Soft organic cotton")
    assert (mug.title, mug.category, mug.option_names) == ("Big Mug 11oz", "Kitchen", None)
    v = db["variants"]
    assert [(s, v[s].product_id, v[s].title, v[s].options, v[s].position) for s in
            ("TEE-S-BLK", "TEE-M-BLK", "TEE-M-WHT")] == [
        ("TEE-S-BLK", tee.id, "S / Black", {"Size": "S", "Color": "Black"}, 0),
        ("TEE-M-BLK", tee.id, "M / Black", {"Size": "M", "Color": "Black"}, 1),
        ("TEE-M-WHT", tee.id, "M / White", {"Size": "M", "Color": "White"}, 2),
    ]
    m = v["MUG-11"]
    assert (m.product_id, m.title, m.options, m.msrp_minor, m.map_minor, m.currency, m.weight, m.weight_unit,
            m.status) == (mug.id, "Big Mug 11oz", None, 1500, 1200, "USD", "0.4", "kg", "active")
    assert v["TEE-S-BLK"].gtin == "00036000291452"
    assert [s[2] for s in db["sources"]] == ["created"] * 4

    again = import_catalog(app.ctx, "acme", TEE, fetch_images=False)
    assert counts(again) == {"rows_read": 4}  # nothing changed, nothing written
    renamed = [TEE[0]._replace(catalog={**TEE[0].catalog, "title": "Organic Tee v2"}), *TEE[1:]]
    third = import_catalog(app.ctx, "acme", renamed, fetch_images=False)
    assert counts(third) == {"rows_read": 4, "products_updated": 1}
    assert everything(app)["products"]["TEE"].title == "Organic Tee v2"


def test_gtin_match_across_suppliers_attaches_to_the_same_variant(app):
    supplier(app, "acme")
    supplier(app, "globex")
    import_catalog(app.ctx, "acme", TEE, fetch_images=False)
    before = everything(app)
    # globex lists the black S tee under its own SKU, its UPC without the leading zeros, another title.
    rows = [prow(7, "GX-100", parent="GX-TEE", gtin="36000291452", title="Tee by Globex",
                 options={"Size": "S", "Color": "Black"}, description="Cheap copy")]
    report = import_catalog(app.ctx, "globex", rows, fetch_images=False)
    assert counts(report) == {"rows_read": 1, "variants_matched_gtin": 1}
    after = everything(app)
    assert set(after["variants"]) == set(before["variants"])  # matched, not duplicated
    assert set(after["products"]) == {"TEE", "MUG-11"}
    tee_s = after["variants"]["TEE-S-BLK"]
    assert ("GX-100", tee_s.id, "gtin", "00036000291452") in after["sources"]
    tee = after["products"]["TEE"]
    # acme created the product: globex's title does not replace it, its description only fills the blank.
    assert (tee.title, tee.description_html, tee.supplier_id) == ("Organic Tee", "<p>Soft <b>organic</b> cotton</p>",
                                                                  before["products"]["TEE"].supplier_id)
    # A second import by globex finds its link and changes nothing.
    assert counts(import_catalog(app.ctx, "globex", rows, fetch_images=False)) == {"rows_read": 1}


def test_a_sku_that_names_another_item_is_refused_not_merged(app):
    supplier(app, "acme")
    supplier(app, "globex")
    import_catalog(app.ctx, "acme", TEE[:1], fetch_images=False)
    rows = [prow(9, "TEE-S-BLK", gtin="4006381333931", title="Unrelated")]
    report = import_catalog(app.ctx, "globex", rows, fetch_images=False)
    assert counts(report) == {"rows_read": 1, "rows_skipped": 1}
    assert report.problems == [ImportProblem(9, "gtin", "TEE-S-BLK: SKU already names a variant with GTIN "
                                             "00036000291452, this row has GTIN 04006381333931; not imported")]


def test_bad_category_rules_stop_the_import_before_any_write(app):
    supplier(app, "acme", category_rules=[{"category": "x"}])
    with pytest.raises(ConfigurationError) as exc:
        import_catalog(app.ctx, "acme", TEE, fetch_images=False)
    assert str(exc.value) == "supplier acme: category rule 1: give exactly one of path or keyword"
    assert everything(app)["products"] == {}


def test_images_deduplicated_by_hash_and_bad_ones_reported_per_row(app, images):
    supplier(app, "acme", images={"max_dimension": 800, "max_bytes": 200_000})
    supplier(app, "globex", images={"max_dimension": 800, "max_bytes": 200_000})
    photo = jpeg_with_exif((1600, 800))
    images.files.update({"a/front.jpg": photo, "b/same-photo.jpg": photo, "back.png": image_bytes((300, 300)),
                         "page.html": b"<html>not an image</html>", "huge.bin": b"\x00" * 300_000,
                         "bomb.png": bomb_png()})
    u = images.url
    rows = [
        prow(2, "HAT-1", title="Hat", images=[u("a/front.jpg"), u("back.png"), u("missing.jpg")]),
        prow(3, "CAP-1", title="Cap", images=[u("b/same-photo.jpg"), u("page.html")]),
        prow(4, "BAG-1", title="Bag", images=[u("huge.bin"), u("bomb.png"), u("a/front.jpg")]),
    ]
    report = import_catalog(app.ctx, "acme", rows)
    assert counts(report) == {"rows_read": 3, "products_created": 3, "variants_created": 3, "images_fetched": 5,
                              "images_stored": 2, "images_deduplicated": 2, "images_rejected": 4}
    assert [(p.line, p.field, p.reason, p.url) for p in report.problems] == [
        (2, "image", "HTTP 404", u("missing.jpg")),
        (3, "image", "not an image", u("page.html")),
        (4, "image", "larger than 200000 bytes", u("huge.bin")),
        (4, "image", "decompression bomb: more than 40000000 pixels", u("bomb.png")),
    ]
    assert images.hits == {"a/front.jpg": 1, "back.png": 1, "missing.jpg": 1, "b/same-photo.jpg": 1,
                           "page.html": 1, "huge.bin": 1, "bomb.png": 1}
    db = everything(app)
    front, back = db["images"]
    assert (front.width, front.height, front.format, back.width, back.height) == (800, 400, "webp", 300, 300)
    p = db["products"]
    assert db["links"] == [
        (p["HAT-1"].id, front.id, None, 0, u("a/front.jpg")),
        (p["HAT-1"].id, back.id, None, 1, u("back.png")),
        (p["CAP-1"].id, front.id, None, 0, u("b/same-photo.jpg")),
        (p["BAG-1"].id, front.id, None, 0, u("a/front.jpg")),
    ]
    stored = app.settings.data_dir / "images" / front.path
    assert front.path == f"{front.sha256[:2]}/{front.sha256}.webp"
    with Image.open(stored) as im:
        assert (im.format, im.size, dict(im.getexif())) == ("WEBP", (800, 400), {})
    assert sorted(f.name for f in (app.settings.data_dir / "images").rglob("*") if f.is_file()) == sorted(
        [f"{front.sha256}.webp", f"{back.sha256}.webp"])

    # Another supplier, another product, the same picture: no download for a known URL, no new file.
    images.hits.clear()
    other = import_catalog(app.ctx, "globex", [prow(5, "GX-HAT", title="Hat", images=[u("a/front.jpg")])])
    assert counts(other) == {"rows_read": 1, "products_created": 1, "variants_created": 1,
                             "images_deduplicated": 1}
    assert images.hits == {}
    # Re-importing the first feed fetches nothing that worked before and keeps the same links.
    again = import_catalog(app.ctx, "acme", rows)
    assert counts(again) == {"rows_read": 3, "images_fetched": 2, "images_deduplicated": 4, "images_rejected": 4}
    assert images.hits == {"missing.jpg": 1, "page.html": 1, "huge.bin": 1, "bomb.png": 1}
    assert everything(app)["links"][:4] == db["links"]


def test_variant_images_and_watermark_from_supplier_config(app, images, tmp_path):
    supplier(app, "plain", images={"format": "webp", "lossless": True})
    supplier(app, "marked", images={"format": "webp", "lossless": True,
                                    "watermark": {"text": "DB", "opacity": 1.0, "scale": 0.3}})
    images.files.update({"red.png": image_bytes((200, 100), (200, 30, 30)),
                         "blue.png": image_bytes((200, 100), (30, 30, 200))})
    u = images.url
    rows = [prow(2, "SOCK-R", parent="SOCK", title="Sock", options={"Color": "Red"}, images=[u("red.png")]),
            prow(3, "SOCK-B", parent="SOCK", title="Sock", options={"Color": "Blue"}, images=[u("blue.png")])]
    report = import_catalog(app.ctx, "plain", rows)
    assert (report.images_fetched, report.images_stored) == (2, 2)
    db = everything(app)
    red_v, blue_v = db["variants"]["SOCK-R"], db["variants"]["SOCK-B"]
    red, blue = db["images"]
    assert [(li[2], li[3]) for li in db["links"]] == [(red_v.id, 0), (blue_v.id, 1)]

    marked = import_catalog(app.ctx, "marked", [prow(4, "MK-R", title="Marked sock", images=[u("red.png")])])
    # The URL is known, but this supplier's profile (watermark) has no file yet: fetched again, stored anew.
    assert (marked.images_fetched, marked.images_stored, marked.images_deduplicated) == (1, 1, 0)
    wm = everything(app)["images"][2]
    assert wm.source_sha256 == red.source_sha256 and wm.sha256 != red.sha256
    root = app.settings.data_dir / "images"
    with Image.open(root / red.path) as a, Image.open(root / wm.path) as b:
        a, b = a.convert("RGB"), b.convert("RGB")
        assert a.getpixel((190, 90)) == (200, 30, 30)
        corner = [b.getpixel((x, y)) for x in range(100, 200) for y in range(50, 100)]
        assert sum(1 for px in corner if px != (200, 30, 30)) > 50
        assert b.getpixel((5, 5)) == (200, 30, 30)


def test_a_product_split_across_transactions_stays_one_product(app):
    supplier(app, "acme")
    report = import_catalog(app.ctx, "acme", TEE, fetch_images=False, chunk_rows=2)
    assert counts(report) == {"rows_read": 4, "products_created": 2, "variants_created": 4}
    db = everything(app)
    tee = db["products"]["TEE"]
    assert (tee.option_names, tee.description_html) == (["Size", "Color"], "<p>Soft <b>organic</b> cotton</p>")
    assert sorted(s for s, v in db["variants"].items() if v.product_id == tee.id) == [
        "TEE-M-BLK", "TEE-M-WHT", "TEE-S-BLK"]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_suppliers_importing_one_new_parent_sku_at_once_both_land(app):
    """On PostgreSQL two imports run side by side (SQLite has one writer at a time). Here acme's import has
    inserted product HOODIE but not committed yet when globex's import, which found HOODIE unused, inserts
    its own: that waits for acme, then fails on the unique SKU, and is redone, finding acme's product."""
    supplier(app, "acme")
    supplier(app, "globex")
    with app.ctx.uow(read_only=True) as uow:
        acme_id = uow.suppliers.by_name("acme").id
    now = datetime.now(UTC)
    held = Session(app.engine)
    held.add(Product(sku="HOODIE", supplier_id=acme_id, title="Acme Hoodie", created_at=now, updated_at=now))
    held.flush()
    outcome = {}

    def globex_import():
        try:
            outcome["report"] = import_catalog(app.ctx, "globex", [
                prow(2, "GX-H-S", parent="HOODIE", title="Globex Hoodie", options={"Size": "S"}),
                prow(3, "GX-H-M", parent="HOODIE", title="Globex Hoodie", options={"Size": "M"})], fetch_images=False)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = exc

    worker = threading.Thread(target=globex_import)
    worker.start()
    waiting = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                   "AND datname = current_database()")
    deadline = time.monotonic() + 20
    with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as probe:  # a fresh view each time
        while probe.execute(waiting).scalar_one() == 0:
            assert time.monotonic() < deadline, f"globex's import never waited on acme's row: {outcome}"
            time.sleep(0.05)
    held.commit()
    held.close()
    worker.join(timeout=30)
    assert "error" not in outcome, outcome.get("error")
    assert counts(outcome["report"]) == {"rows_read": 2, "products_created": 1, "variants_created": 2}
    after = everything(app)
    assert {sku: p.supplier_id != acme_id for sku, p in after["products"].items()} == {
        "HOODIE": False, "globex:HOODIE": True}
    hoodie = after["products"]["globex:HOODIE"]
    assert {v.sku for v in after["variants"].values() if v.product_id == hoodie.id} == {"GX-H-S", "GX-H-M"}


def test_a_feed_import_queues_its_pictures_for_a_job_and_skips_unchanged_rows_next_time(app, images):
    from dropbridge.jobs.runner import run_job

    supplier(app, "acme")
    images.files["red.png"] = image_bytes((200, 100))
    rows = [prow(2, "SOCK-R", parent="SOCK", title="Sock", options={"Color": "Red"}, images=[images.url("red.png")]),
            prow(3, "SOCK-B", parent="SOCK", title="Sock", options={"Color": "Blue"}, images=[images.url("red.png")])]
    report = import_catalog(app.ctx, "acme", rows, fetch_images=False, queue_images="run:1")
    assert counts(report) == {"rows_read": 2, "products_created": 1, "variants_created": 2, "images_queued": 1}
    assert everything(app)["links"] == [] and images.hits == {}  # nothing fetched while importing
    with app.ctx.uow(read_only=True) as uow:
        job = uow.jobs.by_key("run:1:1")
    assert job.kind == "catalog_images"
    assert run_job(app.ctx, job.id) == "done"
    db = everything(app)
    assert [(li[0], li[2], li[4]) for li in db["links"]] == [(db["products"]["SOCK"].id, None, images.url("red.png"))]
    assert len(db["images"]) == 1 and images.hits == {"red.png": 1}

    # The same rows again: nothing re-imported, nothing queued. One changed row re-imports its product.
    assert counts(import_catalog(app.ctx, "acme", rows, fetch_images=False, queue_images="run:2")) == {
        "rows_read": 2}
    changed = [rows[0]._replace(catalog={**rows[0].catalog, "title": "Sock v2"}), rows[1]]
    again = import_catalog(app.ctx, "acme", changed, fetch_images=False, queue_images="run:3")
    assert counts(again) == {"rows_read": 2, "products_updated": 1, "images_queued": 1}
    with app.ctx.uow(read_only=True) as uow:
        assert uow.jobs.by_key("run:2:1") is None and uow.jobs.by_key("run:3:1") is not None
