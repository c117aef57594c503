"""Offers and print-on-demand designs over HTTP: `GET /api/v1/offers`, `POST /api/v1/offers/confirm|remap`
(mapping drift), `GET|POST /api/v1/designs`."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from dropbridge.api.schemas import Country, query_country, query_text
from dropbridge.domain import limits as lim
from dropbridge.services.designs import attach_design, list_designs
from dropbridge.services.offer_drift import confirm_offer, remap_offer
from dropbridge.services.queries.offers import list_offers


class DesignIn(BaseModel):
    sku: str = Field(min_length=1, max_length=200)
    placement: str = Field(min_length=1, max_length=50, examples=["front"])
    file: str = Field(min_length=1, max_length=2000, description="the print file's http(s) URL")
    technique: str | None = Field(None, max_length=50, examples=["dtg"])


class OfferRef(BaseModel):
    supplier: str = Field(min_length=1, max_length=lim.STORE_NAME_MAX)
    sku: str = Field(min_length=1, max_length=lim.SKU_MAX, description="the supplier's SKU")


class OfferRemap(OfferRef):
    variant: str = Field(min_length=1, max_length=lim.SKU_MAX, description="our variant SKU it now is")


def add_catalog_routes(router: APIRouter, ctx, read, admin, for_supplier) -> None:
    """On the app itself (routes of an included router are not seen by create_app's documentation pass).
    `read` / `admin`: the scope dependencies of create_app; `for_supplier(principal, name)` refuses a token
    limited to other suppliers."""

    @router.get("/api/v1/offers", tags=["catalog"], responses={403: {"description": "Scope or supplier refused"}})
    def offers(supplier: str | None = query_text(lim.STORE_NAME_MAX),
               sku: str | None = query_text(lim.SKU_MAX, code=True),
               limit: int = Query(100, ge=1, le=1000), after_id: int = Query(0, ge=0, le=2**63 - 1),
               country: Country | None = query_country(), principal=read):
        """Supplier offers (cost, stock, reserved, available), in id order; page with `after_id`. A token
        limited to named suppliers must name one of them. `delivery_days`: [min, max] calendar days from
        placing an order to delivery in `country` (absent: the suppliers' "*" transit)."""
        if principal.restricted:
            if supplier is None:
                raise HTTPException(403, f"token {principal.name!r} is limited to named suppliers: pass ?supplier=")
            for_supplier(principal, supplier)
        return {"offers": list_offers(ctx, supplier=supplier, sku=sku, limit=limit, after_id=after_id,
                                         country=country)}

    def _as(principal, supplier: str):
        for_supplier(principal, supplier)
        return dataclasses.replace(ctx, actor=f"token:{principal}")

    @router.post("/api/v1/offers/confirm", tags=["catalog"],
                 responses={403: {"description": "Scope or supplier refused"}, 404: {"description": "No such offer"},
                            409: {"description": "The offer is not quarantined"}})
    def confirm(body: OfferRef, principal=admin):
        """Accept what a quarantined supplier SKU now is (its new GTIN, parent or options): it is routed to and
        promises stock again; stock and prices are pushed after the commit. `held_orders`: orders on hold
        for its variant, to retry."""
        return confirm_offer(_as(principal, body.supplier), body.supplier, body.sku)

    @router.post("/api/v1/offers/remap", tags=["catalog"],
                 responses={403: {"description": "Scope or supplier refused"},
                            404: {"description": "No such offer or variant"}})
    def remap(body: OfferRemap, principal=admin):
        """Map a supplier SKU to another of our variants and release it from quarantine."""
        return remap_offer(_as(principal, body.supplier), body.supplier, body.sku, body.variant)

    @router.get("/api/v1/designs", tags=["catalog"], responses={403: {"description": "Scope refused"}})
    def designs(sku: str | None = query_text(lim.SKU_MAX, code=True), principal=read):
        return {"designs": list_designs(ctx, sku)}

    @router.post("/api/v1/designs", tags=["catalog"], status_code=201,
                 responses={403: {"description": "Scope refused"}, 422: {"description": "Invalid design"}})
    def attach(body: DesignIn, principal=admin):
        """Attach a print file to a SKU at a placement (replacing the one there): it travels on every order
        line of the SKU to print-on-demand suppliers."""
        return attach_design(ctx, body.sku, body.placement, body.file, body.technique)
