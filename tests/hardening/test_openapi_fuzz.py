"""Schemathesis over the whole OpenAPI document, against the real app on SQLite and PostgreSQL, with an admin
token: no request it makes gets a server error, a status the document does not list, or an undocumented
content type. Each operation is fuzzed three ways: valid data, invalid data, and valid data aimed at what
exists (a known store, supplier, order and sync run, a known currency and country), which reaches past the
first 404 into intake, feed sync and webhook verification."""

from __future__ import annotations

import io
import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from dropbridge.api.app import create_app
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.sync_feed import sync_feed
from dropbridge.services.tokens import create_token
from tests.integration.test_order_intake import order

# Per operation, way and database: the module stays well under a minute. DROPBRIDGE_FUZZ_EXAMPLES=200 digs deeper.
MAX_EXAMPLES = int(os.environ.get("DROPBRIDGE_FUZZ_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
KNOWN_PATHS = {"store": "shop", "platform": "headless", "supplier": "acme", "order_id": 1, "run_id": 1}


@pytest.fixture
def fuzzed(app):
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9", {"webhook_secret": "s"}, {})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k", "webhook_secret": "s"},
                 {"currency": "USD"})
    app.ctx.enqueue = lambda job_id, delay=0: None
    sync_feed(app.ctx, "acme", io.BytesIO(b"sku,qty,cost\nTEE,10,8.50\n"), "acme.csv")
    ingest_order(app.ctx, "shop", order("F-1"))
    return create_app(app), create_token(app.ctx, "fuzz")


def _aimed(case, known_body: bool):
    """A generated case pointed at what exists."""
    for name in case.path_parameters or {}:
        if name in KNOWN_PATHS:
            case.path_parameters[name] = KNOWN_PATHS[name]
    if known_body and isinstance(case.body, dict) and "store" in case.body:
        case.body.update(store="shop", currency="USD", shipping_price="4.00")
        for name in ("total_tax", "total_discounts"):  # generated amounts beyond the order's own are refused
            case.body.pop(name, None)
        if isinstance(case.body.get("ship_to"), dict):
            case.body["ship_to"]["country_code"] = "US"
        for line in case.body.get("lines") or []:  # the text fields stay as generated
            if isinstance(line, dict):
                line.update(quantity=int(line.get("quantity") or 1) % 1000 or 1, unit_price="19.99")
                line.pop("discount", None), line.pop("tax", None)
    return case


def test_no_server_errors_and_only_documented_statuses(fuzzed):
    api, token = fuzzed
    schema = schemathesis.openapi.from_asgi("/openapi.json", api)
    operations = [result.ok() for result in schema.get_all_operations()]
    # the whole document, webhooks and feed uploads included: every documented operation is fuzzed
    documented = {(method.upper(), path) for path, item in api.openapi()["paths"].items() for method in item}
    assert {(op.method.upper(), op.path) for op in operations} == documented and len(documented) >= 13
    failures, statuses = {}, Counter()
    for operation in operations:
        ways = {
            "valid": operation.as_strategy(GenerationMode.POSITIVE),
            "invalid": operation.as_strategy(GenerationMode.NEGATIVE),
            "aimed": st.tuples(operation.as_strategy(GenerationMode.POSITIVE), st.booleans()).map(
                lambda pair: _aimed(*pair)),
        }
        for way, strategy in ways.items():
            @given(case=strategy)
            @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def call(case):
                response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
                statuses[response.status_code] += 1

            try:
                call()
            except Unsatisfiable:
                assert way == "invalid" and operation.path in ("/healthz", "/metrics")  # nothing to get wrong
            except Exception as exc:  # noqa: BLE001 - every operation runs; the failures are reported together
                failures[f"{operation.label} ({way})"] = str(exc)[:3000]
    assert failures == {}, "\n\n".join(f"{k}: {v}" for k, v in failures.items())
    # The fuzzing got past the door: successes, refusals of bad input and misses all happened.
    assert {200, 201, 404, 422} <= set(statuses), statuses


def test_the_document_declares_the_bearer_scheme_and_every_status(tmp_path):
    from dropbridge.bootstrap import bootstrap
    from tests.conftest import make_settings

    built = bootstrap(make_settings(tmp_path, f"sqlite:///{tmp_path / 'doc.db'}"))  # the document needs no rows
    document = create_app(built).openapi()
    built.close()
    assert document["components"]["securitySchemes"] == {"HTTPBearer": {
        "type": "http", "scheme": "bearer", "description": "An API token: `dropbridge token create NAME`."}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            names = {p["name"].lower() for p in operation.get("parameters", [])}
            assert "authorization" not in names, (method, path)  # a scheme, not an optional header
            codes = set(operation["responses"])
            if method == "post":
                assert {"400", "413"} <= codes, (method, path)  # the door answers these for any body
            if path.startswith("/api/"):
                assert operation["security"] == [{"HTTPBearer": []}], (method, path)
                assert {"401", "403", "422"} <= codes, (method, path)
            else:
                assert "security" not in operation, (method, path)  # webhooks sign, /healthz and /metrics are open
    assert set(document["paths"]["/api/v1/orders"]["post"]["responses"]) == {
        "201", "400", "401", "403", "404", "409", "413", "422"}
    assert set(document["paths"]["/webhooks/{platform}/{store}"]["post"]["responses"]) == {
        "200", "400", "401", "404", "413", "422"}
    assert "multipart/form-data" in document["paths"]["/api/v1/suppliers/{supplier}/feeds"]["post"]["requestBody"][
        "content"]
