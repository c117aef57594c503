"""`dropbridge demo`: a complete day of a store against local emulators, on the embedded default.

Feeds from two suppliers with overlapping SKUs; catalogs pulled by API from Printful, CJdropshipping and
AliExpress; an EDI partner's 846 collected over SFTP; orders through the headless API (one split across both
feed suppliers, one whose cheapest supplier has no stock, one the cheapest supplier rejects, one for a SKU
nobody sells, one sent twice with the same Idempotency-Key, and one each to the EDI partner, AliExpress, CJ,
the email wholesaler and Printful, which prints the merchant's design); supplier orders placed; tracking back
by webhook, polling, EDI 856 and email reply; fulfillments pushed to the store; the margin report; one supplier's
invoice reconciled (one line billed above its cost: a dispute); the vendor report."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

import httpx

from dropbridge.api.app import create_app
from dropbridge.jobs.queue import Ticker
from dropbridge.sandbox.kit.server import start_server
from dropbridge.services.order_view import list_alerts, margin_report, order_detail
from dropbridge.services.sync_catalog import sync_catalog
from dropbridge.services.sync_feed import sync_feed
from dropbridge.services.tokens import create_token, revoke_token

from .environment import (
    ALIEXPRESS,
    CJ,
    EDI_STOCK,
    EDI_SUPPLIER,
    MAIL_SUPPLIER,
    PRINTFUL,
    SHOPIFY_STORE,
    STORE,
    SUPPLIERS,
    DemoEnvironment,
)

SHIP_TO = {"name": "Jane Doe", "address1": "19749 Dearborn St", "city": "Chatsworth", "province_code": "CA",
           "postal_code": "91311", "country_code": "US"}


def _orders(tag: str, ali_sku: tuple[str, str]) -> list[tuple[str, list[tuple[str, int, str]], str]]:
    return [
        (f"{tag}-1", [("TEE-BLK-M", 2, "24.00")], "cheapest supplier wins"),
        (f"{tag}-2", [("TEE-WHT-M", 1, "22.00"), ("CAP-RED", 1, "18.00")], "lines split across two suppliers"),
        (f"{tag}-3", [("MUG-11OZ", 2, "12.50")], "cheapest supplier out of stock in its feed"),
        (f"{tag}-4", [("HOODIE-L", 1, "49.00")], "cheapest supplier sold out since its feed: rejects, re-routed"),
        (f"{tag}-5", [("NO-SUCH-SKU", 1, "10.00")], "nobody sells it: kept, on hold, alerted"),
        (f"{tag}-6", [("TOTE-NAT", 1, "19.00")], "an EDI partner over SFTP: 850 out; 997, 855, 856, 810 back"),
        (f"{tag}-7", [(ali_sku[0], 1, ali_sku[1])], "an AliExpress SKU: ordered by API, auto-paid, tracking polled"),
        (f"{tag}-8", [("PHONECASE-BLK", 1, "14.00")], "CJdropshipping: catalog by API, paid from balance, "
                                                        "tracking by its webhook"),
        (f"{tag}-9", [("NOTEBOOK-A5", 2, "9.00")], "an email supplier: the PO goes by email (CSV, PDF, packing "
                                                   "slip), its confirmation and tracking are read from its replies"),
        (f"{tag}-10", [("LOGO-TEE-BLK-M", 1, "26.00")], "Printful prints the merchant's design: shipping quoted, "
                                                      "costs and tracking by signed webhook"),
    ]


def run_demo(built, console, print_order, *, keep_running: bool = False, timeout: float = 45.0) -> int:
    ctx, settings = built.ctx, built.settings
    settings.sweep_interval_seconds = 0.5
    settings.tracking_poll_seconds = 3.0
    settings.document_poll_seconds = 0.5
    api = start_server(create_app(built))
    env = DemoEnvironment(ctx, api.url)
    consumer = built.huey.create_consumer(workers=4, worker_type="thread", max_delay=settings.worker_poll_max_seconds)
    ticker = Ticker(ctx, built.huey)
    try:
        env.start()
        consumer.start()
        ticker.start()
        console.rule("[bold]1. supplier feeds")
        for name in env.suppliers:
            out = sync_feed(ctx, name, io.BytesIO(env.feed_csv(name)), f"{name}-feed.csv")
            console.print(f"{name}: {out.status}, read {out.rows_read}, changed {out.changed}, "
                          f"rejected {out.rejected}")
            for line, field, reason in out.rejects or []:
                console.print(f"   line {line} {field}: {reason}")
        _edi_inventory(ctx, env, console, timeout)
        pulled = sync_catalog(ctx, ALIEXPRESS)
        console.print(f"{ALIEXPRESS}: catalog pulled by API: {pulled.status}, read {pulled.rows_read}, "
                      f"changed {pulled.changed}")
        out = sync_catalog(ctx, CJ)
        console.print(f"{CJ} (CJdropshipping API): {out.status}, read {out.rows_read}, changed {out.changed}")
        out = sync_feed(ctx, MAIL_SUPPLIER, io.BytesIO(env.mail_feed_csv()), f"{MAIL_SUPPLIER}-feed.csv")
        console.print(f"{MAIL_SUPPLIER} (purchase orders by email): {out.status}, read {out.rows_read}, changed "
                      f"{out.changed}")
        out = sync_catalog(ctx, PRINTFUL)
        console.print(f"{PRINTFUL}: catalog pulled by API, {out.status}, read {out.rows_read}, changed {out.changed}")

        console.rule("[bold]2. orders arrive through the headless API")
        tag = "D" + datetime.now(UTC).strftime("%m%d%H%M%S")
        # The store's own token: it may write orders, for this store only (names are unique: one per run).
        token = create_token(ctx, f"demo-{tag}", ("orders:write",), stores=(STORE,))
        ids = []
        with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
            for external_id, lines, why in _orders(tag, env.aliexpress_sku):
                body = {"store": STORE, "external_id": external_id, "currency": "USD", "email": "jane@example.com",
                        "ship_to": SHIP_TO, "shipping_price": "5.00",
                        "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines]}
                r = http.post("/api/v1/orders", json=body, headers={"Idempotency-Key": f"key-{external_id}"})
                r.raise_for_status()
                ids.append((r.json()["id"], why))
                console.print(f"order {external_id} -> id {r.json()['id']} ({why})")
                if external_id.endswith("-1"):
                    again = http.post("/api/v1/orders", json=body, headers={"Idempotency-Key": f"key-{external_id}"})
                    console.print(f"   sent again with the same Idempotency-Key: same order id {again.json()['id']}"
                                  f", replayed={again.headers.get('Idempotent-Replayed')}")
                    if again.json() != r.json():
                        raise RuntimeError("idempotent replay returned a different response")
        revoke_token(ctx, f"demo-{tag}")  # the store's part is done: its token goes

        _wait_settled(ctx, [i for i, _ in ids], timeout)  # so acme's refusal is on record before the next order
        console.print("a shopper buys on the Shopify store (the emulator sends orders/create to our webhook):")
        shop_order = env.shopify.create_order(
            [{"sku": "TEE-BLK-M", "quantity": 1, "price": "24.00"}, {"sku": "MUG-11OZ", "quantity": 1,
                                                                   "price": "12.50"}],
            shipping_address={"first_name": "Bob", "last_name": "Norman", "address1": "Chestnut Street 92",
                              "city": "Louisville", "province_code": "KY", "zip": "40202", "country_code": "US"},
            shipping_price="4.90")
        shopify_id = _wait_for_order(ctx, SHOPIFY_STORE, shop_order["admin_graphql_api_id"], timeout)
        console.print(f"order {shop_order['name']} (Shopify {shop_order['id']}) -> id {shopify_id}")
        ids.append((shopify_id, "a Shopify order (webhook verified by its HMAC); "
                                "acme's refusal of order 4 now counts against it"))

        console.rule("[bold]3. routing, supplier orders, tracking, fulfillment")
        done = _wait(ctx, [i for i, why in ids if "nobody sells" not in why], timeout)
        for order_id, why in ids:

            console.print(f"[dim]{why}[/]")
            print_order(order_detail(ctx, order_id))
        console.print(f"\nthe headless store received {len(env.store.fulfillments())} fulfillments:")
        for f in env.store.fulfillments():
            console.print(f"   order {f['order_external_id']}: {f['carrier']} {f['tracking_number']}")
        console.print(f"{MAIL_SUPPLIER} received {len(env.mail.messages())} purchase order email(s), with "
                      + ", ".join(env.mail.purchase_orders()[0]["attachments"] if env.mail.messages() else []))
        shopify_fulfillments = env.shopify.fulfillments_for(shop_order["admin_graphql_api_id"])
        console.print(f"the Shopify store received {len(shopify_fulfillments)} fulfillments:")
        for f in shopify_fulfillments:
            tracking = ", ".join(t.get("number", "") for t in f.get("trackingInfo", []))
            console.print(f"   order {shop_order['name']}: {tracking} (customer notified: {f.get('notifyCustomer')})")
        edi = env.edi
        console.print(f"{EDI_SUPPLIER} (EDI X12 over SFTP) collected {len(edi.purchase_orders())} 850(s) and sent "
                      f"{', '.join(sorted({n[:3] for n in edi.sent()}))}; dropbridge sent it "
                      f"{len(edi.received_acks())} 997(s)")
        console.print("alerts:")
        for a in list_alerts(ctx, 10):
            console.print(f"   [{a['severity']}] {a['kind']}: {a['message']}")

        console.rule("[bold]4. margin per order (from ledger entries)")
        split = order_detail(ctx, ids[1][0])
        console.print(f"ledger of order {split['external_id']} (margin is their sum):")
        for e in split["ledger"]:
            console.print(f"   {e['kind']:<18} {e['amount']:>8}  {e['supplier'] or '':<7} {e['memo']}")
        from rich.table import Table

        ours = {d["external_id"] for d in (order_detail(ctx, i) for i, _ in ids)}
        # Realised (shipped) apart from expected; held or unroutable orders are never counted as earned.
        table = Table("order", "basis", "revenue (net of tax)", "tax collected", "costs", "margin", "margin %")
        for row in margin_report(ctx, "order"):
            if row["order"] in ours:
                table.add_row(row["order"], row["basis"], row["revenue"], row["tax_collected"], row["costs"],
                              row["margin"], row["margin_pct"])
        console.print(table)

        console.rule("[bold]5. a supplier's invoice reconciled")
        _reconcile_invoice(ctx, console, [i for i, _ in ids], tag)

        console.rule("[bold]6. vendor performance")
        from dropbridge.services.queries.vendors import vendor_performance

        vendors = Table("supplier", "orders", "fill rate %", "refusal rate %", "on time %", "lead time median (days)",
                        "tracking median (hours)", "invoice accuracy %", "defects")
        for row in vendor_performance(ctx)["rows"]:
            if row["orders_placed"]:
                vendors.add_row(*(str(row[c]) if row[c] is not None else "n/a" for c in (
                    "supplier", "orders_placed", "fill_rate", "refusal_rate", "on_time_rate",
                    "lead_time_median_days", "tracking_median_hours", "invoice_accuracy", "defects")))
        console.print(vendors)
        if not done:
            console.print("[bold red]not every order reached the store in time[/]")
            return 1
        console.print("[bold green]demo complete[/]")
        if keep_running:
            console.print(f"API at {api.url}; Ctrl-C to stop")
            while True:
                time.sleep(3600)
        return 0
    finally:
        ticker.stop()
        consumer.stop(graceful=True)
        env.stop()
        api.stop()


def _reconcile_invoice(ctx, console, order_ids: list[int], tag: str) -> None:
    """The feed supplier that shipped the most lines bills them; one line is billed 1.00 above its cost: the
    reconciliation matches the rest, flags that one and opens a dispute."""
    from rich.table import Table

    from dropbridge.domain.money import Money
    from dropbridge.services.ports import InvoiceLine, SupplierInvoice
    from dropbridge.services.reconcile_invoice import import_invoice, result_view

    shipped: dict[str, list[tuple[str, dict]]] = {}
    for order_id in order_ids:
        for so in order_detail(ctx, order_id)["supplier_orders"]:
            if so["supplier"] in SUPPLIERS and so["status"] in ("shipped", "delivered"):
                shipped.setdefault(so["supplier"], []).extend((so["reference"], ln) for ln in so["lines"])
    if not shipped:
        console.print("no feed supplier shipped anything: nothing to bill")
        return
    supplier, lines = max(shipped.items(), key=lambda kv: (len(kv[1]), kv[0]))
    currency = SUPPLIERS[supplier][0]
    billed = [InvoiceLine(ln["supplier_sku"], ln["quantity"],
                          Money.parse(ln["unit_cost"], currency) + (Money.parse("1.00", currency) if n == 0
                                                                     else Money.zero(currency)), reference=ref)
              for n, (ref, ln) in enumerate(lines)]
    number = f"INV-{tag}"
    console.print(f"{supplier} bills {len(billed)} shipped line(s) on invoice {number} "
                  f"(`dropbridge reconcile {supplier} FILE` or POST /api/v1/suppliers/{supplier}/invoices):")
    summary = import_invoice(ctx, supplier, SupplierInvoice(number, currency, tuple(billed)), "demo")
    table = Table("line", "sku", "qty", "billed", "expected", "outcome", "dispute", "detail")
    for r in (result_view(r) for r in summary["results"]):
        table.add_row(str(r["line"]), r["sku"] or "", str(r["quantity"]), r["billed"], r["expected"] or "",
                      r["outcome"], r["dispute"] or "", r["detail"])
    console.print(table)
    found = ", ".join(f"{n} {k}" for k, n in summary["outcomes"].items())
    console.print(f"invoice {number}: {found}; the ledger now carries the billed cost (a cost_variance entry "
                  "for the difference); `dropbridge disputes list` shows the dispute")


def _edi_inventory(ctx, env, console, timeout: float) -> None:
    """The EDI partner puts an 846 on its SFTP server; the scheduler collects it and the offers apply."""
    from dropbridge.services.queries.offers import list_offers

    name = env.edi.send_inventory(EDI_STOCK)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        offers = [o for o in list_offers(ctx, supplier=EDI_SUPPLIER) if o["supplier_sku"] in EDI_STOCK]
        if len(offers) == len(EDI_STOCK):
            console.print(f"{EDI_SUPPLIER}: 846 {name} collected over SFTP: "
                          + ", ".join(f"{o['supplier_sku']} x{o['stock']} at {o['cost']}" for o in offers))
            return
        time.sleep(0.2)
    raise RuntimeError(f"{EDI_SUPPLIER}'s 846 was never applied")


def _wait(ctx, order_ids: list[int], timeout: float) -> bool:
    """Until every routable order is shipped and its fulfillments pushed to the store."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        details = [order_detail(ctx, i) for i in order_ids]
        if all(d["status"] == "shipped" and d["shipments"] and all(s["pushed_to_store"] for s in d["shipments"])
               for d in details):
            return True
        time.sleep(0.3)
    return False


def _wait_for_order(ctx, store_name: str, external_id: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with ctx.uow(read_only=True) as uow:
            store = uow.stores.by_name(store_name)
            found = uow.orders.by_external_id(store.id, external_id)
            if found is not None:
                return found.id
        time.sleep(0.1)
    raise RuntimeError(f"order {external_id} never arrived from {store_name}")


def _wait_settled(ctx, order_ids: list[int], timeout: float) -> None:
    """Until every order has left routing: at its suppliers, or held for a person."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(order_detail(ctx, i)["status"] in ("submitted", "partially_shipped", "shipped", "on_hold")
               for i in order_ids):
            return
        time.sleep(0.1)
