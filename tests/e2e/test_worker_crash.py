"""Exactly once under a crash, for every supplier kind that takes orders (tests/contract/suppliers harnesses):
the worker is SIGKILLed while the supplier holds the order request (accepted, not yet answered). A fresh
worker must find the order by its reference, not send it again; a supplier that cannot be asked must not be
sent it again either (the merchant is alerted instead)."""

from __future__ import annotations

import signal
import subprocess

import pytest

from dropbridge.domain.model import SupplierOrder
from dropbridge.domain.money import Money
from dropbridge.sandbox.headless_store import HeadlessStoreEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.order_view import list_alerts, list_audit
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine
from tests.contract.suppliers.harness import harness_params, skip_unless_faults

from .helpers import start_worker, wait_for


@pytest.fixture(params=harness_params())
def supplier_and_store(request, app):
    store = HeadlessStoreEmulator("s")
    store.start()
    with request.param.open_harness() as harness:
        conn = harness.connection()
        add_store(app.ctx, "shop", "headless", store.events_url, {"webhook_secret": "s"})
        add_supplier(app.ctx, "acme", harness.kind, conn["base_url"], conn["credentials"], conn["config"])
        harness.offer(app, "acme", "TEE", 10, "8.50")
        yield harness
    store.stop()


def test_sigkill_during_submission_places_exactly_one_order(app, supplier_and_store):
    harness = supplier_and_store
    skip_unless_faults(harness, "hang_after_accept")
    harness.inject("hang_after_accept", count=1, seconds=60)  # records the order, never answers
    # The kill must land while the request hangs, before the worker's own timeout ends it: 8 s (not the usual
    # 2 s) leaves room for a loaded machine; the lease stays longer than the timeout, as Settings requires.
    worker = start_worker(app.settings, DROPBRIDGE_HTTP_TIMEOUT_SECONDS="8", DROPBRIDGE_JOB_LEASE_SECONDS="10")
    try:
        ext = ExternalOrder(external_id="K-1", currency="USD",
                            ship_to=Address(name="J", address1="1 Main", city="X", country_code="US"),
                            lines=[ExternalOrderLine("1", "TEE", 1, Money(2400, "USD"))])
        ingest_order(app.ctx, "shop", ext)
        wait_for(lambda: len(harness.orders()) == 1, timeout=60)  # a worker's start is slow on a loaded machine
        worker.send_signal(signal.SIGKILL)  # mid-submission: the request is in flight
        worker.wait(timeout=10)
        with app.ctx.uow(read_only=True) as uow:
            (so,) = uow.supplier_orders.for_order(1)
            assert so.status == "pending"  # we do not know yet; the supplier does
        worker = start_worker(app.settings)
        outcome = "submitted" if harness.can_look_up else "failed"

        def settled():
            with app.ctx.uow(read_only=True) as uow:
                found = uow.get(SupplierOrder, so.id)
                return found if found.status == outcome else None

        done = wait_for(settled, timeout=60)  # after the killed worker's lease (10 s) runs out
        assert [o["reference"] for o in harness.orders()] == [so.idempotency_key]  # exactly once
        if harness.can_look_up:
            assert done.external_id == harness.orders()[0]["external_id"]
            event = next(e for e in list_audit(app.ctx) if e["action"] == "supplier_order.submitted")
            assert event["detail"]["found_earlier"] is True
        else:  # cannot be asked: never resent on our own, and a person is told
            assert any(a["kind"] == "supplier_order.unknown_outcome" for a in list_alerts(app.ctx, 50))
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_timeout_after_accept_is_looked_up_not_resent(app, supplier_and_store):
    """No crash: the supplier accepts but answers too late. The retry asks before it sends."""
    harness = supplier_and_store
    if not harness.can_look_up:
        pytest.skip(f"{harness.kind} cannot be asked; the SIGKILL test covers its unknown outcome")
    skip_unless_faults(harness, "hang_after_accept")
    harness.inject("hang_after_accept", count=1, seconds=10)
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
        assert [o["reference"] for o in harness.orders()] == [so.idempotency_key]
        event = next(e for e in list_audit(app.ctx) if e["action"] == "supplier_order.submitted")
        assert event["detail"]["found_earlier"] is True
        def job_closed():  # the order is committed a moment before its job is closed
            with app.ctx.uow(read_only=True) as uow:
                job = uow.jobs.by_key(f"submit:{so.idempotency_key}")
                return job if job.status != "in_flight" else None

        job = wait_for(job_closed, timeout=10)
        assert (job.status, job.attempts) == ("done", 2)
    finally:
        worker.terminate()
        worker.wait(timeout=15)
