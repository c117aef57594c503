"""CJdropshipping from a fresh data directory through the public surface only: `dropbridge sandbox run
cjdropshipping` -> `supplier add` with the values it printed -> `sync catalog` -> `offers list` -> an order
through the headless API -> exactly one order at CJ carrying our reference -> CJ ships, its LOGISTICS message
reaches `dropbridge serve` through the callback URL with its secret -> a fulfillment at the store."""

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


@pytest.fixture
def env(tmp_path):
    env = {**os.environ, "DROPBRIDGE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200",
           "DROPBRIDGE_SECRET_KEYS": Fernet.generate_key().decode(), "DROPBRIDGE_SWEEP_INTERVAL_SECONDS": "0.5",
           "DROPBRIDGE_TRACKING_POLL_SECONDS": "3600",  # tracking must come by CJ's message, not by polling
           "DROPBRIDGE_LOG_LEVEL": "WARNING"}
    env.pop("DROPBRIDGE_DATABASE_URL", None)
    env.pop("DROPBRIDGE_QUEUE_URL", None)
    return env


def _cli(env, *args) -> str:
    proc = subprocess.run([sys.executable, "-m", "dropbridge.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"dropbridge {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(env, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dropbridge.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_cjdropshipping_from_sandbox_to_fulfillment(env):
    port = _free_port()
    api = f"http://127.0.0.1:{port}"
    emulator = _start(env, "sandbox", "run", "cjdropshipping", "--webhook-url", f"{api}/webhooks/suppliers/cj")
    store = HeadlessStoreEmulator("store-secret")
    store.start()
    serve = None
    try:
        conn = json.loads(emulator.stdout.readline())
        assert conn["name"] == "cjdropshipping" and conn["base_url"].endswith("/api2.0/v1")
        _cli(env, "init")
        _cli(env, "supplier", "add", "cj", "--kind", "cjdropshipping", "--url", conn["base_url"],
             "--credentials", json.dumps(conn["credentials"]), "--config", json.dumps(conn["config"]))
        _cli(env, "store", "add", "shop", "--platform", "headless", "--url", store.events_url, "--credentials",
             json.dumps({"webhook_secret": "store-secret"}))
        synced = _cli(env, "sync", "catalog", "cj")
        assert "applied" in synced and "read 12" in synced, synced  # 3 products of 4 variants
        offers = json.loads(_cli(env, "offers", "list", "--supplier", "cj", "--format", "json"))
        assert len(offers) == 12 and all(o["currency"] == "USD" and o["stock"] > 0 for o in offers)
        sku = offers[0]["supplier_sku"]
        token = _cli(env, "token", "create", "e2e").strip()

        serve = _start(env, "serve", "--port", str(port))
        with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
            wait_for(lambda: _up(http), timeout=30)
            body = {"store": "shop", "external_id": "CJ-E2E-1", "currency": "USD", "email": "jane@example.com",
                    "ship_to": {"name": "Jane Doe", "address1": "19749 Dearborn St", "city": "Chatsworth",
                                "province_code": "CA", "postal_code": "91311", "country_code": "US"},
                    "shipping_price": "5.00", "lines": [{"sku": sku, "quantity": 2, "unit_price": "29.00"}]}
            created = http.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "cj-e2e-1"})
            assert created.status_code in (200, 201), created.text
            order_id = created.json()["id"]

            cj_orders = wait_for(lambda: _cj_orders(conn), timeout=60)
            detail = http.get(f"/api/v1/orders/{order_id}").json()
            (so,) = detail["supplier_orders"]
            assert [o["orderNum"] for o in cj_orders] == [so["reference"]]  # exactly one, carrying our reference
            (ours,) = cj_orders
            assert wait_for(lambda: http.get(f"/api/v1/orders/{order_id}").json()["supplier_orders"][0]["external_id"],
                            timeout=30) == ours["orderId"]
            assert ours["productList"][0]["quantity"] == 2 and ours["logisticName"] == "CJPacket Ordinary"

            def fulfilled():
                got = [f for f in store.fulfillments() if f["order_external_id"] == "CJ-E2E-1"]
                return got or None
            (fulfillment,) = wait_for(fulfilled, timeout=60)
            shipped = _cj_orders(conn)[0]
            assert fulfillment["tracking_number"] == shipped["trackNumber"]
            assert fulfillment["carrier"] == "CJPacket Ordinary"
            final = http.get(f"/api/v1/orders/{order_id}").json()
            assert final["status"] == "shipped"
            assert len(_cj_orders(conn)) == 1
            # Shipped: CJ's order amounts are asked for and reconciled as its invoice (CJ-<its order id>).
            totals = wait_for(lambda: json.loads(_cli(env, "disputes", "totals", "--supplier", "cj", "--format",
                                                      "json")) or None, timeout=30)
            assert {r["supplier"] for r in totals} == {"cj"} and sum(r["lines"] for r in totals) >= 1
            assert "matched" in {r["outcome"] for r in totals}
    finally:
        if serve is not None:
            _stop(serve)
        _stop(emulator)
        store.stop()


def _up(http) -> bool:
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def _cj_orders(conn) -> list[dict] | None:
    control = conn["base_url"].removesuffix("/api2.0/v1")
    orders = httpx.get(f"{control}/_control/orders", timeout=5).json()["orders"]
    return orders or None
