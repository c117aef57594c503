"""Supplier invoices and what we owe: `POST /api/v1/suppliers/{supplier}/invoices` (reconcile an invoice),
`GET /api/v1/disputes`, `POST /api/v1/disputes/{id}` (change a dispute's status), `GET /api/v1/payables`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from dropbridge.domain.money import Money
from dropbridge.services.payables import list_payables
from dropbridge.services.ports import InvoiceLine, SupplierInvoice
from dropbridge.services.reconcile_invoice import (
    dispute_totals,
    import_invoice,
    list_disputes,
    result_view,
    set_dispute,
)

from .schemas import Currency

Name = Annotated[str, Path(min_length=1, max_length=100)]


class InvoiceLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["item", "shipping", "fee", "tax", "discount"] = "item"
    sku: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    quantity: Annotated[int, Field(ge=0, le=1_000_000)] = 1
    unit_price: Annotated[Decimal, Field(description="decimal string in the invoice's currency; negative for a "
                                                     "discount", examples=["12.50"])]
    reference: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, description="our supplier-order reference (the PO number)", examples=["db-12-3-1"])
    order_number: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None, description="the supplier's order number, when the reference is not at hand")
    description: Annotated[str, Field(max_length=200)] = ""


class InvoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: Annotated[str, Field(min_length=1, max_length=100)]
    currency: Currency
    issued_on: date | None = None
    total: Decimal | None = None
    lines: list[InvoiceLineIn] = Field(min_length=1, max_length=10_000)


class DisputeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "claimed", "credited", "written_off"]
    note: Annotated[str, Field(max_length=500)] | None = None


def _invoice(body: InvoiceIn) -> SupplierInvoice:
    cur = body.currency
    lines = tuple(InvoiceLine(ln.sku, ln.quantity, Money.parse(ln.unit_price, cur, field=f"lines.{i}.unit_price"),
                              reference=ln.reference, external_order_id=ln.order_number, kind=ln.kind,
                              description=ln.description)
                  for i, ln in enumerate(body.lines))
    issued = datetime(body.issued_on.year, body.issued_on.month, body.issued_on.day, tzinfo=UTC) \
        if body.issued_on else None
    return SupplierInvoice(body.number, cur, lines, issued_at=issued,
                           total=Money.parse(body.total, cur, field="total") if body.total is not None else None)


def add_money_routes(router: APIRouter, ctx, read, write, for_supplier, unrestricted, responses) -> None:
    """`write`: the invoices:write scope dependency of create_app; `responses(*codes)` documents statuses."""

    @router.post("/api/v1/suppliers/{supplier}/invoices", tags=["invoices"], status_code=201,
                 responses={200: {"description": "This invoice number was imported before: nothing changed"},
                            **responses(400, 401, 403, 404, 413, 422)})
    def post_invoice(body: InvoiceIn, supplier: Name, principal=write):
        """A supplier's invoice, reconciled at once against our supplier orders and shipments: each line's
        outcome (matched, price_mismatch, over_billed, not_shipped, duplicate, charge_mismatch, unmatched,
        noted) with its amounts; discrepancies open disputes; the ledger is corrected to what was billed.
        Posting the same invoice number again changes nothing (200)."""
        for_supplier(principal, supplier)
        summary = import_invoice(ctx, supplier, _invoice(body), "api")
        out = {"invoice": summary["invoice"], "stored": summary["stored"], "outcomes": summary["outcomes"],
               "unbilled_found": summary.get("unbilled", 0),
               "lines": [result_view(r) for r in summary["results"]]}
        return JSONResponse(out, status_code=201 if summary["stored"] else 200)

    @router.get("/api/v1/disputes", tags=["invoices"], responses=responses(400, 401, 403, 404, 422))
    def disputes(principal=read, supplier: str | None = Query(None, max_length=100),
                 status: Literal["open", "claimed", "credited", "written_off"] | None = Query(None)):
        """Invoice discrepancies with their amounts and status, and `totals` of every reconciliation result per
        supplier, month, outcome and dispute status."""
        if supplier:
            for_supplier(principal, supplier)
        else:
            unrestricted(principal, "the dispute list")
        return {"disputes": list_disputes(ctx, supplier, status), "totals": dispute_totals(ctx, supplier)}

    @router.post("/api/v1/disputes/{dispute_id}", tags=["invoices"],
                 responses={409: {"description": "The dispute was written off: it stays so"},
                            **responses(400, 401, 403, 404, 413, 422)})
    def change_dispute(body: DisputeIn, dispute_id: Annotated[int, Path(ge=1, le=2**62)], principal=write):
        """Move a dispute to open, claimed, credited or written_off (written off: the amount held back is owed)."""
        unrestricted(principal, "changing a dispute")
        return set_dispute(ctx, dispute_id, body.status, body.note)

    @router.get("/api/v1/payables", tags=["invoices"], responses=responses(400, 401, 403, 404, 422))
    def payables(principal=read, supplier: str | None = Query(None, max_length=100),
                 due_before: date | None = Query(None, description="due on or before this day"),
                 status: Literal["open", "batched", "paid", "all"] = Query("open")):
        """What we owe suppliers, by due date."""
        if supplier:
            for_supplier(principal, supplier)
        else:
            unrestricted(principal, "the payables list")
        return {"payables": list_payables(ctx, supplier, due_before, status)}
