"""The audit trail, searchable by subject, action, actor or correlation id."""

from __future__ import annotations

from .common import Paging


def audit_page(ctx, q: str | None = None, page: int | None = 1) -> dict:
    paging = Paging.of(page)
    with ctx.uow(read_only=True) as uow:
        rows = uow.dashboard.audit_page((q or "").strip() or None, paging.size + 1, paging.offset)
    more = len(rows) > paging.size
    return {"events": rows[:paging.size], "q": q or "", "page": paging.page,
            "prev": paging.page - 1 if paging.page > 1 else None, "next": paging.page + 1 if more else None}
