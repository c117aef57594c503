"""Alerts as the dashboard lists them."""

from __future__ import annotations

from dropbridge.domain.errors import ValidationError

from .common import Paging

STATES = ("open", "resolved", "all")


def alerts_page(ctx, state: str = "open", kind: str | None = None, page: int | None = 1) -> dict:
    if state not in STATES:
        raise ValidationError(f"state is one of {', '.join(STATES)}", "state")
    paging = Paging.of(page)
    with ctx.uow(read_only=True) as uow:
        rows, total = uow.alerts.page(state=state, kind=kind or None, limit=paging.size, offset=paging.offset)
        counts = uow.alerts.open_counts()
    return {"alerts": rows, "paging": paging.info(total), "state": state, "kind": kind or "",
            "open_counts": dict(sorted(counts.items()))}
