"""Suppliers without an API, end to end through the public surface: the `dropbridge` command in a fresh data
directory, `dropbridge serve` (API, workers, scheduler) as its own process, and real servers on localhost
(the mail emulator's SMTP and IMAP, the headless store).

- email: an order routed to an email supplier puts exactly one message at the SMTP server with the PO as CSV
  and PDF (and the packing slip); the supplier's confirmation is read from the mailbox; its reply with a
  tracking CSV becomes the store's fulfillment; the PO is never sent twice.
- manual: `po export` (CSV, and a PDF with the packing slip) -> `po placed` -> `shipments import` (a bad row
  reported by line number, the good one applied) -> the store's fulfillment.
- `sandbox run mail` prints a connection that `supplier add --kind email_po` takes as it is."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from cryptography.fernet import Fernet

from dropbridge.sandbox.headless_store import HeadlessStoreEmulator
from dropbridge.sandbox.mail import MailEmulator

from .helpers import wait_for

SHIP_TO = {"name": "Jane Doe", "address1": "1 Main St", "city": "Springfield", "postal_code": "12345",
           "country_code": "US"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "DROPBRIDGE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "250",
            "DROPBRIDGE_SECRET_KEYS": Fernet.generate_key().decode(), "DROPBRIDGE_SWEEP_INTERVAL_SECONDS": "0.5",
            "DROPBRIDGE_DOCUMENT_POLL_SECONDS": "0.5", "DROPBRIDGE_TRACKING_POLL_SECONDS": "3600",
            "DROPBRIDGE_ORDER_PULL_SECONDS": "3600", "DROPBRIDGE_HTTP_TIMEOUT_SECONDS": "5",
            "DROPBRIDGE_JOB_BACKOFF_BASE_SECONDS": "0.2", "DROPBRIDGE_JOB_BACKOFF_MAX_SECONDS": "1",
            "DROPBRIDGE_LOG_LEVEL": "WARNING"}


@pytest.fixture
def cli(env):
    env = {k: v for k, v in env.items() if k not in ("DROPBRIDGE_DATABASE_URL", "DROPBRIDGE_QUEUE_URL")}

    def run(*args, check=True):
        proc = subprocess.run([sys.executable, "-m", "dropbridge.cli", *args], env=env, capture_output=True,
                              text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"dropbridge {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    run.env = env
    return run


@pytest.fixture
def store():
    emu = HeadlessStoreEmulator("store-secret")
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def serve(cli):
    """`dropbridge serve` on a free port; yields an HTTP client with a bearer token."""
    procs = []

    def start() -> httpx.Client:
        token = cli("token", "create", "e2e").stdout.strip()
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "dropbridge.cli", "serve", "--port", str(port), "--workers",
                                 "2"], env=cli.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                            timeout=10)

        def up():
            try:
                return http.get("/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=30)
        return http

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _order(external_id: str, sku: str, qty: int) -> dict:
    return {"store": "shop", "external_id": external_id, "currency": "USD", "ship_to": SHIP_TO, "shipping_price": "0",
            "lines": [{"sku": sku, "quantity": qty, "unit_price": "24.00"}]}


def test_an_emailed_po_is_sent_once_and_its_tracking_reply_reaches_the_store(cli, serve, store, tmp_path):
    mail = MailEmulator(confirm_after=0.3, ship_after=None)
    mail.start()
    try:
        conn = mail.connection()
        cli("init")
        cli("store", "add", "shop", "--platform", "headless", "--url", store.events_url, "--credentials",
            '{"webhook_secret": "store-secret"}', "--config",
            json.dumps({"packing_slip": {"store_name": "Acme Tees", "message": "Thanks for your order!"}}))
        cli("supplier", "add", "wholesale", "--kind", "email_po", "--url", conn["base_url"], "--credentials",
            json.dumps(conn["credentials"]), "--config", json.dumps({**conn["config"], "ack_hours": 24}))
        feed = tmp_path / "feed.csv"
        feed.write_text("sku,qty,cost\nTEE-BLK-M,20,8.50\n")
        cli("sync", "feed", "wholesale", str(feed))
        http = serve()
        created = http.post("/api/v1/orders", json=_order("E-1", "TEE-BLK-M", 2), headers={"Idempotency-Key": "e-1"})
        assert created.status_code == 201, created.text
        order_id = created.json()["id"]

        (po,) = wait_for(lambda: mail.purchase_orders(), timeout=30)
        reference = po["reference"]
        assert reference.startswith("db-") and po["to"] == ["orders@supplier.example"]
        assert po["message_id"] == f"<po.{reference}@shop.example>"
        assert po["attachments"] == [f"PO-{reference}.csv", f"PO-{reference}.pdf", f"packing-slip-{reference}.pdf"]

        def acknowledged():
            so = http.get(f"/api/v1/orders/{order_id}").json()["supplier_orders"][0]
            return so if so["external_id"] == "SO-00001" else None

        wait_for(acknowledged, timeout=30)  # the supplier's confirmation, read from the mailbox
        mail.supplier.ship(reference)  # its reply with a tracking CSV lands in the mailbox
        (number,) = mail.supplier.orders[reference].tracking

        def fulfilled():
            return [f for f in store.fulfillments() if f["tracking_number"] == number]

        (fulfillment,) = wait_for(fulfilled, timeout=30)
        assert fulfillment["order_external_id"] == "E-1" and fulfillment["carrier"] == "UPS"
        detail = http.get(f"/api/v1/orders/{order_id}").json()
        assert detail["status"] == "shipped"
        time.sleep(1.5)  # a few more polls and sweeps: still one PO at the server, one fulfillment
        assert len(mail.messages()) == 1 and len(fulfilled()) == 1
        assert all("\\Seen" in m["flags"] for m in mail.mailbox())
    finally:
        mail.stop()


def test_manual_po_from_export_to_placed_to_imported_tracking(cli, serve, store, tmp_path):
    cli("init")
    cli("store", "add", "shop", "--platform", "headless", "--url", store.events_url, "--credentials",
        '{"webhook_secret": "store-secret"}', "--config",
        json.dumps({"packing_slip": {"store_name": "Acme Tees", "message": "Thanks for shopping with Acme!"}}))
    out = cli("supplier", "add", "dh", "--preset", "dhgate").stdout
    assert "(manual, preset dhgate)" in out
    feed = tmp_path / "feed.csv"
    feed.write_text("sku,qty,cost,title\nMUG-11OZ,50,3.20,Mug 11oz\n")
    cli("sync", "feed", "dh", str(feed))
    http = serve()
    created = http.post("/api/v1/orders", json=_order("M-1", "MUG-11OZ", 3), headers={"Idempotency-Key": "m-1"})
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]

    def queued():
        so = http.get(f"/api/v1/orders/{order_id}").json()["supplier_orders"]
        return so[0] if so and so[0]["status"] == "submitted" else None

    so = wait_for(queued, timeout=30)
    reference = so["reference"]
    listed = cli("po", "list", "--supplier", "dh").stdout
    assert reference in listed and "waiting" in listed and "3 x MUG-11OZ" in listed

    exported = cli("po", "export", "dh", "--format", "csv").stdout.lstrip("\ufeff")
    (row,) = list(csv.DictReader(io.StringIO(exported)))
    assert (row["po_number"], row["supplier_sku"], row["quantity"], row["ship_to_name"], row["ship_to_country"],
            row["customer_order"]) == (reference, "MUG-11OZ", "3", "Jane Doe", "US", "M-1")
    pdf_path = tmp_path / "po.pdf"
    cli("po", "export", "dh", "--format", "pdf", "--output", str(pdf_path))
    from pypdf import PdfReader

    pages = [page.extract_text() for page in PdfReader(str(pdf_path)).pages]
    assert len(pages) == 2
    assert f"Purchase order {reference}" in pages[0] and "Jane Doe" in pages[0] and "3.20 USD" in pages[0]
    slip = pages[1]
    assert "Acme Tees" in slip and "Packing slip" in slip and "Order M-1" in slip
    assert "Thanks for shopping with Acme!" in slip and "Mug 11oz" in slip and "Jane Doe" in slip
    assert "USD" not in slip and "3.20" not in slip  # no prices in the parcel

    refused = cli("po", "placed", reference, "--external-id", "DH-778899", "--cost", "ten", check=False)
    assert refused.returncode == 2 and "cost" in refused.stderr
    assert "waiting" in cli("po", "list", "--supplier", "dh").stdout  # nothing changed
    placed = cli("po", "placed", str(so["id"]), "--external-id", "DH-778899", "--cost", "9.60").stdout
    assert f"{reference} placed as DH-778899, cost 9.60 USD" in placed
    assert "DH-778899" in cli("po", "list", "--supplier", "dh", "--status", "placed").stdout
    assert "no purchase orders waiting for dh" in cli("po", "export", "dh", "--format", "csv").stdout

    tracking = tmp_path / "tracking.csv"
    tracking.write_text("Order Number,Carrier,Tracking Number,SKU,Qty\n"
                        "DH-778899,China Post,LX123456785CN,MUG-11OZ,3\n"
                        "DH-000000,China Post,LX999999995CN,MUG-11OZ,1\n")
    imported = cli("shipments", "import", "dh", str(tracking), check=False)
    assert imported.returncode == 1
    assert "recorded 1 shipments, 0 already recorded, 1 rows rejected" in imported.stdout
    assert "line 3: order_number: no supplier order 'DH-000000' for dh" in imported.stdout

    def fulfilled():
        return [f for f in store.fulfillments() if f["tracking_number"] == "LX123456785CN"]

    (fulfillment,) = wait_for(fulfilled, timeout=30)
    assert fulfillment["order_external_id"] == "M-1" and fulfillment["carrier"] == "China Post"
    again = cli("shipments", "import", "dh", str(tracking), check=False).stdout
    assert "recorded 0 shipments, 1 already recorded, 1 rows rejected" in again
    assert cli("po", "list", "--supplier", "dh", "--status", "shipped").stdout.count(reference) == 1


def test_sandbox_run_mail_prints_a_connection_supplier_add_takes_as_it_is(cli):
    proc = subprocess.Popen([sys.executable, "-m", "dropbridge.cli", "sandbox", "run", "mail"], env=cli.env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        conn = json.loads(proc.stdout.readline())
        assert set(conn) == {"name", "base_url", "credentials", "config"}
        out = cli("supplier", "add", "mailer", "--kind", "email_po", "--url", conn["base_url"], "--credentials",
                  json.dumps(conn["credentials"]), "--config", json.dumps(conn["config"])).stdout
        assert "supplier mailer (id 1) saved" in out
        with socket.create_connection(("127.0.0.1", conn["config"]["smtp"]["port"]), timeout=5) as smtp:
            assert smtp.recv(100).startswith(b"220 ")
        with socket.create_connection(("127.0.0.1", conn["config"]["imap"]["port"]), timeout=5) as imap:
            assert imap.recv(100).startswith(b"* OK [CAPABILITY IMAP4rev1")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
