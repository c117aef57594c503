"""Variants follow the supplier: a product already published gets, in place, what its supplier changed since.

For every product a store lists, the store's copy is read back (one read per product) and compared with our
catalog:

- a variant the supplier added (offered, priceable, not listed here) is added to the store product, with its
  price and stock, beside the live ones: nothing live is deleted or recreated;
- a variant the supplier dropped (its supplier status says discontinued/deleted/..., or no supplier offers it
  any more: no offer, or every offer's SKU absent from its supplier's last full feed) is promised zero stock
  and, by the store setting `dropped_variants` (zero | hide | archive), also taken off sale; with `archive`
  the product is archived once every variant is dropped. A dropped variant offered again is put back on sale;
- option values and the product title that changed are updated on the live variants and product;
- a listing whose store variant no longer exists is pointed at the store's variant with the same SKU, or the
  variant is added again; a product the store lost is published again. No listing is left naming a store id
  that does not exist.

The platform's side is the VARIANTS capability (services/ports.py VariantWriter). Runs as a job after a feed or
catalog pull that imported catalog changes or whose full feed lacked (or listed again) a listed SKU, and from
`dropbridge sync push`."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field, replace

from dropbridge.domain.errors import PermanentError, ValidationError
from dropbridge.domain.model import Listing
from dropbridge.domain.money import Money
from dropbridge.domain.pricing import PricingRules, price_for
from dropbridge.services.ports import (
    Capability,
    DroppedVariants,
    ProductDraft,
    ProductVariantDraft,
    VariantChanges,
)

from .fx import rate_table
from .publish_listings import _store, available_to_promise, cheapest_landed, is_dropped, send_stock
from .records import audit, log, raise_alert


@dataclass
class VariantSyncSummary:
    store: str
    products: int = 0  # published products looked at
    added: int = 0
    renamed: int = 0
    retired: int = 0
    restored: int = 0
    retitled: int = 0
    recategorized: int = 0
    repointed: int = 0  # listings whose store variant id was gone, now naming the live variant with their SKU
    republished: int = 0  # products the store had lost, published again
    failed: list[tuple[str, str]] = field(default_factory=list)  # (product, reason)


def dropped_setting(store) -> DroppedVariants:
    value = (store.config or {}).get("dropped_variants") or "zero"
    try:
        return DroppedVariants(value)
    except ValueError:
        raise ValidationError(f"store {store.name}: dropped_variants must be zero, hide or archive, not {value!r}",
                              field="dropped_variants") from None


def follow_variants(ctx, store_name: str, product_ids: list[int] | None = None) -> VariantSyncSummary:
    """Bring the store's published products (only those of `product_ids`, our product ids, when given: the ones a
    catalog import changed) in step with the catalog."""
    with ctx.uow(read_only=True) as uow:
        store = _store(uow, store_name)
        summary = VariantSyncSummary(store=store.name)
        if not ctx.connectors.info("store", store.platform).has(Capability.VARIANTS):
            return summary  # a store whose products are not ours to change (a headless store lists from our API)
        cfg = store.config or {}
        currency = cfg.get("currency", "USD")
        rules = PricingRules.from_config(cfg.get("pricing"))
        mode = dropped_setting(store)
        listings = [ls for ls in uow.listings.for_store(store.id) if ls.external_product_id]
        listed_variants = uow.catalog.variants_by_id([ls.variant_id for ls in listings])
        wanted = set(product_ids) if product_ids is not None else None
        product_ids = sorted({v.product_id for v in listed_variants.values()
                              if v.product_id and (wanted is None or v.product_id in wanted)})
        siblings = uow.listings.siblings(product_ids)
        products = uow.listings.products(product_ids)
        offers = uow.listings.offers_for([v.id for vs in siblings.values() for v in vs])
        rates, _ = rate_table(uow)
    atp = available_to_promise(offers)
    cheapest = {vid: landed for vid, (landed, _) in cheapest_landed(offers, currency, rates).items()}
    offered: dict[int, int] = defaultdict(int)  # offers whose supplier still lists the SKU
    for offer, _supplier in offers:
        offered[offer.variant_id] += offer.absent_since is None
    by_product: dict[int, list[Listing]] = defaultdict(list)
    for ls in listings:
        v = listed_variants.get(ls.variant_id)
        if v is not None and v.product_id:
            by_product[v.product_id].append(ls)

    connector = ctx.store_connector(store, Capability.VARIANTS)
    zero: list[tuple[Listing, int]] = []  # dropped listings still promising stock
    for pid in product_ids:
        group = by_product.get(pid)
        if not group:
            continue
        product = products[pid]
        summary.products += 1
        drafts: dict[int, ProductVariantDraft] = {}
        dropped: set[int] = set()
        for v in siblings.get(pid, []):
            if is_dropped(v, offered[v.id]):
                dropped.add(v.id)
            draft = _draft(v, cheapest, rules, atp)
            if draft is not None:
                drafts[v.id] = draft
        try:
            _follow_product(ctx, store, connector, product, group, siblings.get(pid, []), drafts, dropped, mode,
                            summary)
        except PermanentError as exc:  # the store refuses this product's change; the others still go
            # (a timeout or rate limit propagates: the job is retried, and reads the store again first)
            log.warning("variants not followed", store=store.name, product=product.sku, error=str(exc))
            summary.failed.append((product.sku, str(exc)))
            continue
        zero.extend((ls, 0) for ls in group if ls.variant_id in dropped and ls.pushed_stock != 0)
    if summary.failed:
        with ctx.uow() as uow:
            raise_alert(uow, ctx, "variants.failed", f"store {store.name} refused variant changes for "
                        + "; ".join(f"{sku}: {reason[:200]}" for sku, reason in summary.failed[:5]),
                        store_id=store.id)
            audit(uow, ctx, "variants.failed", f"store:{store.name}", {"failed": summary.failed[:20]},
                  store_id=store.id)
            uow.commit()
    if zero:
        with ctx.uow(read_only=True) as uow:
            fresh = {ls.id: ls for ls in uow.listings.stock_rows(store.id)}
        send_stock(ctx, store, list(fresh.values()), [(fresh[ls.id], 0) for ls, _ in zero if ls.id in fresh],
                   action="stock.pushed")
    return summary


def _draft(v, cheapest, rules, atp) -> ProductVariantDraft | None:
    """The variant as we would publish it now; None when it cannot be priced in the store's currency."""
    if v.id not in cheapest:
        return None
    mapp = Money(v.map_minor, v.currency) if v.map_minor and v.currency else None
    try:
        price, compare = price_for(cheapest[v.id], rules, map_price=mapp)
    except ValidationError:
        return None
    return ProductVariantDraft(sku=v.sku, price=price, compare_at_price=compare, options=dict(v.options or {}),
                               barcode=v.gtin, quantity=atp.get(v.id, 0))


def _follow_product(ctx, store, connector, product, group, members, drafts, dropped, mode, summary) -> None:
    listed = {ls.variant_id: ls for ls in group}
    external = max({ls.external_product_id for ls in group}, key=lambda e: sum(ls.external_product_id == e
                                                                                for ls in group))
    wanted = ProductDraft(sku=product.sku, title=product.title or product.sku,
                          description_html=product.description_html or "", vendor=product.brand or "",
                          category=product.category,
                          variants=[drafts[v.id] for v in members if v.id in drafts and v.id not in dropped])
    live = connector.read_product(external)
    if live is None:  # the store lost the product: publish it again, every listing moves to the new ids
        # Dropped variants too (at zero), so no listing is left naming a lost id; the next run retires them.
        every = replace(wanted, variants=[replace(drafts[v.id], quantity=0) if v.id in dropped else drafts[v.id]
                                          for v in members if v.id in drafts])
        if not every.variants:
            return
        result = connector.publish_product(every, f"db-republish-{store.id}-{product.sku}")
        _record(ctx, store, product, group, {}, result.external_product_id, result.variant_ids, drafts, members,
                action="product.republished", detail={"external_product_id": result.external_product_id})
        summary.republished += 1
        return
    by_id = {lv.external_variant_id: lv for lv in live.variants}
    by_sku = {lv.sku.casefold(): lv for lv in live.variants if lv.sku}
    add: list[ProductVariantDraft] = []
    rename: list[tuple[str, ProductVariantDraft]] = []
    retire: list[str] = []
    restore: list[str] = []
    repoint: dict[int, str] = {}  # listing id -> the live variant id it should name
    for v in members:
        ls = listed.get(v.id)
        gone = v.id in dropped
        draft = drafts.get(v.id)
        lv = None
        if ls is not None:
            lv = by_id.get(ls.external_variant_id or "") or by_sku.get(v.sku.casefold())
            if lv is not None and lv.external_variant_id != ls.external_variant_id:
                repoint[ls.id] = lv.external_variant_id
        elif v.sku.casefold() in by_sku:  # on the store already (an earlier attempt added it): list it
            lv = by_sku[v.sku.casefold()]
        if lv is None:  # never added, or the store lost it: added (a dropped one at zero, then retired)
            if draft is not None and (not gone or ls is not None):
                add.append(replace(draft, quantity=0) if gone else draft)
            continue
        if ls is None:
            repoint[-v.id] = lv.external_variant_id  # a new listing for a variant the store has
        if gone:
            if mode is not DroppedVariants.ZERO and not lv.retired:
                retire.append(lv.external_variant_id)
            continue
        if lv.retired and mode is not DroppedVariants.ZERO:
            restore.append(lv.external_variant_id)
        if draft is not None and draft.options and _norm(draft.options) != _norm(lv.options):
            rename.append((lv.external_variant_id, draft))
    every_dropped = bool(members) and all(v.id in dropped for v in members)
    retire_product = mode is DroppedVariants.ARCHIVE and every_dropped and not live.retired
    restore_product = mode is DroppedVariants.ARCHIVE and live.retired and not every_dropped
    leaf = category_leaf(product.category)
    changes = VariantChanges(external_product_id=live.external_product_id, product=wanted, add=add, rename=rename,
                             retire=retire, restore=restore, dropped=mode, retire_product=retire_product,
                             restore_product=restore_product,
                             retitle=bool(product.title) and live.title != product.title,
                             recategorize=bool(leaf) and leaf.casefold() not in {c.casefold() for c in live.categories})
    touched = bool(add or rename or retire or restore or retire_product or restore_product or changes.retitle
                   or changes.recategorize)
    added: dict[str, str] = {}
    if touched:
        added = connector.apply_variant_changes(changes, _key(store, product, changes))
        late = [added[v.sku] for v in members if v.id in dropped and v.sku in added]
        if late and mode is not DroppedVariants.ZERO:  # re-added only so that its listing resolves
            off = VariantChanges(external_product_id=live.external_product_id, product=wanted, retire=late,
                                 dropped=mode)
            connector.apply_variant_changes(off, _key(store, product, off))
            retire += late
    if not (touched or repoint):
        return
    summary.added += len(added)
    summary.renamed += len(rename)
    summary.retired += len(retire)
    summary.restored += len(restore)
    summary.retitled += int(changes.retitle)
    summary.recategorized += int(changes.recategorize)
    summary.repointed += sum(1 for k in repoint if k > 0)
    detail = {"external_product_id": live.external_product_id, "added": sorted(added),
              "renamed": [vid for vid, _ in rename], "retired": retire, "restored": restore,
              "product_archived": retire_product, "product_restored": restore_product, "retitled": changes.retitle,
              "category": product.category if changes.recategorize else None,
              "repointed": sorted(k for k in repoint if k > 0)}
    ids = {**added}
    for key, vid in repoint.items():
        if key < 0:
            ids[next(v.sku for v in members if v.id == -key)] = vid
    _record(ctx, store, product, group, {k: v for k, v in repoint.items() if k > 0}, live.external_product_id, ids,
            drafts, members, action="variants.followed", detail=detail)


def _record(ctx, store, product, group, repoint, external_product_id, sku_ids, drafts, members, *, action,
            detail) -> None:
    """New listings for the variants the store now has, listings moved to live ids, and the audit record."""
    with ctx.uow() as uow:
        now = ctx.clock()
        listed = {ls.variant_id: ls.id for ls in group}
        for v in members:
            vid = sku_ids.get(v.sku)
            if v.id in listed:
                row = uow.get(Listing, listed[v.id])
                target = repoint.get(row.id) or vid
                if target and (row.external_variant_id != target or row.external_product_id != external_product_id):
                    row.external_variant_id, row.external_product_id = target, external_product_id
                    if vid and v.id in drafts:  # created anew: it has the draft's price and stock
                        d = drafts[v.id]
                        row.price_minor, row.currency, row.pushed_stock, row.pushed_at = (
                            d.price.amount, d.price.currency, d.quantity, now)
                        row.compare_at_minor = d.compare_at_price.amount if d.compare_at_price else None
            elif vid and v.id in drafts:
                d = drafts[v.id]
                uow.add(Listing(store_id=store.id, variant_id=v.id, external_product_id=external_product_id,
                                external_variant_id=vid, price_minor=d.price.amount, currency=d.price.currency,
                                pushed_stock=d.quantity, pushed_at=now,
                                compare_at_minor=d.compare_at_price.amount if d.compare_at_price else None))
        audit(uow, ctx, action, f"store:{store.name}", {"product": product.sku, **detail}, store_id=store.id)
        uow.commit()


def category_leaf(category: str | None) -> str:
    """"Apparel > Tees" -> "Tees": the name a store files the product under (its own path above it)."""
    return (category or "").split(">")[-1].strip()


def _norm(options: dict[str, str]) -> dict[str, str]:
    return {str(k).strip(): str(v).strip() for k, v in (options or {}).items()}


def _key(store, product, changes: VariantChanges) -> str:
    """From our ids and what the call carries: a retry of the same changes is the same call."""
    state = repr((changes.external_product_id, [(d.sku, sorted(d.options.items())) for d in changes.add],
                  [(vid, sorted(d.options.items())) for vid, d in changes.rename], changes.retire, changes.restore,
                  changes.retire_product, changes.restore_product, changes.retitle and changes.product.title,
                  changes.recategorize and changes.product.category))
    return f"db-variants-{store.id}-{product.id}-{hashlib.sha256(state.encode()).hexdigest()[:20]}"
