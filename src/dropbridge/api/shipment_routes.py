"""Tracking posted by anyone (a warehouse system, a script, a person's tool): `POST /api/v1/shipments`. It
ends where every other path ends: a `Shipment` and a store fulfillment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

from dropbridge.services.import_shipments import add_shipment
from dropbridge.services.ports import SupplierOrderItem


class ShipmentLineIn(BaseModel):
    sku: Annotated[str, Field(min_length=1, max_length=200)]
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]


class ShipmentIn(BaseModel):
    supplier: Annotated[str, Field(min_length=1, max_length=64)]
    reference: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, description="our supplier-order reference (the PO number)", examples=["db-12-3-1"])
    order_number: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None, description="the supplier's order number, when the reference is not at hand")
    carrier: Annotated[str, Field(min_length=1, max_length=100)] = Field(examples=["UPS"])
    tracking_number: Annotated[str, Field(min_length=1, max_length=100)] = Field(examples=["1Z999AA10123456784"])
    tracking_url: Annotated[str, Field(max_length=2000, pattern=r"^https?://")] | None = None
    shipped_at: datetime | None = None
    lines: list[ShipmentLineIn] = Field(default_factory=list, max_length=1000,
                                        description="what the parcel holds; none: the whole order")

    @model_validator(mode="after")
    def _names_an_order(self) -> ShipmentIn:
        if not self.reference and not self.order_number:
            raise ValueError("give reference or order_number")
        return self


def add_shipment_routes(router: APIRouter, ctx, write, for_supplier) -> None:
    """On the app itself (see catalog_routes); `write`: the orders:write scope dependency of create_app."""

    @router.post("/api/v1/shipments", tags=["shipments"], status_code=201,
                 responses={200: {"description": "this tracking number was already recorded for the order"},
                            403: {"description": "Scope or supplier refused"},
                            404: {"description": "No such supplier or supplier order"}})
    def record(body: ShipmentIn, principal=write):
        """Record a shipment with tracking for a supplier order (any supplier kind); the store is sent the
        fulfillment. 201 when recorded, 200 when that tracking number was already recorded, 404 for an
        unknown supplier or order, 422 naming what is wrong."""
        for_supplier(principal, body.supplier)
        shipped_at = body.shipped_at
        if shipped_at is not None and shipped_at.tzinfo is None:
            shipped_at = shipped_at.replace(tzinfo=UTC)
        shipment_id, key = add_shipment(
            ctx, body.supplier, body.reference or body.order_number or "", carrier=body.carrier,
            tracking_number=body.tracking_number, tracking_url=body.tracking_url, shipped_at=shipped_at,
            items=[SupplierOrderItem(ln.sku, ln.quantity) for ln in body.lines])
        if shipment_id is None:
            return JSONResponse({"status": "already recorded", "reference": key}, status_code=200)
        return JSONResponse({"status": "recorded", "id": shipment_id, "reference": key}, status_code=201)
