"""Products and listings: per variant, each supplier's offer, what each store is promised and charged,
and the margin expected at the cheapest landed cost."""

from __future__ import annotations

from collections import defaultdict

from .common import Paging, money


def products_page(ctx, q: str | None = None, page: int | None = 1) -> dict:
    paging = Paging.of(page, 25)
    default = int(getattr(ctx.settings, "low_stock_threshold", 5)) if ctx.settings else 5
    with ctx.uow(read_only=True) as uow:
        rows, total = uow.dashboard.variants_page((q or "").strip() or None, paging.size, paging.offset)
        ids = [v.id for v, _ in rows]
        offers = uow.listings.offers_for(ids)
        listings = uow.dashboard.listings_for(ids)
    by_variant = defaultdict(list)
    for offer, supplier in offers:
        buffer = int((supplier.config or {}).get("buffer", 0))
        shipping = (supplier.config or {}).get("shipping_per_order")
        by_variant[offer.variant_id].append({
            "supplier": supplier.name, "supplier_sku": offer.supplier_sku, "stock": offer.stock,
            "atp": 0 if offer.quarantined_at else max(0, offer.stock - offer.reserved - buffer),
            "quarantined": offer.quarantined_at is not None, "currency": offer.currency,
            "cost_minor": offer.cost_minor, "cost": f"{money(offer.cost_minor, offer.currency)} {offer.currency}",
            "landed_minor": offer.cost_minor + _minor(shipping, offer.currency)})
    listed = defaultdict(list)
    for listing, store in listings:
        listed[listing.variant_id].append((listing, store))
    items = []
    for v, title in rows:
        vo = sorted(by_variant[v.id], key=lambda o: o["landed_minor"])
        stores = []
        for listing, store in listed[v.id]:
            cheapest = next((o for o in vo if o["currency"] == listing.currency), None)
            expected = None
            if cheapest and listing.price_minor:
                m = listing.price_minor - cheapest["landed_minor"]
                expected = f"{money(m, listing.currency)} {listing.currency} ({m / listing.price_minor * 100:.0f}%)"
            stores.append({"store": store, "promised": listing.pushed_stock,
                           "price": f"{money(listing.price_minor, listing.currency)} {listing.currency}"
                           if listing.price_minor is not None and listing.currency else "-",
                           "expected_margin": expected or "-", "pushed_at": listing.pushed_at})
        items.append({"id": v.id, "sku": v.sku, "title": title or v.title, "offers": vo, "stores": stores,
                      "atp": sum(o["atp"] for o in vo), "threshold": v.low_stock_threshold,
                      "default_threshold": default})
    return {"items": items, "paging": paging.info(total), "q": q or ""}


def _minor(value, currency: str) -> int:
    if value in (None, ""):
        return 0
    from dropbridge.domain.money import Money

    try:
        return Money.parse(str(value), currency).amount
    except Exception:
        return 0

