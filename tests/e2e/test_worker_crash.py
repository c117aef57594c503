"""Exactly once under a crash: the worker is SIGKILLed while the supplier holds the order request
(accepted, not yet answered). A fresh worker must find the order by its reference, not send it again."""

from __future__ import annotations

import signal
import subprocess

import pytest

from dropbridge.domain.model import SupplierOrder
from dropbridge.domain.money import Money
from dropbridge.sandbox.headless_store import HeadlessStoreEmulator
from dropbridge.sandbox.rest_supplier import RestSupplierEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.order_view import list_audit
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine

from .helpers import load_feed, start_worker, wait_for


@pytest.fixture
def supplier_and_store(app):
    emu = RestSupplierEmulator(api_key="k", name="acme", ship_after_seconds=None)
    store = HeadlessStoreEmulator("s")
    emu.start()
    store.start()
    add_store(app.ctx, "shop", "headless", store.events_url, {"webhook_secret": "s"})
    add_supplier(app.ctx, "acme", "rest", emu.url, {"api_key": "k"}, {"currency": "USD"})
    load_feed(app.ctx, "acme", [("TEE", 10, "8.50")])
    yield emu
    emu.stop()
    store.stop()


def test_sigkill_during_submission_places_exactly_one_order(app, supplier_and_store):
    emu = supplier_and_store
    emu.inject("hang_after_accept", count=1, seconds=60)  # records the order, never answers
    worker = start_worker(app.settings)
    try:
        ext = ExternalOrder(external_id="K-1", currency="USD",
                            ship_to=Address(name="J", address1="1 Main", city="X", country_code="US"),
                            lines=[ExternalOrderLine("1", "TEE", 1, Money(2400, "USD"))])
        ingest_order(app.ctx, "shop", ext)
        wait_for(lambda: len(emu.orders()) == 1, timeout=30)
        worker.send_signal(signal.SIGKILL)  # mid-submission: the request is in flight
        worker.wait(timeout=10)
        with app.ctx.uow(read_only=True) as uow:
            (so,) = uow.supplier_orders.for_order(1)
            assert so.status == "pending"  # we do not know yet; the supplier does
        worker = start_worker(app.settings)

        def submitted():
            with app.ctx.uow(read_only=True) as uow:
                found = uow.get(SupplierOrder, so.id)
                return found if found.status == "submitted" else None

        done = wait_for(submitted, timeout=40)
        assert len(emu.orders_with_reference(so.idempotency_key)) == 1
        assert len(emu.orders()) == 1
        assert done.external_id == emu.orders()[0]["order_id"]
        event = next(e for e in list_audit(app.ctx) if e["action"] == "supplier_order.submitted")
        assert event["detail"]["found_earlier"] is True
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_timeout_after_accept_is_looked_up_not_resent(app, supplier_and_store):
    """No crash: the supplier accepts but answers too late. The retry asks before it sends."""
    emu = supplier_and_store
    emu.inject("hang_after_accept", count=1, seconds=10)
    worker = start_worker(app.settings)
    try:
        ext = ExternalOrder(external_id="T-1", currency="USD",
                            ship_to=Address(name="J", address1="1 Main", city="X", country_code="US"),
                            lines=[ExternalOrderLine("1", "TEE", 2, Money(2400, "USD"))])
        ingest_order(app.ctx, "shop", ext)

        def submitted():
            with app.ctx.uow(read_only=True) as uow:
                sos = uow.supplier_orders.for_order(1)
                return sos[0] if sos and sos[0].status == "submitted" else None

        so = wait_for(submitted, timeout=40)
        assert [o["reference"] for o in emu.orders()] == [so.idempotency_key]
        event = next(e for e in list_audit(app.ctx) if e["action"] == "supplier_order.submitted")
        assert event["detail"]["found_earlier"] is True
        with app.ctx.uow(read_only=True) as uow:
            job = uow.jobs.by_key(f"submit:{so.idempotency_key}")
            assert (job.status, job.attempts) == ("done", 2)
    finally:
        worker.terminate()
        worker.wait(timeout=15)
