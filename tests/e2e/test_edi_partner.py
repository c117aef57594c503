"""An EDI X12 trading partner over a real SFTP server (asyncssh, sandbox/edi_partner), with dropbridge's API,
worker and scheduler running: 850 out (exactly one, a valid envelope, our reference), 997s both ways, an 855
rejecting a line re-routes it, an 856 becomes a store fulfillment, an 810 an invoice, a malformed file is
refused whole with a rejecting 997, a 997 rejecting our 850 fails the order, an overdue 997 alerts, and a
kill -9 during the 850 upload still leaves exactly one 850."""

from __future__ import annotations

import signal
import time

import pytest

from dropbridge.connectors.formats.x12.x12 import parse_interchange
from dropbridge.domain.model import SupplierOrder
from dropbridge.sandbox.edi_partner import EdiPartnerEmulator
from dropbridge.sandbox.headless_store import HeadlessStoreEmulator
from dropbridge.sandbox.rest_supplier import RestSupplierEmulator
from dropbridge.services.acknowledgement_deadlines import check_acknowledgement_deadlines
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.order_view import list_alerts, order_detail
from dropbridge.services.tokens import create_token

from .helpers import load_feed, order_body, running, start_worker, stop_workers, wait_for


@pytest.fixture
def edi_world(app):
    """Store 'shop', EDI partner 'acme' (SFTP), REST supplier 'globex' (the next offer for re-routed lines)."""
    app.settings.document_poll_seconds = 0.3
    store = HeadlessStoreEmulator("store-secret")
    partner = EdiPartnerEmulator(ship_after_seconds=None, reject_skus=("MUG",))
    store.start()
    partner.start()
    with running(app) as api:
        globex = RestSupplierEmulator(api_key="key-globex", name="globex", ship_after_seconds=None,
                                      webhook_url=f"{api.url}/webhooks/suppliers/globex", webhook_secret="whsec")
        globex.start()
        add_store(app.ctx, "shop", "headless", store.events_url, {"webhook_secret": "store-secret"})
        conn = partner.connection()
        add_supplier(app.ctx, "acme", "edi_x12", conn["base_url"], conn["credentials"], conn["config"])
        add_supplier(app.ctx, "globex", "rest", globex.url, {"api_key": "key-globex", "webhook_secret": "whsec"},
                     {"currency": "USD"})
        load_feed(app.ctx, "acme", [("TEE", 20, "8.50"), ("MUG", 10, "3.00")])
        load_feed(app.ctx, "globex", [("TEE", 20, "9.90"), ("MUG", 10, "3.90")])
        import httpx

        http = httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {create_token(app.ctx, 't')}"},
                            timeout=10)
        yield app, http, store, partner, globex
        http.close()
        globex.stop()
    partner.stop()
    store.stop()


def _supplier_orders(app, order_id):
    with app.ctx.uow(read_only=True) as uow:
        return {so.supplier_id: so for so in uow.supplier_orders.for_order(order_id)}


def test_an_order_through_an_edi_partner_from_850_to_fulfillment_and_invoice(edi_world):
    app, http, store, partner, globex = edi_world
    r = http.post("/api/v1/orders", json=order_body("E-1", [("TEE", 2, "24.00"), ("MUG", 1, "12.00")]),
                  headers={"Idempotency-Key": "e-1"})
    order_id = r.json()["id"]

    # exactly one 850 on the server, a valid envelope, our reference as the PO number
    (po,) = wait_for(lambda: [p for p in partner.purchase_orders() if p["file"].startswith("/outbound/archive/")])
    acme_so = wait_for(lambda: next((so for so in _supplier_orders(app, order_id).values()
                                     if so.idempotency_key == po["reference"]), None))
    text = (partner.root / po["file"].lstrip("/")).read_text()
    interchange = parse_interchange(text)  # strict: any envelope error raises
    assert (interchange.sender_id, interchange.receiver_id, interchange.usage_indicator) == \
        ("DROPBRIDGE", "ACMEEDI", "T")
    [(group, txn)] = list(interchange.transactions)
    assert (group.functional_id, txn.set_id) == ("PO", "850")
    beg = next(s for s in txn.body if s.tag == "BEG")
    assert beg.elements[:3] == ["00", "DS", acme_so.idempotency_key]
    assert [s.get(7) for s in txn.body if s.tag == "PO1"] == ["TEE", "MUG"]
    assert next(s for s in txn.body if s.tag == "REF").elements == ["CO", "E-1"]

    # 997 and 855 come back: receipt confirmed; the MUG line rejected (ACK IR) goes to the next offer
    def rerouted():
        sos = _supplier_orders(app, order_id)
        return sos if len(sos) == 2 and all(so.status == "submitted" for so in sos.values()) else None

    sos = wait_for(rerouted, timeout=30)
    with app.ctx.uow(read_only=True) as uow:
        acme = uow.get(SupplierOrder, acme_so.id)
        assert acme.receipt_confirmed_at is not None and acme.acknowledged_at is not None
        assert [(ln.supplier_sku, ln.quantity) for ln in acme.lines] == [("TEE", 2)]
    (globex_order,) = globex.orders()
    assert [(i["supplier_sku"], i["quantity"]) for i in globex_order["items"]] == [("MUG", 1)]
    assert len(sos) == 2
    detail = order_detail(app.ctx, order_id)
    mug = next(ln for ln in detail["lines"] if ln["sku"] == "MUG")
    assert mug["routing"]["rejected_by"][0]["key"] == acme_so.idempotency_key
    assert "855 ACK IR" in mug["routing"]["rejected_by"][0]["reason"]

    # 856: a store fulfillment with the tracking number; 810: an invoice stored
    partner.ship(acme_so.idempotency_key)
    number = partner.orders()[0]["tracking_number"]
    fulfilled = wait_for(lambda: [f for f in store.fulfillments() if f["tracking_number"] == number], timeout=30)
    assert (fulfilled[0]["carrier"], fulfilled[0]["order_external_id"]) == ("UPS", "E-1")
    assert fulfilled[0]["tracking_url"] == f"https://www.ups.com/track?tracknum={number}"

    def invoice():
        with app.ctx.uow(read_only=True) as uow:
            return uow.invoices.by_number(acme_so.supplier_id, f"INV-{acme_so.idempotency_key}")

    inv = wait_for(invoice, timeout=20)
    assert (inv.total_minor, inv.currency) == (1700 + 480, "USD")
    assert [(ln["kind"], ln["supplier_sku"], ln["quantity"], ln["unit_price_minor"]) for ln in inv.lines] == \
        [("item", "TEE", 2, 850), ("shipping", None, 1, 480)]
    # ... and reconciled once its shipment is in (the 810 may come first), by the service `reconcile` uses
    inv = wait_for(lambda: (i := invoice()) and i.reconciled_at and i, timeout=30)
    with app.ctx.uow(read_only=True) as uow:
        results = uow.reconciliation.for_invoice(inv.id)
    assert [(r["line_no"], r["kind"], r["supplier_order_id"]) for r in results] == [
        (1, "item", acme_so.id), (2, "shipping", acme_so.id)]
    assert results[0]["outcome"] == "matched"

    # 997s both ways: one from the partner for our 850, one from us for each of its 855, 856 and 810
    assert partner.sent("997_") == ["997_000000001.edi"]
    acked = wait_for(lambda: (a := partner.received_acks()) and len(a) == 3 and a, timeout=20)
    assert sorted((a["functional_id"], a["status"]) for a in acked) == [("IN", "A"), ("PR", "A"), ("SH", "A")]
    assert partner.waiting() == []  # everything collected and archived
    assert len(partner.purchase_orders()) == 1


ISA = "ISA*00*          *00*          *ZZ*ACMEEDI        *ZZ*DROPBRIDGE     *261201*1200*U*00401*{}*0*T*>~"
MALFORMED_856 = ISA.format("000000777") + """
GS*SH*ACMEEDI*DROPBRIDGE*20261201*1200*777*X*004010~
ST*856*0001~
BSN*00*SHPBAD*20261201*1200*0001~
HL*1**S~
TD5**2*UPSN~
REF*CN*{number}~
HL*2*1*O~
PRF*{po}~
HL*3*2*I~
LIN*1*VN*TEE~
SN1**two*EA~
SE*11*0001~
GE*1*777~
IEA*1*000000777~
"""


def test_a_malformed_file_gets_a_rejecting_997_and_changes_nothing(edi_world):
    app, http, store, partner, globex = edi_world
    order_id = http.post("/api/v1/orders", json=order_body("E-2", [("TEE", 1, "24.00")]),
                         headers={"Idempotency-Key": "e-2"}).json()["id"]
    (po,) = wait_for(partner.purchase_orders)
    wait_for(lambda: len(partner.received_acks()) == 1)  # our 997 for its 855: the order is acknowledged
    partner.drop("856_bad.edi", MALFORMED_856.format(number="1Z999AA10123456784", po=po["reference"]))

    bad = wait_for(lambda: [a for a in partner.received_acks() if a["group"] == "777"], timeout=20)
    assert (bad[0]["functional_id"], bad[0]["status"], bad[0]["sets"]) == ("SH", "R", [("856", "0001", "R")])
    ack_text = next(f for f in (partner.root / "outbound" / "archive").iterdir()
                    if f.name.startswith("997_ACMEEDI_000000777")).read_text()
    assert "AK3*SN1*10**8~" in ack_text and "AK4*2*382*6*two~" in ack_text  # segment 10 of the set, element 2
    alert = wait_for(lambda: [a for a in list_alerts(app.ctx, 20) if a["kind"] == "inbound.unrecognised"])
    assert "refused whole, nothing applied" in alert[0]["message"] and "SN1" in alert[0]["message"]
    assert order_detail(app.ctx, order_id)["shipments"] == []
    assert store.fulfillments() == []
    assert partner.waiting() == []  # collected and archived all the same


def test_a_997_rejecting_our_850_fails_the_order(edi_world):
    app, http, store, partner, globex = edi_world
    order_id = http.post("/api/v1/orders", json=order_body("E-3", [("TEE", 1, "24.00")]),
                         headers={"Idempotency-Key": "e-3"}).json()["id"]
    (po,) = wait_for(lambda: [p for p in partner.purchase_orders() if p["file"].startswith("/outbound/archive/")])
    text = (partner.root / po["file"].lstrip("/")).read_text()
    group = parse_interchange(text).groups[0].control_number
    rejection = (
        ISA.format("000000900") + "GS*FA*ACMEEDI*DROPBRIDGE*20261201*1200*900*X*004010~ST*997*0001~"
        f"AK1*PO*{group}~AK2*850*0001~AK3*N4*6**8~AK4*4*26*7*ZZ~AK5*R*5~AK9*R*1*1*0~SE*8*0001~GE*1*900~IEA*1*000000900~")
    partner.drop("997_reject.edi", rejection)

    def failed():
        (so,) = _supplier_orders(app, order_id).values()
        return so if so.status == "failed" else None

    so = wait_for(failed, timeout=20)
    assert "997 rejected our 850" in so.last_error and "AK5 R 5" in so.last_error
    assert any(a["kind"] == "supplier_order.failed" for a in list_alerts(app.ctx, 20))


def test_overdue_997_raises_an_alert_once(app):
    """A partner whose translator never answers: the periodic check alerts once per 850."""
    partner = EdiPartnerEmulator(ship_after_seconds=None, poll_seconds=3600)  # collects nothing
    store = HeadlessStoreEmulator("s")
    partner.start()
    store.start()
    try:
        add_store(app.ctx, "shop", "headless", store.events_url, {"webhook_secret": "s"})
        conn = partner.connection()
        add_supplier(app.ctx, "acme", "edi_x12", conn["base_url"], conn["credentials"],
                     {**conn["config"], "receipt_hours": 0.0003})  # about a second
        load_feed(app.ctx, "acme", [("TEE", 5, "8.50")])
        with running(app):
            from dropbridge.domain.money import Money
            from dropbridge.services.ingest_order import ingest_order
            from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine

            ingest_order(app.ctx, "shop", ExternalOrder(
                external_id="O-1", currency="USD", ship_to=Address(name="J", address1="1 Main", city="X",
                                                                   country_code="US"),
                lines=[ExternalOrderLine("1", "TEE", 1, Money(2400, "USD"))]))
            wait_for(lambda: [so for so in _supplier_orders(app, 1).values() if so.status == "submitted"])
        assert check_acknowledgement_deadlines(app.ctx) == 0  # not yet due
        time.sleep(1.3)
        assert check_acknowledgement_deadlines(app.ctx) == 1
        assert check_acknowledgement_deadlines(app.ctx) == 0  # once
        (alert,) = [a for a in list_alerts(app.ctx, 20) if a["kind"] == "supplier_order.receipt_overdue"]
        assert "has not confirmed receipt" in alert["message"]
    finally:
        partner.stop()
        store.stop()


def test_kill_9_during_the_850_upload_still_leaves_exactly_one_850(app):
    partner = EdiPartnerEmulator(ship_after_seconds=None)
    store = HeadlessStoreEmulator("s")
    partner.start()
    store.start()
    workers = []
    try:
        add_store(app.ctx, "shop", "headless", store.events_url, {"webhook_secret": "s"})
        conn = partner.connection()
        add_supplier(app.ctx, "acme", "edi_x12", conn["base_url"], conn["credentials"], conn["config"])
        load_feed(app.ctx, "acme", [("TEE", 5, "8.50")])
        partner.inject("hang_during_upload", seconds=60)  # half the 850 written, then the server stalls
        workers.append(start_worker(app.settings, DROPBRIDGE_HTTP_TIMEOUT_SECONDS="20",
                                    DROPBRIDGE_JOB_LEASE_SECONDS="25"))
        from dropbridge.domain.money import Money
        from dropbridge.services.ingest_order import ingest_order
        from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine

        ingest_order(app.ctx, "shop", ExternalOrder(
            external_id="K-1", currency="USD",
            ship_to=Address(name="J", address1="1 Main", city="X", country_code="US"),
            lines=[ExternalOrderLine("1", "TEE", 1, Money(2400, "USD"))]))
        (partial,) = wait_for(partner.partial_uploads, timeout=30)
        assert partial.startswith(".850_db-1-1-1.edi.") and partner.purchase_orders() == []
        workers[0].send_signal(signal.SIGKILL)  # mid-upload
        workers[0].wait(timeout=10)
        workers.append(start_worker(app.settings))

        def submitted():
            (so,) = _supplier_orders(app, 1).values()
            return so if so.status == "submitted" else None

        so = wait_for(submitted, timeout=60)
        assert [o["reference"] for o in partner.purchase_orders()] == [so.idempotency_key]  # exactly one
        assert partner.partial_uploads() == []  # the interrupted upload was cleared away
        wait_for(lambda: [o for o in partner.orders() if o["reference"] == so.idempotency_key])
        assert partner.orders()[0]["duplicates"] == 0
    finally:
        stop_workers(workers)
        partner.stop()
        store.stop()
