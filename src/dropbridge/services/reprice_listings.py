"""Prices follow costs: re-apply the store's pricing rules to every listing's cheapest landed cost and push
only the prices (with compare-at prices) that differ from what the store shows.

Run as a job after whatever can move a price commits: a feed or catalog pull that changed offers, an FX
import, a change of the store's pricing rules, an approval. A change the guards stop (beyond the tolerance,
zero cost, under the MAP or margin floor) waits in the approval queue (services/price_approvals.py) instead
of going live. Every change is a `PriceChange` row; the ids of the rows a push carries make its idempotency
key, so a retried push is the same push and a later one is another.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from dropbridge.domain.errors import ValidationError
from dropbridge.domain.model import Listing, PriceChange
from dropbridge.domain.money import Money
from dropbridge.domain.pricing import PriceGuards, PricingRules, hold_reason, price_for
from dropbridge.services.ports import Capability, PriceUpdate

from .fx import rate_table
from .publish_listings import _store, cheapest_landed
from .records import audit, log, raise_alert


@dataclass
class RepriceSummary:
    store: str
    listings: int = 0
    changes: int = 0  # prices pushed (or attempted)
    held: int = 0  # new changes waiting for approval
    unpriced: int = 0  # listings without a cost we can price from (no offer in a convertible currency)
    calls: int = 0
    applied: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Target:
    price: Money
    compare: Money | None
    landed: Money
    zero_cost: bool  # the supplier's own cost is zero: held, whatever shipping adds
    map_price: Money | None


def reprice_store(ctx, store_name: str) -> RepriceSummary:
    with ctx.uow(read_only=True) as uow:
        store = _store(uow, store_name)
        cfg = store.config or {}
        currency = cfg.get("currency", "USD")
        rules = PricingRules.from_config(cfg.get("pricing"))
        guards = PriceGuards.from_config(cfg.get("pricing"), cfg.get("routing"))
        listings = [ls for ls in uow.listings.for_store(store.id) if ls.external_variant_id]
        offers = uow.listings.offers_for([ls.variant_id for ls in listings])
        variants = uow.catalog.variants_by_id([ls.variant_id for ls in listings])
        rates, _ = rate_table(uow)
    summary = RepriceSummary(store=store.name, listings=len(listings))
    targets = _targets(listings, variants, cheapest_landed(offers, currency, rates), rules, summary)
    by_id = {ls.id: ls for ls in listings}
    with ctx.uow() as uow:
        to_push, held = _decide(uow, ctx, store, listings, targets, guards)
        uow.flush()
        outgoing = [(c.id, by_id[c.listing_id], c) for c in to_push]
        payload = [(cid, ls.id, PriceUpdate(external_variant_id=ls.external_variant_id,
                                            sku=variants[ls.variant_id].sku,
                                            price=Money(c.new_price_minor, c.currency),
                                            compare_at_price=(Money(c.new_compare_minor, c.currency)
                                                              if c.new_compare_minor is not None else None),
                                            external_product_id=ls.external_product_id))
                   for cid, ls, c in outgoing]
        if held:
            summary.held = len(held)
            audit(uow, ctx, "prices.held", f"store:{store.name}",
                  {"held": len(held), "changes": [{"id": c.id, "listing": c.listing_id, "reason": c.reason}
                                                  for c in held[:20]]}, store_id=store.id)
            raise_alert(uow, ctx, "prices.pending", f"price changes for store {store.name} wait for approval "
                        "(dropbridge prices pending)", store_id=store.id)
        uow.commit()
    return _push(ctx, store, payload, summary)


def _targets(listings, variants, cheapest, rules, summary) -> dict[int, _Target]:
    out: dict[int, _Target] = {}
    for ls in listings:
        found = cheapest.get(ls.variant_id)
        if found is None:
            summary.unpriced += 1
            continue
        landed, own_cost = found
        v = variants[ls.variant_id]
        mapp = Money(v.map_minor, v.currency) if v.map_minor and v.currency else None
        try:
            price, compare = price_for(landed, rules, map_price=mapp)
        except ValidationError as exc:  # a price beyond the amount bound: as unpriceable
            log.warning("listing not re-priced", listing=ls.id, reason=str(exc))
            summary.unpriced += 1
            continue
        out[ls.id] = _Target(price, compare, landed, own_cost.amount <= 0, mapp)
    return out


def _decide(uow, ctx, store, listings, targets, guards) -> tuple[list[PriceChange], list[PriceChange]]:
    """(changes to push now, changes newly held), recording new ones and retiring those a newer price replaced."""
    now = ctx.clock()
    opened: dict[int, list[PriceChange]] = defaultdict(list)
    for c in uow.price_changes.open_for_store(store.id):
        opened[c.listing_id].append(c)
    # A person rejected exactly this move (from this live price to this one): not asked again.
    refused = {(c.listing_id, c.old_price_minor, c.old_compare_minor, c.new_price_minor, c.new_compare_minor)
               for c in uow.price_changes.rejected_for_store(store.id)}
    to_push: list[PriceChange] = []
    held: list[PriceChange] = []
    for ls in listings:
        target = targets.get(ls.id)
        if target is None:
            continue
        new = (target.price.amount, target.compare.amount if target.compare else None)
        same = None
        for c in opened.get(ls.id, []):
            if same is None and c.currency == target.price.currency and (c.new_price_minor, c.new_compare_minor) == new:
                same = c
            else:
                c.status = "superseded"
        if ls.currency == target.price.currency and (ls.price_minor, ls.compare_at_minor) == new:
            if same is not None:
                same.status = "superseded"  # the store already shows it
            continue
        if same is not None:
            if same.status in ("ready", "approved"):
                to_push.append(same)
            continue
        if (ls.id, ls.price_minor, ls.compare_at_minor, *new) in refused:
            continue
        live = Money(ls.price_minor, ls.currency) if ls.price_minor is not None and ls.currency else None
        reason = hold_reason(live, target.price, None if target.zero_cost else target.landed, guards,
                             map_price=target.map_price)
        change = uow.add(PriceChange(
            store_id=store.id, listing_id=ls.id, currency=target.price.currency, new_price_minor=new[0],
            new_compare_minor=new[1], old_price_minor=ls.price_minor, old_compare_minor=ls.compare_at_minor,
            cost_minor=target.landed.amount, status="pending" if reason else "ready",
            reason=reason[:500] if reason else None, created_at=now))
        (held if reason else to_push).append(change)
    return to_push, held


def price_key(store, change_ids: list[int]) -> str:
    """From our ids: the store and the price changes the push carries."""
    digest = hashlib.sha256(",".join(map(str, sorted(change_ids))).encode()).hexdigest()[:24]
    return f"db-prices-{store.id}-{digest}"


def _push(ctx, store, payload, summary: RepriceSummary) -> RepriceSummary:
    summary.changes = len(payload)
    if not payload:
        return summary
    connector = ctx.store_connector(store, Capability.PRICES)
    result = connector.push_prices([u for _, _, u in payload], price_key(store, [cid for cid, _, _ in payload]))
    failed = dict(result.failed)
    summary.calls, summary.applied, summary.failed = result.calls, result.applied, list(result.failed)
    with ctx.uow() as uow:
        now = ctx.clock()
        for cid, listing_id, update in payload:
            change = uow.get(PriceChange, cid)
            reason = failed.get(update.external_variant_id)
            if reason is not None:
                change.status, change.reason = "failed", reason[:500]
                continue
            change.status, change.pushed_at = "pushed", now
            row = uow.get(Listing, listing_id)
            row.price_minor, row.currency = update.price.amount, update.price.currency
            row.compare_at_minor = update.compare_at_price.amount if update.compare_at_price else None
        audit(uow, ctx, "prices.pushed", f"store:{store.name}",
              {"changes": summary.changes, "calls": summary.calls, "failed": summary.failed[:20]},
              store_id=store.id)
        uow.commit()
    return summary
