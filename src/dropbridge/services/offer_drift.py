"""Mapping drift: a supplier SKU that now names another item is quarantined (no routing, nothing promised,
an `offer.drifted` alert) until a person confirms the new identity or remaps the SKU to another variant.

The feed engine finds the offers whose stated identity changed, set-based, in the transaction that applies
the feed (storage/feed_stage.py); `quarantine_changes` decides and records inside that same transaction,
so the stock push the run schedules already promises nothing for them."""

from __future__ import annotations

from dropbridge.domain.drift import Identity, changes, describe, mapped_identity
from dropbridge.domain.errors import Conflict, NotFound
from dropbridge.domain.model import SupplierOffer, VariantSource

from .records import audit, raise_alert, schedule, schedule_repricing

ALERT_KIND = "offer.drifted"


def alert_key(supplier_id: int, sku: str) -> str:
    return f"{ALERT_KIND}:{supplier_id}:{sku}"[:300]


def quarantine_changes(uow, ctx, supplier_id: int, supplier_name: str,
                       found: list[tuple[int, str, Identity, Identity]]) -> int:
    """Act on offers whose staged identity contradicts the stored one ((offer id, sku, stored, staged), from
    the feed engine): quarantine the newly drifted, keep the record of a quarantined one current, and release
    one whose supplier went back to what it was mapped as. Returns how many were newly quarantined."""
    if not found:
        return 0
    now = ctx.clock()
    offers = uow.offers.by_ids([offer_id for offer_id, *_ in found])
    newly = 0
    for offer_id, sku, stored, staged in found:
        offer = offers[offer_id]
        mapped = mapped_identity(stored, offer.drift)
        seen = Identity(*(new if new is not None else old for old, new in zip(stored, staged, strict=True)))
        change = changes(mapped, seen)
        if offer.quarantined_at is None:
            if not change:
                continue
            offer.quarantined_at, offer.drift = now, change
            newly += 1
            raise_alert(uow, ctx, ALERT_KIND,
                        f"{supplier_name} SKU {sku} now names another item ({describe(change)}): quarantined, "
                        f"no orders routed to it and no stock promised from it until `dropbridge offers confirm "
                        f"{supplier_name} {sku}` or `dropbridge offers remap {supplier_name} {sku} --variant SKU`",
                        severity="error", supplier_id=supplier_id, dedupe_key=alert_key(supplier_id, sku))
            audit(uow, ctx, "offer.quarantined", f"offer:{offer_id}", {"sku": sku, "change": change},
                  supplier_id=supplier_id)
        elif change:
            if change != offer.drift:
                offer.drift = change
                audit(uow, ctx, "offer.drift_changed", f"offer:{offer_id}", {"sku": sku, "change": change},
                      supplier_id=supplier_id)
        else:  # the supplier states what the SKU was mapped as again
            _release(uow, ctx, offer, supplier_id, "offer.released", {"sku": sku, "why": "identity restored"},
                     f"{supplier_name} SKU {sku} states its mapped identity again")
    return newly


def confirm_offer(ctx, supplier_name: str, sku: str) -> dict:
    """Accept what the supplier now says the SKU is: the mapping takes the new values (the GTIN on the SKU's
    catalog link, and on the variant when this supplier's catalog owns it; option values and titles follow
    with the next import) and the offer is eligible again. Stock and prices are pushed after the commit."""
    with ctx.uow() as uow:
        supplier, offer = _offer(uow, supplier_name, sku)
        if offer.quarantined_at is None:
            raise Conflict(f"{supplier_name} SKU {sku} is not quarantined: nothing to confirm")
        change = dict(offer.drift or {})
        source = uow.catalog_import.sources(supplier.id, [sku]).get(sku)
        if source is not None and offer.gtin and source.gtin != offer.gtin:
            source.gtin, source.updated_at = offer.gtin, ctx.clock()
        variant = uow.catalog.variants_by_id([offer.variant_id]).get(offer.variant_id) if offer.variant_id else None
        owner = source is None or source.matched_by in ("created", "sku")
        if variant is not None and owner and "gtin" in change and offer.gtin:
            variant.gtin = offer.gtin
        _release(uow, ctx, offer, supplier.id, "offer.confirmed", {"sku": sku, "accepted": change},
                 f"confirmed by {ctx.actor}: {describe(change)}")
        held = uow.offers.held_orders(offer.variant_id) if offer.variant_id else []
        uow.commit()
    return {"supplier": supplier_name, "sku": sku, "accepted": describe(change), "held_orders": held}


def remap_offer(ctx, supplier_name: str, sku: str, variant_sku: str) -> dict:
    """Map the supplier SKU to another of our variants (what it really is now) and release it: its catalog
    link follows, so later imports describe that variant (filling blanks only: the variant is not this
    supplier's to rewrite). Stock and prices of both variants are pushed after the commit."""
    with ctx.uow() as uow:
        supplier, offer = _offer(uow, supplier_name, sku)
        variant = uow.catalog.variant_by_sku(variant_sku)
        if variant is None:
            raise NotFound(f"no variant with our SKU {variant_sku!r}")
        now = ctx.clock()
        before = uow.catalog.variants_by_id([offer.variant_id]).get(offer.variant_id) if offer.variant_id else None
        offer.variant_id = variant.id
        source = uow.catalog_import.sources(supplier.id, [sku]).get(sku)
        if source is None:
            uow.add(VariantSource(supplier_id=supplier.id, supplier_sku=sku, variant_id=variant.id,
                                  matched_by="manual", gtin=offer.gtin, created_at=now, updated_at=now))
        else:
            source.variant_id, source.matched_by, source.gtin, source.updated_at = (
                variant.id, "manual", offer.gtin, now)
        detail = {"sku": sku, "from": before.sku if before else None, "to": variant.sku,
                  "change": dict(offer.drift or {})}
        _release(uow, ctx, offer, supplier.id, "offer.remapped", detail,
                 f"remapped by {ctx.actor} to {variant.sku}")
        held = uow.offers.held_orders(variant.id)
        uow.commit()
    return {"supplier": supplier_name, "sku": sku, "from": detail["from"], "to": variant.sku, "held_orders": held}


def _offer(uow, supplier_name: str, sku: str):
    supplier = uow.suppliers.by_name(supplier_name)
    if supplier is None:
        raise NotFound(f"no supplier named {supplier_name!r}")
    offer = uow.offers.by_supplier_sku(supplier.id, sku)
    if offer is None:
        raise NotFound(f"{supplier_name} has no offer with SKU {sku!r}")
    return supplier, offer


def _release(uow, ctx, offer: SupplierOffer, supplier_id: int, action: str, detail: dict, resolution: str) -> None:
    """Lift the quarantine (if any), resolve its alert, and owe every store with listings a stock push and a
    re-pricing: the offer promises stock and may set the price again."""
    now = ctx.clock()
    offer.quarantined_at, offer.drift = None, None
    offer.updated_at = now
    alert = uow.alerts.open_by_key(alert_key(supplier_id, offer.supplier_sku))
    if alert is not None:
        uow.alerts.resolve([alert.id], now, ctx.actor, resolution)
    audit(uow, ctx, action, f"offer:{offer.id}", detail, supplier_id=supplier_id)
    stores = uow.listings.stores_with_listings()
    reason = f"offer:{offer.id}:{action}:{now.isoformat()}"
    for store_id, store_name in stores:
        schedule(uow, ctx, "push_stock", f"push:{store_id}:{reason}", {"store": store_name})
    schedule_repricing(uow, ctx, reason, stores)
