"""The e2e world: a headless store and two REST suppliers on emulators, dropbridge's API and worker."""

from __future__ import annotations

import httpx
import pytest

from dropbridge.sandbox.headless_store import HeadlessStoreEmulator
from dropbridge.sandbox.rest_supplier import RestSupplierEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.tokens import create_token

from .helpers import load_feed, running


@pytest.fixture
def world(app):
    """Store 'shop' (headless emulator) and suppliers 'acme' and 'globex' (REST emulators)."""
    store = HeadlessStoreEmulator("store-secret")
    store.start()
    sups = {}
    with running(app) as api:
        add_store(app.ctx, "shop", "headless", store.events_url, {"webhook_secret": "store-secret"},
                  {"payment_fee_percent": "2.9", "payment_fee_fixed": "0.30"})
        for name, shipping in (("acme", "4.00"), ("globex", "3.50")):
            emu = RestSupplierEmulator(api_key=f"key-{name}", name=name, ship_after_seconds=None,
                                       webhook_url=f"{api.url}/webhooks/suppliers/{name}",
                                       webhook_secret=f"whsec-{name}")
            emu.start()
            sups[name] = emu
            add_supplier(app.ctx, name, "rest", emu.url, {"api_key": f"key-{name}", "webhook_secret": f"whsec-{name}"},
                         {"currency": "USD", "shipping_per_order": shipping})
        load_feed(app.ctx, "acme", [("TEE", 20, "8.50"), ("MUG", 0, "3.20"), ("WHT", 5, "8.00")])
        load_feed(app.ctx, "globex", [("TEE", 30, "9.10"), ("MUG", 40, "3.90"), ("CAP", 12, "6.00")])
        token = create_token(app.ctx, "test")
        http = httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        yield app, api, http, store, sups
        http.close()
    for emu in sups.values():
        emu.stop()
    store.stop()


