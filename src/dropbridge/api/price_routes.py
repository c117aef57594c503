"""The approval queue of price changes over HTTP: `GET /api/v1/prices/pending`, `POST /api/v1/prices/{id}/approve`
and `/reject` (the prices:write scope; admin implies it)."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter

from dropbridge.api.schemas import query_text
from dropbridge.domain import limits as lim
from dropbridge.services.price_approvals import decide_prices, pending_prices


def add_price_routes(router: APIRouter, ctx, read, write, for_store) -> None:
    """On the app itself (see shipment_routes); `read`/`write`: the scope dependencies of create_app."""

    @router.get("/api/v1/prices/pending", tags=["prices"], responses={403: {"description": "Scope refused"},
                                                                     404: {"description": "No such store"}})
    def pending(store: str | None = query_text(lim.STORE_NAME_MAX), principal=read):
        """Price changes waiting for approval (beyond the tolerance, zero cost, under the MAP or margin floor),
        oldest first; those of stores the token may not use are left out."""
        rows = pending_prices(ctx, store)
        return {"pending": [r for r in rows if principal.may_use_store(r["store"])]}

    def _decide(change_id: int, principal, approve: bool) -> dict:
        actx = dataclasses.replace(ctx, actor=f"token:{principal}")
        decided = decide_prices(actx, [change_id], approve=approve,
                                allowed_store=lambda name: for_store(principal, name))
        return decided[0]

    @router.post("/api/v1/prices/{change_id}/approve", tags=["prices"],
                 responses={403: {"description": "Scope or store refused"},
                            404: {"description": "No pending price change with this id"}})
    def approve(change_id: int, principal=write):
        """Let the change go live: a price push for its store is scheduled in the same transaction."""
        return {"status": "approved", **_decide(change_id, principal, True)}

    @router.post("/api/v1/prices/{change_id}/reject", tags=["prices"],
                 responses={403: {"description": "Scope or store refused"},
                            404: {"description": "No pending price change with this id"}})
    def reject(change_id: int, principal=write):
        """Keep the store's price; the same change is not proposed again."""
        return {"status": "rejected", **_decide(change_id, principal, False)}
