"""Order and supplier-order lifecycles. Every status change goes through `advance`, which refuses
transitions the business does not allow."""

from __future__ import annotations

from enum import StrEnum

from .errors import IllegalTransition


class OrderStatus(StrEnum):
    ACCEPTED = "accepted"  # stored, not yet routed
    ROUTED = "routed"  # every line has a supplier order
    ON_HOLD = "on_hold"  # a line could not be routed, or margin below floor: needs a person
    SUBMITTED = "submitted"  # every supplier order landed at its supplier
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class SupplierOrderStatus(StrEnum):
    PENDING = "pending"  # written with the routing decision; the outbox will send it
    SUBMITTED = "submitted"  # the supplier holds it (we have its id)
    REJECTED = "rejected"  # the supplier said no; lines go back to routing
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    FAILED = "failed"  # we gave up (permanent error); alerted


class LineStatus(StrEnum):
    PENDING = "pending"
    ROUTED = "routed"
    UNROUTABLE = "unroutable"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


Os = OrderStatus
_ORDER = {
    Os.ACCEPTED: {Os.ROUTED, Os.ON_HOLD, Os.CANCELLED},
    Os.ON_HOLD: {Os.ROUTED, Os.ON_HOLD, Os.CANCELLED},
    Os.ROUTED: {Os.SUBMITTED, Os.ON_HOLD, Os.PARTIALLY_SHIPPED, Os.SHIPPED, Os.CANCELLED},
    Os.SUBMITTED: {Os.PARTIALLY_SHIPPED, Os.SHIPPED, Os.ON_HOLD, Os.ROUTED, Os.CANCELLED},
    Os.PARTIALLY_SHIPPED: {Os.SHIPPED, Os.PARTIALLY_SHIPPED, Os.ON_HOLD, Os.CANCELLED},
    Os.SHIPPED: {Os.DELIVERED, Os.REFUNDED},
    Os.DELIVERED: {Os.REFUNDED},
    Os.CANCELLED: {Os.REFUNDED},
    Os.REFUNDED: set(),
}

S = SupplierOrderStatus
_SUPPLIER_ORDER = {
    S.PENDING: {S.SUBMITTED, S.REJECTED, S.FAILED, S.CANCELLED},
    S.SUBMITTED: {S.PARTIALLY_SHIPPED, S.SHIPPED, S.REJECTED, S.CANCELLED, S.FAILED},
    S.PARTIALLY_SHIPPED: {S.PARTIALLY_SHIPPED, S.SHIPPED},
    S.SHIPPED: {S.DELIVERED},
    S.DELIVERED: set(),
    S.REJECTED: set(),
    S.CANCELLED: set(),
    # a person may retry it, or the store cancel it; or it turns out to have landed (the merchant says so, or
    # tracking arrives for an order whose outcome was unknown)
    S.FAILED: {S.PENDING, S.CANCELLED, S.SUBMITTED},
}

TRANSITIONS = {"order": _ORDER, "supplier order": _SUPPLIER_ORDER}


def can_advance(kind: str, current: str, new: str) -> bool:
    table = TRANSITIONS[kind]
    return new in table[type(next(iter(table)))(current)]


def advance(kind: str, current: str, new: str) -> str:
    """Return `new` if `current -> new` is allowed, else raise IllegalTransition."""
    if not can_advance(kind, current, new):
        raise IllegalTransition(kind, current, new)
    return new
