"""Suppliers: connection and capabilities, feed runs with counts, offers with stock, cost and what we
can promise."""

from __future__ import annotations

from dropbridge.domain.errors import NotFound, ValidationError
from dropbridge.services.ports import Capability

from .common import Paging, money


def catalog_pull_available(ctx, supplier) -> bool:
    """Whether the supplier's catalog can be pulled by API (`sync catalog`), from the connector registry."""
    info = ctx.connectors.info("supplier", supplier.kind)
    return info.has(Capability.CATALOG) and not info.offers_by_feed


def capabilities(ctx, supplier) -> list[str]:
    """What the supplier's kind can do (the registry's capabilities), plus how its feeds arrive."""
    cfg = supplier.config or {}
    caps = ["feed upload"]
    if (cfg.get("feed_source") or {}).get("url"):
        caps.append("feed URL")
    return caps + sorted(c.value for c in _info(ctx, supplier).capabilities)


def _info(ctx, supplier):
    try:
        return ctx.connectors.info("supplier", supplier.kind)
    except ValidationError:  # a kind no longer registered: shown as not connected
        return None


def _run(r) -> dict:
    return {"id": r.id, "source": r.source, "mode": r.mode, "status": r.status, "rows_read": r.rows_read,
            "changed": r.changed, "unchanged": r.unchanged, "zeroed": r.zeroed, "rejected": r.rejected,
            "reason": (r.report or {}).get("reason", ""), "started_at": r.started_at, "finished_at": r.finished_at}


def suppliers_overview(ctx) -> list[dict]:
    now = ctx.clock()
    with ctx.uow(read_only=True) as uow:
        counts = uow.dashboard.offer_counts()
        fresh = uow.dashboard.feed_freshness()
        out = []
        for s in uow.suppliers.all():
            applied = fresh.get(s.id, (None, None))[0]
            out.append({"name": s.name, "kind": s.kind, "base_url": s.base_url, "connected": _info(ctx, s) is not None,
                        "has_credentials": bool(s.credentials), "capabilities": capabilities(ctx, s),
                        "offers": counts.get(s.id, (0, 0))[0], "in_stock": counts.get(s.id, (0, 0))[1],
                        "last_applied": applied,
                        "age_hours": (now - applied).total_seconds() / 3600 if applied else None,
                        "runs": [_run(r) for r in uow.dashboard.last_runs(s.id, 3)]})
    return out


def supplier_page(ctx, name: str, q: str | None = None, page: int | None = 1) -> dict:
    paging = Paging.of(page)
    with ctx.uow(read_only=True) as uow:
        s = uow.suppliers.by_name(name)
        if s is None:
            raise NotFound(f"no supplier named {name!r}")
        runs = [_run(r) for r in uow.dashboard.last_runs(s.id, 20)]
        rows, total = uow.dashboard.offers_page(s.id, (q or "").strip() or None, paging.size, paging.offset)
    buffer = int((s.config or {}).get("buffer", 0))
    offers = [{"supplier_sku": o.supplier_sku, "sku": sku, "stock": o.stock, "reserved": o.reserved,
               "atp": 0 if o.quarantined_at else max(0, o.stock - o.reserved - buffer),
               "quarantined": o.quarantined_at is not None,
               "cost": f"{money(o.cost_minor, o.currency)} {o.currency}",
               "lead_time_days": o.lead_time_days, "as_of": o.as_of} for o, sku in rows]
    return {"name": s.name, "kind": s.kind, "base_url": s.base_url, "connected": _info(ctx, s) is not None,
            "capabilities": capabilities(ctx, s), "catalog_pull": catalog_pull_available(ctx, s), "buffer": buffer,
            "feed_url": ((s.config or {}).get("feed_source") or {}).get("url"),
            "runs": runs, "offers": offers, "paging": paging.info(total), "q": q or ""}
