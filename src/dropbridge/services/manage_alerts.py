"""People acting on alerts: acknowledge (someone is on it) and resolve (it is over), each recorded."""

from __future__ import annotations

from dropbridge.domain.errors import NotFound, ValidationError
from dropbridge.domain.model import Variant

from .records import audit


def acknowledge_alerts(ctx, alert_ids: list[int]) -> int:
    if not alert_ids:
        raise ValidationError("no alert chosen", "alert_ids")
    with ctx.uow() as uow:
        done = uow.alerts.acknowledge(alert_ids, ctx.clock(), ctx.actor)
        audit(uow, ctx, "alert.acknowledged", ",".join(f"alert:{i}" for i in alert_ids)[:200],
              {"alerts": alert_ids, "changed": done})
        uow.commit()
    return done


def resolve_alerts(ctx, alert_ids: list[int], resolution: str = "") -> int:
    """Resolved alerts stay in the record; the same condition raised again opens a new one."""
    if not alert_ids:
        raise ValidationError("no alert chosen", "alert_ids")
    with ctx.uow() as uow:
        done = uow.alerts.resolve(alert_ids, ctx.clock(), ctx.actor, resolution.strip() or "resolved")
        audit(uow, ctx, "alert.resolved", ",".join(f"alert:{i}" for i in alert_ids)[:200],
              {"alerts": alert_ids, "changed": done, "resolution": resolution.strip()})
        uow.commit()
    return done


def set_low_stock_threshold(ctx, sku: str, threshold: int | None) -> None:
    """A per-SKU threshold (None: back to the default)."""
    if threshold is not None and not 0 <= threshold <= 1_000_000:
        raise ValidationError("a threshold is a whole number from 0 to 1,000,000", "threshold")
    with ctx.uow() as uow:
        variant = uow.catalog.variant_by_sku(sku)
        if variant is None:
            raise NotFound(f"no SKU {sku!r}")
        variant = uow.get(Variant, variant.id)
        variant.low_stock_threshold = threshold
        audit(uow, ctx, "variant.low_stock_threshold", f"variant:{sku}", {"threshold": threshold})
        uow.commit()
