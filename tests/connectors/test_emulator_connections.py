"""Every store emulator says how to connect to it (`connection()`: `{"name", "base_url", "credentials",
"config"}`, what `dropbridge store add NAME --platform P --url BASE_URL --credentials JSON --config JSON`
takes), and a connector built from exactly that talks to it. The sandbox imports no service."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest

from dropbridge.connectors.stores import bigcommerce, headless, shopify, woocommerce
from dropbridge.sandbox.bigcommerce import BigCommerceEmulator
from dropbridge.sandbox.headless import HeadlessStoreEmulator
from dropbridge.sandbox.shopify import ShopifyEmulator
from dropbridge.sandbox.woocommerce import WooCommerceEmulator
from dropbridge.services.ports import Fulfillment

SANDBOX = Path(__file__).resolve().parents[2] / "src" / "dropbridge" / "sandbox"


def _connect(platform: str, connection: dict):
    factory = {"shopify": shopify.from_config, "woocommerce": woocommerce.from_config,
               "bigcommerce": bigcommerce.from_config, "headless": headless.from_config}[platform]
    assert set(connection) == {"name", "base_url", "credentials", "config"}
    return factory(connection["base_url"], connection["credentials"], connection["config"])


@pytest.mark.parametrize("platform", ["shopify", "woocommerce", "bigcommerce"])
def test_a_connector_built_from_the_connection_reads_orders(platform):
    emu = {"shopify": ShopifyEmulator, "woocommerce": WooCommerceEmulator, "bigcommerce": BigCommerceEmulator}[
        platform]()
    with emu:
        connection = emu.connection()
        assert connection["name"] == platform and connection["base_url"] == emu.url
        store = _connect(platform, connection)
        try:
            assert store.fetch_orders().items == []
        finally:
            store.close()


def test_woocommerce_connection_says_how_to_sign_for_its_site():
    with WooCommerceEmulator() as http_site, WooCommerceEmulator(ssl=True) as tls_site:
        assert http_site.connection()["config"]["auth"] == "oauth1"
        assert tls_site.connection()["config"]["auth"] == "basic"
        for emu in (http_site, tls_site):
            store = _connect("woocommerce", emu.connection())
            assert store.fetch_orders().items == []


def test_headless_connection_pushes_events_and_reads_orders():
    with HeadlessStoreEmulator("whsec-h", orders_token="tok") as emu:
        connection = emu.connection()
        assert connection["base_url"] == emu.events_url
        assert connection["credentials"] == {"webhook_secret": "whsec-h", "api_token": "tok"}
        store = _connect("headless", connection)
        store.push_fulfillment(Fulfillment("web-1", "UPS", "1Z1", None, []), "ful-1")
        assert [f["tracking_number"] for f in emu.fulfillments()] == ["1Z1"]
        assert store.fetch_orders().items == []


def test_headless_errors_are_in_the_stores_envelope():
    with HeadlessStoreEmulator("whsec-h") as emu:
        for method, path in (("GET", "/nope"), ("PUT", "/dropbridge/events"), ("GET", "/orders/1")):
            response = httpx.request(method, emu.url + path)
            body = response.json()
            assert response.status_code == 404 and set(body) == {"error"}, (method, path)
            assert body["error"]["code"] == "not_found"


def test_sandbox_imports_no_service():
    for path in SANDBOX.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                assert not name.startswith("dropbridge.services"), f"{path} imports {name}"
