"""Delivery windows pushed to stores (issue #13): each published listing's window, in days, for the store's
default destination (`delivery_country` in the store's config; without it the supplier's "*" transit) is
written where the platform keeps custom data on a variant (Capability.DELIVERY: Shopify metafield,
WooCommerce meta_data, BigCommerce metafield; namespace "dropbridge", key "delivery_days", value "5-12").

The window is the one the API shows (services/delivery_estimates.py): the lead time of the supplier whose
offer is cheapest landed (the one routing prefers; an offer's own stated lead time first), measured once it
has shipped enough orders, plus its transit. What was pushed is kept per listing (`delivery_pushed`), so
only windows that changed go out again. Run as a job after a feed or catalog pull changed offers, a
supplier's or store's delivery settings changed, or a shipment moved a measured lead time; and from
`dropbridge sync push`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from dropbridge.domain.model import Listing
from dropbridge.domain.routing import convert
from dropbridge.services.ports import Capability, DeliveryUpdate

from .delivery_estimates import measured_lead_times, supplier_window
from .fx import rate_table
from .publish_listings import _store
from .records import audit
from .route_order import supplier_terms


@dataclass
class DeliverySummary:
    store: str
    listings: int = 0
    changes: int = 0  # windows pushed (or attempted)
    calls: int = 0
    applied: int = 0
    supported: bool = True  # the platform declares Capability.DELIVERY
    failed: list[tuple[str, str]] = field(default_factory=list)


def _chosen_offers(offers, currency: str, rates) -> dict[int, tuple]:
    """Variant id -> (offer, supplier): the cheapest landed in `currency` (quarantined offers left out); an
    offer whose cost cannot be converted counts only when no other can."""
    best: dict[int, tuple] = {}
    for offer, supplier in offers:
        if offer.quarantined_at:
            continue
        landed = convert(offer.cost + supplier_terms(supplier, None, currency).shipping, currency, rates)
        amount = landed[0].amount if landed else None
        held = best.get(offer.variant_id)
        if held is None or (amount is not None and (held[2] is None or amount < held[2])):
            best[offer.variant_id] = (offer, supplier, amount)
    return {vid: (o, s) for vid, (o, s, _) in best.items()}


def delivery_key(store, pairs: list[tuple[int, str]]) -> str:
    """From our ids: the store and the (listing, window) pairs the push carries."""
    digest = hashlib.sha256(",".join(f"{lid}:{v}" for lid, v in sorted(pairs)).encode()).hexdigest()[:24]
    return f"db-delivery-{store.id}-{digest}"


def push_delivery(ctx, store_name: str) -> DeliverySummary:
    with ctx.uow(read_only=True) as uow:
        store = _store(uow, store_name)
        summary = DeliverySummary(store=store.name)
        if not ctx.connectors.info("store", store.platform).has(Capability.DELIVERY):
            summary.supported = False
            return summary
        cfg = store.config or {}
        country = cfg.get("delivery_country")
        listings = [ls for ls in uow.listings.for_store(store.id) if ls.external_variant_id]
        offers = uow.listings.offers_for([ls.variant_id for ls in listings])
        variants = uow.catalog.variants_by_id([ls.variant_id for ls in listings])
        rates, _ = rate_table(uow)
        measured = measured_lead_times(uow, ctx.clock()) if listings else {}
    summary.listings = len(listings)
    chosen = _chosen_offers(offers, cfg.get("currency", "USD"), rates)
    payload: list[tuple[int, DeliveryUpdate]] = []
    for ls in listings:
        found = chosen.get(ls.variant_id)
        if found is None:
            continue
        offer, supplier = found
        window = supplier_window(supplier, measured, country, offer.lead_time_days)
        update = DeliveryUpdate(external_variant_id=ls.external_variant_id,
                                external_product_id=ls.external_product_id, sku=variants[ls.variant_id].sku,
                                earliest_days=window.earliest_days, latest_days=window.latest_days)
        if ls.delivery_pushed != update.value:
            payload.append((ls.id, update))
    summary.changes = len(payload)
    if not payload:
        return summary
    connector = ctx.store_connector(store, Capability.DELIVERY)
    result = connector.push_delivery([u for _, u in payload], delivery_key(store, [(i, u.value) for i, u in payload]))
    failed = dict(result.failed)
    summary.calls, summary.applied, summary.failed = result.calls, result.applied, list(result.failed)
    with ctx.uow() as uow:
        for listing_id, update in payload:
            if update.external_variant_id in failed:
                continue
            row = uow.get(Listing, listing_id)
            if row is not None:
                row.delivery_pushed = update.value
        audit(uow, ctx, "delivery.pushed", f"store:{store.name}",
              {"changes": summary.changes, "calls": summary.calls, "country": country,
               "failed": summary.failed[:20]}, store_id=store.id)
        uow.commit()
    return summary
