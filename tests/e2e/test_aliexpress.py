"""AliExpress from a fresh data directory through the public surface only: `dropbridge sandbox run aliexpress`
-> `supplier add` with the values it printed -> `sync catalog` -> `offers list` -> an order through the headless
API (dropbridge serve) routed to AliExpress -> exactly one order at the emulator carrying our reference ->
shipped there -> tracking polled back and pushed to the headless store as a fulfillment."""

from __future__ import annotations

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

from .helpers import wait_for


@pytest.fixture
def env(tmp_path):
    out = {**os.environ, "DROPBRIDGE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200",
           "DROPBRIDGE_SECRET_KEYS": Fernet.generate_key().decode(), "DROPBRIDGE_TRACKING_POLL_SECONDS": "1",
           "DROPBRIDGE_SWEEP_INTERVAL_SECONDS": "0.5"}
    out.pop("DROPBRIDGE_DATABASE_URL", None)
    out.pop("DROPBRIDGE_QUEUE_URL", None)
    return out


def _cli(env, *args) -> str:
    proc = subprocess.run([sys.executable, "-m", "dropbridge.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"dropbridge {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_aliexpress_from_sandbox_to_a_fulfilled_store_order(env):
    sandbox = subprocess.Popen([sys.executable, "-m", "dropbridge.cli", "sandbox", "run", "aliexpress"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    store = HeadlessStoreEmulator("store-secret")
    store.start()
    serve = None
    try:
        conn = json.loads(sandbox.stdout.readline())
        assert conn["name"] == "aliexpress" and set(conn) == {"name", "base_url", "credentials", "config"}
        _cli(env, "init")
        _cli(env, "store", "add", "shop", "--platform", "headless", "--url", store.events_url, "--credentials",
             json.dumps({"webhook_secret": "store-secret"}))
        _cli(env, "supplier", "add", "ali", "--kind", "aliexpress", "--url", conn["base_url"], "--credentials",
             json.dumps(conn["credentials"]), "--config", json.dumps(conn["config"]))
        synced = _cli(env, "sync", "catalog", "ali")
        assert "applied - read 12, changed 12" in synced
        offers = json.loads(_cli(env, "offers", "list", "--supplier", "ali", "--format", "json"))
        assert len(offers) == 12 and all(o["supplier"] == "ali" and o["currency"] == "USD" for o in offers)
        sku = next(o["variant_sku"] for o in offers if o["stock"] > 0)
        assert sku.split(":")[0] in conn["config"]["product_ids"]
        token = _cli(env, "token", "create", "e2e").strip()

        port = _free_port()
        serve = subprocess.Popen([sys.executable, "-m", "dropbridge.cli", "serve", "--port", str(port)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        api = f"http://127.0.0.1:{port}"
        wait_for(lambda: _up(api), timeout=30)
        http = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        body = {"store": "shop", "external_id": "ALI-1", "currency": "USD", "email": "jane@example.com",
                "ship_to": {"name": "Jane Doe", "address1": "19749 Dearborn St", "city": "Chatsworth",
                            "province_code": "CA", "postal_code": "91311", "country_code": "US"},
                "lines": [{"sku": sku, "quantity": 2, "unit_price": "24.00"}]}
        created = http.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "ali-1"})
        assert created.status_code in (200, 201), created.text
        order_id = created.json()["id"]

        def submitted():
            detail = http.get(f"/api/v1/orders/{order_id}").json()
            sos = detail["supplier_orders"]
            return sos[0] if sos and sos[0]["status"] == "submitted" else None

        so = wait_for(submitted, timeout=40)
        at_supplier = httpx.get(conn["base_url"] + "/_control/orders").json()
        assert [c["out_order_id"] for c in at_supplier["creations"]] == [so["reference"]]  # exactly once
        (ae_order,) = at_supplier["creations"][0]["order_ids"]
        assert so["external_id"] == ae_order
        shipped = httpx.post(f"{conn['base_url']}/_control/ship/{ae_order}").json()
        (parcel,) = shipped["parcels"]

        def fulfilled():
            return [f for f in store.fulfillments() if f["order_external_id"] == "ALI-1"]

        (fulfillment,) = wait_for(fulfilled, timeout=40)
        assert fulfillment["tracking_number"] == parcel["mail_no"]
        assert fulfillment["carrier"] == "AliExpress Selection Standard"
        detail = http.get(f"/api/v1/orders/{order_id}").json()
        assert detail["status"] == "shipped"
        assert len(httpx.get(conn["base_url"] + "/_control/orders").json()["creations"]) == 1
    finally:
        if serve is not None:
            _stop(serve)
        _stop(sandbox)
        store.stop()


def _up(api: str) -> bool:
    try:
        return httpx.get(f"{api}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        time.sleep(0.2)
        return False
