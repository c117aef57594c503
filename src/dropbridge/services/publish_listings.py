"""Publish: products and stock out to stores.

Stock pushed is *available to promise*: for each listed variant, the sum over its offers of supplier stock
minus the supplier's buffer minus units reserved by orders the feed has not reflected yet; an offer
quarantined for mapping drift (services/offer_drift.py) promises nothing and sets no price. Prices come from
the store's pricing rules applied to the cheapest landed cost. Only changes are pushed; each platform's
connector batches them to its limits within its rate budget."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial

import structlog

from dropbridge.domain.errors import NotFound, ValidationError
from dropbridge.domain.model import Listing
from dropbridge.domain.money import Money
from dropbridge.domain.pricing import PricingRules, price_for
from dropbridge.domain.routing import convert
from dropbridge.services.ports import Capability, ImageFile, ProductDraft, ProductVariantDraft, StockUpdate

from .fx import rate_table
from .image_port import FORMATS
from .records import audit
from .route_order import supplier_terms

log = structlog.get_logger("dropbridge.publish")


@dataclass
class PushSummary:
    store: str
    listings: int = 0
    changes: int = 0
    calls: int = 0
    applied: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


# A variant whose supplier status says one of these is dropped: nothing promised, and by the store's setting
# `dropped_variants` taken off sale (services/follow_variants.py).
DROPPED_STATUSES = frozenset({"discontinued", "deleted", "removed", "archived", "inactive", "disabled", "retired"})


def is_dropped(variant, offer_count: int = 1) -> bool:
    """The supplier dropped the variant: its status says so, or no supplier offers it any more."""
    return offer_count == 0 or (variant.status or "").strip().casefold() in DROPPED_STATUSES


def available_to_promise(offers) -> dict[int, int]:
    """Variant id -> units we can promise, from (offer, supplier) pairs."""
    atp: dict[int, int] = defaultdict(int)
    for offer, supplier in offers:
        buffer = int((supplier.config or {}).get("buffer", 0))
        atp[offer.variant_id] += 0 if offer.quarantined_at else max(0, offer.stock - offer.reserved - buffer)
    return atp


def _promised(offer_rows) -> dict[int, int]:
    """available_to_promise over plain (variant_id, stock, reserved, quarantined_at, supplier config) rows."""
    atp: dict[int, int] = defaultdict(int)
    for variant_id, stock, reserved, quarantined_at, config in offer_rows:
        buffer = int((config or {}).get("buffer", 0))
        atp[variant_id] += 0 if quarantined_at else max(0, stock - reserved - buffer)
    return atp


def cheapest_landed(offers, currency: str, rates) -> dict[int, tuple[Money, Money]]:
    """Variant id -> (cheapest landed cost in `currency`, that offer's own cost) over (offer, supplier)
    pairs; an offer that cannot be converted to `currency` is left out."""
    cheapest: dict[int, tuple[Money, Money]] = {}
    for offer, supplier in offers:
        if offer.quarantined_at:  # its cost may be another item's
            continue
        terms = supplier_terms(supplier, None, currency)
        landed = convert(offer.cost + terms.shipping, currency, rates)
        if landed and (offer.variant_id not in cheapest or landed[0].amount < cheapest[offer.variant_id][0].amount):
            cheapest[offer.variant_id] = (landed[0], offer.cost)
    return cheapest


def _store(uow, name):
    store = uow.stores.by_name(name)
    if store is None:
        raise NotFound(f"no store named {name!r}")
    return store


def publish_products(ctx, store_name: str, limit: int = 500) -> list[str]:
    """List every offered variant the store does not list yet, grouped into products; returns the SKUs
    published. A product the platform already has (same handle/SKU) is matched, not duplicated."""
    with ctx.uow(read_only=True) as uow:
        store = _store(uow, store_name)
        currency = (store.config or {}).get("currency", "USD")
        rules = PricingRules.from_config((store.config or {}).get("pricing"))
        variants = [v for v in uow.listings.unlisted_variants(store.id, limit) if not is_dropped(v)]
        if ctx.connectors.info("store", store.platform).has(Capability.VARIANTS):
            # A product the store lists already gets its new variants beside the live ones (follow_variants);
            # publishing them as a product of their own would replace or duplicate it.
            listed = uow.listings.listed_products(store.id, [v.product_id for v in variants if v.product_id])
            variants = [v for v in variants if v.product_id not in listed]
        products = uow.listings.products([v.product_id for v in variants if v.product_id])
        images = uow.listings.image_urls(list(products))
        processed = uow.listings.processed_images(list(products))
        offers = uow.listings.offers_for([v.id for v in variants])
        rates, _ = rate_table(uow)
    atp = available_to_promise(offers)
    cheapest = {vid: landed for vid, (landed, _) in cheapest_landed(offers, currency, rates).items()}
    groups: dict[str, list] = defaultdict(list)
    for v in variants:
        if v.id in cheapest:  # an offer we cannot price in the store's currency is not published
            groups[products[v.product_id].sku if v.product_id in products else v.sku].append(v)

    connector = ctx.store_connector(store)
    published = []
    for product_sku, members in groups.items():
        product = products.get(members[0].product_id)
        drafts, priced = [], []
        for v in members:
            mapp = Money(v.map_minor, v.currency) if v.map_minor and v.currency else None
            try:
                price, compare = price_for(cheapest[v.id], rules, map_price=mapp)
            except ValidationError as exc:  # a price beyond the amount bound: like an unpriceable offer
                log.warning("variant not published", sku=v.sku, reason=str(exc))
                continue
            priced.append(v)
            drafts.append(ProductVariantDraft(sku=v.sku, price=price, compare_at_price=compare,
                                              options=dict(v.options or {}), barcode=v.gtin, quantity=atp[v.id]))
        if not drafts:
            continue
        members = priced
        draft = ProductDraft(sku=product_sku, title=(product.title if product else "") or members[0].title
                             or product_sku, description_html=(product.description_html or "") if product else "",
                             images=(_image_urls(ctx, processed.get(product.id, []), images.get(product.id, []))
                                     if product else []),
                             image_files=_image_files(ctx, processed.get(product.id, [])) if product else [],
                             variants=drafts,
                             vendor=(product.brand or "") if product else "",
                             category=product.category if product else None)
        result = connector.publish_product(draft, f"db-publish-{store.id}-{product_sku}")
        with ctx.uow() as uow:
            now = ctx.clock()
            for v, d in zip(members, drafts, strict=True):
                uow.add(Listing(store_id=store.id, variant_id=v.id, external_product_id=result.external_product_id,
                                external_variant_id=result.variant_ids.get(v.sku), price_minor=d.price.amount,
                                currency=d.price.currency, pushed_stock=d.quantity, pushed_at=now,
                                external_inventory_id=result.inventory_ids.get(v.sku),
                                compare_at_minor=d.compare_at_price.amount if d.compare_at_price else None))
            audit(uow, ctx, "product.published", f"store:{store.name}",
                  {"product": product_sku, "variants": [v.sku for v in members],
                   "external_product_id": result.external_product_id}, store_id=store.id)
            uow.commit()
        published.extend(v.sku for v in members)
    return published


def _public_image_url(ctx, sha256: str, fmt: str) -> str | None:
    public = getattr(ctx.settings, "public_url", None)
    return f"{public.rstrip('/')}/images/{sha256}.{FORMATS.get(fmt, fmt)}" if public else None


def _image_files(ctx, stored: list[tuple[str, str, str]]) -> list[ImageFile]:
    """The product's processed images (resized, watermarked by the catalog import), read when a connector
    uploads them."""
    return [ImageFile(name=f"{sha}.{FORMATS.get(fmt, fmt)}", content_type=f"image/{fmt}",
                      read=partial(ctx.images.read, path), url=_public_image_url(ctx, sha, fmt))
            for sha, path, fmt in stored]


def _image_urls(ctx, stored: list[tuple[str, str, str]], originals: list[str]) -> list[str]:
    """What a platform that fetches images by URL gets: the processed copies where dropbridge serves them
    (`public_url`), else the supplier's original URLs."""
    urls = [_public_image_url(ctx, sha, fmt) for sha, _, fmt in stored]
    return [u for u in urls if u] if stored and all(urls) else originals


def push_stock(ctx, store_name: str, *, due_only: bool = False) -> PushSummary:
    """Send the store every listed variant whose available-to-promise differs from what it last got. With
    `due_only`, look only at listings marked as owed a push (a feed run marks those of the offers it changed,
    in its own transaction): a few percent of a large store, where reading all of it was most of the push.
    A mark is cleared only once its listing's push succeeded, so a push that failed or never finished is
    made by the next one (the job's retry, the next run's, or the periodic reconcile, which reads all)."""
    store, listings, atp = listed_stock(ctx, store_name, due_only=due_only)
    changed = [(ls, atp.get(ls.variant_id, 0)) for ls in listings
               if ls.external_variant_id and ls.pushed_stock != atp.get(ls.variant_id, 0)]
    return send_stock(ctx, store, listings, changed, settles=listings)


def listed_stock(ctx, store_name: str, *, due_only: bool = False):
    """The store, its listings (only those owed a push, with `due_only`) as plain rows (ListingRepo.stock_rows:
    id, variant_id, sku, status, external ids, pushed_stock, pushed_at, stock_due) and available-to-promise per
    variant (none for a variant the supplier dropped)."""
    with ctx.uow(read_only=True) as uow:
        store = _store(uow, store_name)
        listings = uow.listings.stock_rows(store.id, due_only=due_only)
        atp = _promised(uow.listings.offer_stock_for_store(store.id, due_only=due_only)) if listings else {}
    for ls in listings:
        if is_dropped(ls):  # the row carries its variant's status
            atp[ls.variant_id] = 0
    return store, listings, atp


def stock_key(store, changed) -> str:
    """The push's idempotency key, from our ids: the store, each listing with the state it moves from (what it
    last got and when) and the quantity the offers now promise. A retry of an unfinished push carries the same
    key; any later push differs, since a successful one moves the listing's pushed_at."""
    state = ";".join(f"{ls.id}:{ls.pushed_stock}:{ls.pushed_at.isoformat() if ls.pushed_at else ''}:{q}"
                     for ls, q in sorted(changed, key=lambda pair: pair[0].id))
    return f"db-stock-{store.id}-{hashlib.sha256(state.encode()).hexdigest()[:24]}"


def send_stock(ctx, store, listings, changed, action: str = "stock.pushed", settles=()) -> PushSummary:
    """Push (listing row, quantity) pairs to the store and record what it took as pushed. `settles`: the
    listing rows this push looked at in full; their owed-push marks (as read) are cleared, unless the store
    refused the row."""
    summary = PushSummary(store=store.name, listings=len(listings))
    summary.changes = len(changed)
    failed: set = set()
    if changed:
        updates = [StockUpdate(external_variant_id=ls.external_variant_id, sku=ls.sku, quantity=q,
                               external_inventory_id=ls.external_inventory_id,
                               external_product_id=ls.external_product_id)
                   for ls, q in changed]
        result = ctx.store_connector(store).push_stock(updates, stock_key(store, changed))
        failed = {vid for vid, _ in result.failed}
        summary.calls, summary.applied, summary.failed = result.calls, result.applied, list(result.failed)
    pushed = [(ls.id, quantity, getattr(ls, "stock_due", None)) for ls, quantity in changed
              if ls.external_variant_id not in failed]
    done = {lid for lid, _, _ in pushed}
    settled = [(ls.id, ls.stock_due) for ls in settles if ls.stock_due is not None and ls.id not in done
               and not (ls.external_variant_id and ls.external_variant_id in failed)]
    if not changed and not settled:
        return summary
    with ctx.uow() as uow:
        uow.listings.mark_pushed(pushed, ctx.clock())  # clearing the marks it read, in the same statement
        uow.listings.settle_due(settled)
        if changed:
            audit(uow, ctx, action, f"store:{store.name}",
                  {"changes": summary.changes, "calls": summary.calls, "failed": summary.failed[:20]},
                  store_id=store.id)
        uow.commit()
    return summary
