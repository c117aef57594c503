"""`store add` / `supplier add` validate against the connector registry: a wrong key, a wrong type, a missing
credential or an unregistered kind exits 2 naming it and saves nothing; `connectors` lists the registry."""

from __future__ import annotations

import json

import pytest

from .test_cli import cli  # noqa: F401 - the fixture


@pytest.mark.parametrize(("args", "named"), [
    (["--kind", "rest", "--url", "http://127.0.0.1:9", "--credentials", "{}"], "credentials.api_key"),
    (["--kind", "rest", "--url", "http://127.0.0.1:9", "--credentials", '{"api_key": "k", "apikey": "x"}'],
     "credentials.apikey"),
    (["--kind", "rest", "--url", "http://127.0.0.1:9", "--credentials", '{"api_key": "k"}', "--config",
      '{"curency": "USD"}'], "config.curency: unknown key"),
    (["--kind", "rest", "--url", "http://127.0.0.1:9", "--credentials", '{"api_key": "k"}', "--config",
      '{"buffer": "lots"}'], "config.buffer"),
    (["--kind", "rest", "--url", "http://127.0.0.1:9", "--credentials", '{"api_key": "k"}', "--config",
      '{"shipping_rates": {"US": "free"}}'], "config.shipping_rates.US"),
    (["--kind", "rest", "--credentials", '{"api_key": "k"}'], "needs --url"),
    (["--kind", "printfull", "--url", "http://x"], "unknown supplier kind 'printfull'"),
])
def test_supplier_add_refuses_what_the_registry_does_not_accept_and_saves_nothing(cli, args, named):  # noqa: F811
    proc = cli("supplier", "add", "acme", *args, check=False)
    assert proc.returncode == 2
    assert named in proc.stdout + proc.stderr
    assert "acme" not in cli("supplier", "list").stdout
    assert "supplier.added" not in cli("audit").stdout


def test_store_add_refuses_a_missing_config_key_of_its_platform(cli):  # noqa: F811
    proc = cli("store", "add", "bc", "--platform", "bigcommerce", "--credentials", '{"access_token": "t"}',
               check=False)
    assert proc.returncode == 2
    assert "config.store_hash" in proc.stdout + proc.stderr
    assert "bc" not in cli("store", "list").stdout


def test_an_update_keeps_the_stored_credentials_and_validates_the_merged_config(cli):  # noqa: F811
    cli("supplier", "add", "acme", "--kind", "rest", "--url", "http://127.0.0.1:9", "--credentials",
        '{"api_key": "k"}', "--config", '{"currency": "usd"}')
    cli("supplier", "add", "acme", "--kind", "rest", "--url", "http://127.0.0.1:9", "--config", '{"buffer": 2}')
    bad = cli("supplier", "add", "acme", "--kind", "rest", "--url", "http://127.0.0.1:9", "--config",
              '{"lead_time_days": -1}', check=False)
    assert bad.returncode == 2 and "config.lead_time_days" in bad.stderr
    listed = json.loads(cli("connectors", "--format", "json").stdout)
    assert {(c["name"], c["role"]) for c in listed} >= {("rest", "supplier"), ("feed", "supplier"),
                                                         ("shopify", "store"), ("headless", "store")}
    rest = next(c for c in listed if c["name"] == "rest")
    assert rest["credentials"] == ["api_key"]
    assert {"orders", "cancel", "tracking", "webhooks"} <= set(rest["capabilities"])
    assert rest["config"]["additionalProperties"] is False and "buffer" in rest["config"]["properties"]
