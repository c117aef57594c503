"""A tracking number is checked before it reaches the customer: one with a wrong check digit is held, not
pushed, with an alert; the right number, when the supplier sends it, reaches the store."""

from __future__ import annotations

from dropbridge.domain.model import Shipment
from dropbridge.services.order_view import list_alerts, order_detail

from .helpers import order_body, wait_for


def test_a_tracking_number_with_a_wrong_check_digit_is_held_not_pushed_with_an_alert(world):
    app, api, http, store, sups = world
    r = http.post("/api/v1/orders", json=order_body("7001", [("TEE", 1, "24.00")]), headers={"Idempotency-Key": "t"})
    order_id = r.json()["id"]
    wait_for(lambda: order_detail(app.ctx, order_id)["status"] == "submitted")
    acme = sups["acme"]
    (placed,) = acme.orders()
    acme.ship(placed["order_id"], tracking_number="1Z999AA10123456785")  # the real one ends in 4

    def recorded():
        with app.ctx.uow(read_only=True) as uow:
            return uow.shipments.for_order(order_id)

    (held,) = wait_for(recorded)
    assert held.tracking_number == "1Z999AA10123456785"
    assert held.hold_reason == "1Z999AA10123456785 looks like a UPS 1Z number but its check digit is wrong"
    alert = wait_for(lambda: [a for a in list_alerts(app.ctx, 20) if a["kind"] == "shipment.tracking_invalid"])
    assert "not sent to the store" in alert[0]["message"] and placed["reference"] in alert[0]["message"]
    with app.ctx.uow(read_only=True) as uow:
        assert uow.jobs.by_key(f"fulfill:{held.id}") is None  # no push was ever scheduled
        assert uow.get(Shipment, held.id).pushed_at is None
    assert store.fulfillments() == []

    # The supplier corrects it: the valid number goes through, carrier named and URL built from the number.
    from dropbridge.domain.model import SupplierOrder
    from dropbridge.services.ports import TrackingUpdate
    from dropbridge.services.record_shipment import record_shipment

    with app.ctx.uow(read_only=True) as uow:
        so = uow.supplier_orders.by_key(placed["reference"])
        assert uow.get(SupplierOrder, so.id).status == "shipped"  # the goods did ship
    record_shipment(app.ctx, so.supplier_id, TrackingUpdate(reference=placed["reference"],
                                                            external_order_id=placed["order_id"],
                                                            carrier="united parcel service",
                                                            tracking_number="1z999aa1 0123456784"))
    (pushed,) = wait_for(store.fulfillments)
    assert (pushed["carrier"], pushed["tracking_number"], pushed["tracking_url"]) == \
        ("UPS", "1Z999AA10123456784", "https://www.ups.com/track?tracknum=1Z999AA10123456784")
