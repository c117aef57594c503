"""Mapping drift on real SQLite and PostgreSQL: a supplier SKU whose GTIN, parent or options change between
feeds is quarantined (alert, nothing promised, no routing) and released by `confirm` or `remap`; a title
change alone is not drift; a feed of stock and costs alone leaves identities alone; a feed whose every SKU
changes identity is a changed layout, quarantined as a run."""

from __future__ import annotations

import io

import pytest

from dropbridge.domain.errors import Conflict, NotFound
from dropbridge.domain.model import Alert, Product, SupplierOffer
from dropbridge.domain.money import Money
from dropbridge.domain.routing import Candidate, route_line
from dropbridge.services.connections import add_supplier
from dropbridge.services.offer_drift import confirm_offer, remap_offer
from dropbridge.services.ports import OfferRow
from dropbridge.services.publish_listings import available_to_promise
from dropbridge.services.queries.offers import list_offers
from dropbridge.services.sync_catalog import apply_offer_rows
from dropbridge.services.sync_feed import sync_feed

HEADER = "sku,qty,cost,gtin,title,parent sku,option1 name,option1 value\n"
TEE_GTIN, OTHER_GTIN = "00036000291452", "04006381333931"


def feed(app, rows, *, name="acme.csv", header=HEADER):
    text = header + "".join(",".join(str(c) for c in r) + "\n" for r in rows)
    return sync_feed(app.ctx, "acme", io.BytesIO(text.encode()), name)


def offers(app) -> dict[str, SupplierOffer]:
    with app.ctx.uow(read_only=True) as uow:
        rows = uow.session.query(SupplierOffer).all()
        return {o.supplier_sku: o for o in rows}


def open_alerts(app, kind="offer.drifted") -> list[Alert]:
    with app.ctx.uow(read_only=True) as uow:
        return [a for a in uow.session.query(Alert).all() if a.kind == kind and a.resolved_at is None]


def atp(app, sku) -> int:
    with app.ctx.uow(read_only=True) as uow:
        variant = uow.catalog.variant_by_sku(sku)
        return available_to_promise(uow.listings.offers_for([variant.id])).get(variant.id, 0)


BASE = [("TEE-S", 10, "8.50", TEE_GTIN, "Organic Tee", "TEE", "Size", "S"),
        ("MUG", 5, "3.20", "", "Big Mug", "", "", "")]


def setup(app):
    add_supplier(app.ctx, "acme", "feed", "", {}, {"currency": "USD"})
    assert feed(app, BASE).status == "applied"
    o = offers(app)["TEE-S"]
    assert (o.gtin, o.parent_sku, o.options, o.quarantined_at) == (TEE_GTIN, "TEE", "size=s", None)
    assert atp(app, "TEE-S") == 10


def test_gtin_change_quarantines_and_confirm_releases(app):
    setup(app)
    changed = [("TEE-S", 12, "8.50", OTHER_GTIN, "Organic Tee", "TEE", "Size", "S"), BASE[1]]
    out = feed(app, changed)
    assert out.status == "applied"
    o = offers(app)["TEE-S"]
    assert o.quarantined_at is not None and o.stock == 12
    assert o.drift == {"gtin": [TEE_GTIN, OTHER_GTIN]} and o.gtin == OTHER_GTIN
    [alert] = open_alerts(app)
    assert f"SKU TEE-S now names another item (GTIN {TEE_GTIN} -> {OTHER_GTIN})" in alert.message
    assert "offers confirm acme TEE-S" in alert.message
    assert atp(app, "TEE-S") == 0 and atp(app, "MUG") == 5
    # The variant the SKU was mapped to keeps its GTIN: the other item's row was not imported over it.
    with app.ctx.uow(read_only=True) as uow:
        assert uow.catalog.variant_by_sku("TEE-S").gtin == TEE_GTIN
        audited = [e.action for e in uow.audit.recent(20)]
    assert "offer.quarantined" in audited
    [listed] = list_offers(app.ctx, sku="TEE-S")
    assert (listed["quarantined"], listed["available"], listed["drift"]) == (
        True, 0, f"GTIN {TEE_GTIN} -> {OTHER_GTIN}")

    # The same feed again: no new alert, no new occurrence of the change, still quarantined.
    feed(app, changed)
    assert offers(app)["TEE-S"].quarantined_at is not None and len(open_alerts(app)) == 1

    done = confirm_offer(app.ctx, "acme", "TEE-S")
    assert done["accepted"] == f"GTIN {TEE_GTIN} -> {OTHER_GTIN}"
    o = offers(app)["TEE-S"]
    assert (o.quarantined_at, o.drift, o.gtin) == (None, None, OTHER_GTIN)
    assert open_alerts(app) == [] and atp(app, "TEE-S") == 12
    with app.ctx.uow(read_only=True) as uow:
        assert uow.catalog.variant_by_sku("TEE-S").gtin == OTHER_GTIN
    # The new identity is now the mapping: the next feed stating it changes nothing.
    feed(app, changed)
    assert offers(app)["TEE-S"].quarantined_at is None


def test_title_change_alone_is_not_drift_and_plain_feeds_keep_identity(app):
    setup(app)
    renamed = [("TEE-S", 10, "8.50", TEE_GTIN, "Organic Tee (new cut)", "TEE", "SIZE", " s "), BASE[1]]
    assert feed(app, renamed).status == "applied"
    o = offers(app)["TEE-S"]
    assert (o.quarantined_at, o.gtin, o.options) == (None, TEE_GTIN, "size=s")
    with app.ctx.uow(read_only=True) as uow:
        assert uow.session.query(Product).filter_by(sku="TEE").one().title == "Organic Tee (new cut)"
    # A feed of stock and costs alone states no identity: nothing is compared or forgotten.
    assert feed(app, [("TEE-S", 3, "8.50"), ("MUG", 5, "3.20")], header="sku,qty,cost\n").status == "applied"
    o = offers(app)["TEE-S"]
    assert (o.quarantined_at, o.gtin, o.parent_sku, o.options, o.stock) == (None, TEE_GTIN, "TEE", "size=s", 3)
    assert open_alerts(app) == []


def test_changed_options_or_parent_quarantine_and_remap_moves_the_offer(app):
    setup(app)
    # acme now sells a size M under TEE-S (the GTIN column left empty): another item.
    moved = [("TEE-S", 7, "8.50", "", "Organic Tee", "TEE", "Size", "M"),
             ("MUG", 5, "3.20", "", "Big Mug", "MUGS", "", "")]
    feed(app, moved)
    o = offers(app)
    assert o["TEE-S"].drift == {"options": ["size=s", "size=m"]} and o["TEE-S"].quarantined_at
    # MUG stated no parent before: learnt now, not drift.
    assert (o["MUG"].parent_sku, o["MUG"].quarantined_at) == ("MUGS", None)
    assert len(open_alerts(app)) == 1

    # A parent change is drift too.
    feed(app, [moved[0], ("MUG", 5, "3.20", "", "Big Mug", "CUPS", "", "")])
    assert offers(app)["MUG"].drift == {"parent_sku": ["MUGS", "CUPS"]}

    # The merchant maps TEE-S to the variant it now is (our TEE-M, from another feed row).
    feed(app, [moved[0], ("MUG", 5, "3.20", "", "Big Mug", "CUPS", "", ""),
               ("TEE-M", 0, "8.50", "", "Organic Tee", "TEE", "Size", "M")])
    with pytest.raises(NotFound, match="no variant with our SKU 'NOPE'"):
        remap_offer(app.ctx, "acme", "TEE-S", "NOPE")
    with pytest.raises(Conflict, match="not quarantined"):
        confirm_offer(app.ctx, "acme", "TEE-M")
    done = remap_offer(app.ctx, "acme", "TEE-S", "TEE-M")
    assert (done["from"], done["to"]) == ("TEE-S", "TEE-M")
    o = offers(app)["TEE-S"]
    assert o.quarantined_at is None and atp(app, "TEE-M") == 7 and atp(app, "TEE-S") == 0
    [left] = open_alerts(app)  # TEE-S's alert is resolved; MUG's parent change still waits
    assert "SKU MUG now names another item (parent SKU MUGS -> CUPS)" in left.message


def test_a_supplier_that_goes_back_releases_the_quarantine(app):
    setup(app)
    feed(app, [("TEE-S", 10, "8.50", OTHER_GTIN, "Organic Tee", "TEE", "Size", "S"), BASE[1]])
    assert offers(app)["TEE-S"].quarantined_at is not None
    feed(app, BASE)
    o = offers(app)["TEE-S"]
    assert (o.quarantined_at, o.drift, o.gtin) == (None, None, TEE_GTIN)
    assert open_alerts(app) == []


def test_every_sku_changing_identity_at_once_quarantines_the_run(app):
    add_supplier(app.ctx, "acme", "feed", "", {}, {"currency": "USD"})
    rows = [(f"S{i}", 1, "1.00", "", "T", "", "Color", "red") for i in range(30)]
    assert feed(app, rows).status == "applied"
    out = feed(app, [r[:7] + ("blue",) for r in rows])
    assert out.status == "quarantined" and "changed feed layout" in out.reason
    assert all(o.quarantined_at is None and o.options == "color=red" for o in offers(app).values())


def test_routing_refuses_a_quarantined_offer():
    cand = Candidate(offer_id=1, supplier_id=1, supplier="acme", supplier_sku="TEE-S", unit_cost=Money(850, "USD"),
                     shipping=Money(0, "USD"), stock=10, quarantined="GTIN a -> b")
    decision = route_line(1, "USD", [cand])
    assert decision.offer_id is None
    assert decision.candidates[0].reason == "quarantined: GTIN a -> b"


def test_api_pulls_are_checked_like_feed_files(app):
    """Catalog pulls and supplier events reach the same engine as pages of OfferRows (sync_catalog.py)."""
    add_supplier(app.ctx, "acme", "feed", "", {}, {"currency": "USD"})

    def pull(gtin, color):
        rows = [OfferRow("AE-1", 4, Money(500, "USD"), gtin=gtin,
                         catalog={"title": "Cap", "parent_sku": "AE-P1", "options": {"Color": color}})]
        return apply_offer_rows(app.ctx, "acme", rows, full=True, source="catalog:acme")

    assert pull(TEE_GTIN, "Red").status == "applied"
    assert pull(TEE_GTIN, "Red ").status == "applied" and offers(app)["AE-1"].quarantined_at is None
    pull(TEE_GTIN, "Blue")
    assert offers(app)["AE-1"].drift == {"options": ["color=red", "color=blue"]}
