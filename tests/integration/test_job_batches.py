"""The order path in batches (jobs/runner.run_jobs), on SQLite and PostgreSQL: one poisoned item of a batch
retries or fails alone while the others go through, stock reserved by the failed one is given back with its
savepoint, a supplier order is never sent twice, and two workers claiming at once never share a job."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

from sqlalchemy import select

from dropbridge.connectors.stores.headless.webhooks import signed_headers
from dropbridge.domain.model import Job, SupplierOffer, SupplierOrder, WebhookEvent
from dropbridge.jobs.runner import run_jobs
from dropbridge.sandbox.rest_supplier import RestSupplierEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.inbound_events import WebhookDelivery, receive_webhooks
from dropbridge.services.records import job_row
from tests.e2e.helpers import load_feed

SHIP_TO = '{"name":"B","address1":"1 Main St","city":"Springfield","country_code":"US"}'


def _setup(app, stock=20):
    emu = RestSupplierEmulator(api_key="k", ship_after_seconds=None)
    emu.start()
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/none", {"webhook_secret": "w"}, {})
    add_supplier(app.ctx, "acme", "rest", emu.url, {"api_key": "k"}, {"currency": "USD"})
    load_feed(app.ctx, "acme", [("TEE", stock, "5.00")])
    # Retries wait a minute: a routing thread keeps taking due batches, and must not meet the retry again here.
    # A lease that covers a batch of sends (four HTTP timeouts), so placements are batched too.
    app.ctx.settings = app.ctx.settings.model_copy(update={"job_backoff_base_seconds": 60.0,
                                                           "job_backoff_max_seconds": 60.0, "job_lease_seconds": 60.0})
    queued: list[int] = []
    app.ctx.enqueue = lambda job_id, delay=0: queued.append(job_id)
    app.ctx.enqueue_many = None  # one by one, into the list above
    return emu, queued


def _webhooks(app, bodies: list[bytes]) -> list:
    now = int(time.time())
    deliveries = [WebhookDelivery("store", "shop", signed_headers("w", "order.created", f"E-{n}", body, now), body,
                                  "headless") for n, body in enumerate(bodies)]
    return receive_webhooks(app.ctx, deliveries)


def _order(n: int, currency: str = "USD") -> bytes:
    return (f'{{"external_id":"O-{n}","currency":"{currency}","ship_to":{SHIP_TO},"lines":[{{"sku":"TEE",'
            f'"quantity":1,"unit_price":"19.99"}}]}}').encode()


def _jobs(app, kind: str) -> dict[int, Job]:
    with app.ctx.uow(read_only=True) as uow:
        return {j.id: j for j in uow.session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id))}


def _reserved(app) -> int:
    with app.ctx.uow(read_only=True) as uow:
        return uow.session.scalar(select(SupplierOffer.reserved))


def test_a_batch_with_a_poisoned_item_runs_the_others_and_retries_or_fails_it_alone(app):
    emu, _ = _setup(app)
    try:
        # Four orders and one whose currency no one knows: refused for good, alone.
        assert _webhooks(app, [_order(0), _order(1), _order(2, "XXX"), _order(3), _order(4)]) == ["accepted"] * 5
        webhooks = _jobs(app, "process_webhook")
        outcomes = run_jobs(app.ctx, list(webhooks)[:1])  # one handed over; the others are claimed with it
        assert sorted(outcomes.values()) == ["done"] * 4 + ["failed"]
        with app.ctx.uow(read_only=True) as uow:
            events = {e.event_id: e.status for e in uow.session.scalars(select(WebhookEvent))}
            failed = [j for j in uow.session.scalars(select(Job).where(Job.kind == "process_webhook"))
                      if j.status == "failed"]
        assert events == {"E-0": "processed", "E-1": "processed", "E-2": "failed", "E-3": "processed",
                          "E-4": "processed"}
        assert len(failed) == 1 and "XXX" in failed[0].last_error

        # Routing: one order's supplier order key is taken (a row planted under another order), so its
        # insert fails inside the batch's transaction; its savepoint gives its stock back.
        routes = _jobs(app, "route_order")
        assert len(routes) == 4
        poisoned, other = (routes[i].payload["order_id"] for i in list(routes)[1:3])
        now = app.ctx.clock()
        with app.ctx.uow() as uow:
            supplier_id = uow.suppliers.by_name("acme").id
            planted = f"db-{poisoned}-{supplier_id}-1"
            uow.add(SupplierOrder(supplier_id=supplier_id, order_id=other, idempotency_key=planted, currency="USD",
                                  shipping_cost_minor=0, status="cancelled", created_at=now, updated_at=now))
            uow.commit()
        outcomes = run_jobs(app.ctx, list(routes))
        poisoned_job = next(j for j in routes.values() if j.payload["order_id"] == poisoned)
        assert outcomes == {j: "retry" if j == poisoned_job.id else "done" for j in routes}
        after = _jobs(app, "route_order")
        assert after[poisoned_job.id].status == "pending" and after[poisoned_job.id].attempts == 1
        assert after[poisoned_job.id].last_error.startswith("DuplicateKey")
        assert {j.status for i, j in after.items() if i != poisoned_job.id} == {"done"}
        assert _reserved(app) == 3  # the poisoned order's reservation went with its savepoint
        with app.ctx.uow(read_only=True) as uow:
            assert uow.supplier_orders.for_order(poisoned) == []

        # Placement: the supplier fails one send of three (which one is up to the threads); that one retries
        # alone, and its retry asks the supplier first and sends it once.
        emu.inject("error_500", count=1)
        submits = _jobs(app, "submit_supplier_order")
        outcomes = run_jobs(app.ctx, list(submits))
        assert sorted(outcomes.values()) == ["done", "done", "retry"]
        assert len(emu.orders()) == 2
        retried = next(j for j, o in outcomes.items() if o == "retry")
        app.ctx.clock = lambda: now + timedelta(minutes=5)  # past its backoff
        assert run_jobs(app.ctx, [retried]) == {retried: "done"}
        references = sorted(o["reference"] for o in emu.orders())
        assert len(references) == 3 and len(set(references)) == 3
        with app.ctx.uow(read_only=True) as uow:
            statuses = [so.status for so in uow.session.scalars(select(SupplierOrder))
                        if so.idempotency_key != planted]
        assert statuses == ["submitted"] * 3
    finally:
        emu.stop()


def test_two_workers_claiming_at_once_never_share_a_job(app):
    with app.ctx.uow() as uow:
        for n in range(300):
            uow.add(Job(**job_row(app.ctx, "route_order", f"route:test:{n}", {"order_id": n})))
        uow.commit()
    now = app.ctx.clock()
    ids = sorted(_jobs(app, "route_order"))
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def worker(name: str, hint: list[int]) -> None:
        start.wait()
        while True:
            with app.ctx.uow() as uow:
                got, _, _ = uow.jobs.claim_batch(hint, {"route_order": 40}, now, now + timedelta(seconds=60),
                                              uuid.uuid4().hex)
                uow.commit()
            if not got:
                return
            claimed[name] += [job_id for job_id, *_ in got]

    # Both are handed the same jobs first, then fill from what is due.
    threads = [threading.Thread(target=worker, args=(name, ids[:10])) for name in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not set(claimed["a"]) & set(claimed["b"])
    assert sorted(claimed["a"] + claimed["b"]) == ids
