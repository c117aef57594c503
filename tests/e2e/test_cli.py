"""The `dropbridge` command as a user types it (a real subprocess on a fresh data directory)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "DROPBRIDGE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    env.pop("DROPBRIDGE_DATABASE_URL", None)
    env.pop("DROPBRIDGE_QUEUE_URL", None)
    env["DROPBRIDGE_SECRET_KEYS"] = Fernet.generate_key().decode()

    def run(*args, check=True, extra_env=None):
        proc = subprocess.run([sys.executable, "-m", "dropbridge.cli", *args], env={**env, **(extra_env or {})},
                              capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"dropbridge {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    return run


def test_connections_feed_sync_quarantine_and_reports(cli, tmp_path):
    cli("init")
    cli("supplier", "add", "acme", "--kind", "rest", "--url", "http://127.0.0.1:9", "--credentials",
        '{"api_key": "sk_live_topsecret"}', "--config", '{"currency": "USD"}')
    listed = cli("supplier", "list").stdout
    assert "acme" in listed and "sk_live_topsecret" not in listed
    full = tmp_path / "full.csv"
    full.write_text("sku,qty,cost\n" + "".join(f"S{i},{i},1.{i:02d}\n" for i in range(40)) + "S99,x,1\n")
    out = cli("sync", "feed", "acme", str(full)).stdout
    assert "applied - read 41, changed 40, unchanged 0, zeroed 0, rejected 1" in out
    assert "line 42: qty:" in out
    half = tmp_path / "half.csv"
    half.write_text("sku,qty,cost\n" + "".join(f"S{i},0,1.{i:02d}\n" for i in range(15)))
    proc = cli("sync", "feed", "acme", str(half), check=False)
    assert proc.returncode == 1
    assert "quarantined" in proc.stdout and "below 50% of the last good run's 40" in proc.stdout
    again = cli("sync", "feed", "acme", str(full)).stdout  # nothing was zeroed by the quarantined run
    assert "changed 0, unchanged 40, zeroed 0" in again
    assert json.loads(cli("report", "margin", "--format", "json").stdout) == []
    assert cli("token", "create", "ci").stdout.strip().startswith("dbt_")
    audit = cli("audit").stdout
    assert "feed.quarantined" in audit and "sk_live_topsecret" not in audit


def test_bad_json_option_is_a_clear_error(cli):
    proc = cli("store", "add", "x", "--platform", "headless", "--url", "http://x", "--credentials", "{oops",
               check=False)
    assert proc.returncode == 2
    assert "credentials must be JSON" in proc.stdout + proc.stderr


def test_demo_runs_twice_in_the_same_directory(cli):
    for _ in range(2):
        out = cli("demo").stdout
        assert "demo complete" in out
        assert "rejected" in out and "pushed to store" in out
        # five routable feed orders, and one each by EDI, AliExpress, CJ, email and Printful
        assert "the headless store received 10 fulfillments" in out
        assert "papermill received 1 purchase order email(s), with PO-" in out
        assert "the Shopify store received 1 fulfillments" in out
        # the demo ends with one supplier's invoice reconciled (one line billed 1.00 above cost) and the vendor
        # report showing its invoice accuracy
        reconciled = out.split("a supplier's invoice reconciled")[-1]
        assert re.search(r"invoice INV-\S+: \d+ matched, 1 price_mismatch;", reconciled)
        assert "invoice accuracy" in reconciled.split("vendor performance")[-1]
