"""Printful end to end. From a fresh data directory with only the public surface (the `dropbridge` command as
subprocesses, HTTP): `sandbox run printful` -> `supplier add` with what it printed -> `sync catalog` ->
`offers list` -> a design attached -> an order through the headless API routed to Printful (shipping
quoted) -> exactly one order at Printful carrying our reference -> shipped -> tracking back to the store as
a fulfillment, and Printful's asynchronous costs recorded. The headless store is the emulator dropbridge
pushes fulfillments to."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import httpx
import pytest
from cryptography.fernet import Fernet

from dropbridge.sandbox.headless_store import HeadlessStoreEmulator

from .helpers import wait_for

SHIP_TO = {"name": "Jane Doe", "address1": "19749 Dearborn St", "city": "Chatsworth", "province_code": "CA",
           "postal_code": "91311", "country_code": "US"}
DESIGN = "https://designs.example/front.png"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dropbridge(tmp_path):
    env = {**os.environ, "DROPBRIDGE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200",
           "DROPBRIDGE_SECRET_KEYS": Fernet.generate_key().decode()}
    env.pop("DROPBRIDGE_DATABASE_URL", None)
    env.pop("DROPBRIDGE_QUEUE_URL", None)
    spawned: list[subprocess.Popen] = []

    class Cli:
        def run(self, *args: str) -> str:
            proc = subprocess.run([sys.executable, "-m", "dropbridge.cli", *args], env=env, capture_output=True,
                                  text=True, timeout=120)
            assert proc.returncode == 0, f"dropbridge {' '.join(args)}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            return proc.stdout

        def spawn(self, *args: str) -> subprocess.Popen:
            proc = subprocess.Popen([sys.executable, "-m", "dropbridge.cli", *args], env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            spawned.append(proc)
            return proc

    yield Cli()
    for proc in spawned:
        proc.terminate()
    for proc in spawned:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_printful_from_the_command_line_to_a_fulfillment(dropbridge):
    store = HeadlessStoreEmulator("store-secret")
    store.start()
    try:
        port = free_port()
        api = f"http://127.0.0.1:{port}"
        dropbridge.run("init")
        sandbox = dropbridge.spawn("sandbox", "run", "printful", "--webhook-url", f"{api}/webhooks/suppliers/pf")
        conn = json.loads(sandbox.stdout.readline())
        assert conn["name"] == "printful"
        dropbridge.run("supplier", "add", "pf", "--kind", "printful", "--url", conn["base_url"], "--credentials",
                       json.dumps(conn["credentials"]), "--config", json.dumps(conn["config"]))
        dropbridge.run("store", "add", "shop", "--platform", "headless", "--url", store.events_url,
                       "--credentials", '{"webhook_secret": "store-secret"}')
        assert "applied" in dropbridge.run("sync", "catalog", "pf")
        offers = {o["supplier_sku"]: o for o in json.loads(dropbridge.run("offers", "list", "--supplier", "pf",
                                                                          "--format", "json"))}
        assert {"PF-4012", "LOGO-TEE-BLK-M", "QUOTE-MUG-11"} <= set(offers)
        assert (offers["PF-4012"]["cost"], offers["PF-4012"]["variant_sku"]) == ("9.85", "PF-4012")
        dropbridge.run("designs", "attach", "PF-4012", "--placement", "front", "--file", DESIGN, "--technique", "dtg")
        token = dropbridge.run("token", "create", "e2e").strip()
        dropbridge.spawn("serve", "--port", str(port))
        http = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        wait_for(lambda: _up(http), timeout=60, interval=0.3)

        body = {"store": "shop", "external_id": "PF-E2E-1", "currency": "USD", "email": "jane@example.com",
                "ship_to": SHIP_TO, "shipping_price": "5.00",
                "lines": [{"sku": "PF-4012", "quantity": 2, "unit_price": "24.00"}]}
        created = http.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "pf-e2e-1"})
        assert created.status_code in (200, 201), created.text
        order_id = created.json()["id"]
        so = wait_for(lambda: _submitted(http, order_id), timeout=60, interval=0.3)
        printful = httpx.Client(base_url=conn["base_url"], timeout=10)
        (at_printful,) = [o for o in printful.get("/_control/orders").json()["orders"]]  # exactly one order
        assert (at_printful["external_id"], str(at_printful["id"])) == (so["reference"], so["external_id"])
        assert at_printful["status"] == "pending"  # confirmed: in production
        (item,) = at_printful["items"]
        assert (item["variant_id"], item["quantity"], [f["url"] for f in item["files"]]) == (4012, 2, [DESIGN])
        assert at_printful["packing_slip"]["custom_order_id"] == "PF-E2E-1"
        assert so["shipping_method"] == "STANDARD"  # the quote routing chose travelled on the order
        detail = http.get(f"/api/v1/orders/{order_id}").json()
        (candidate,) = detail["lines"][0]["routing"]["candidates"]
        assert candidate["reason"].startswith("only eligible offer (shipping quoted: Flat Rate")

        assert printful.post(f"/_control/ship/@{so['reference']}").status_code == 200
        (shipment,) = printful.get("/_control/orders").json()["orders"][0]["shipments"]
        fulfillment = wait_for(lambda: store.fulfillments(), timeout=60, interval=0.3)[0]
        assert (fulfillment["order_external_id"], fulfillment["carrier"], fulfillment["tracking_number"]) == \
            ("PF-E2E-1", "USPS", shipment["tracking_number"])
        done = wait_for(lambda: _costed(http, order_id), timeout=30, interval=0.3)
        assert (done["stated_cost"], done["stated_shipping"]) == ("19.70", "6.95")  # 2 x 9.85; 4.75 + 2.20
        assert len(printful.get("/_control/orders").json()["orders"]) == 1
    finally:
        store.stop()


def _up(http: httpx.Client) -> bool:
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def _submitted(http: httpx.Client, order_id: int):
    sos = http.get(f"/api/v1/orders/{order_id}").json()["supplier_orders"]
    return sos[0] if sos and sos[0]["status"] == "submitted" else None


def _costed(http: httpx.Client, order_id: int):
    so = http.get(f"/api/v1/orders/{order_id}").json()["supplier_orders"][0]
    return so if so["stated_cost"] is not None else None
