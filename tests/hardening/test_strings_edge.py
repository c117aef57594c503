"""Strings at the edge: one definition of lengths and characters (domain/limits.py) for the API schema, webhook
orders and feeds, so SQLite and PostgreSQL give the same answer to the same input; known currency and country
codes only."""

from __future__ import annotations

import io
import json

import pycountry
import pytest
from sqlalchemy import text

from dropbridge.domain import limits
from dropbridge.domain.errors import UnprocessableEvent, ValidationError
from dropbridge.domain.money import Money, known_currency
from dropbridge.services.inbound_events import process_webhook, receive_webhook
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine
from dropbridge.services.sync_feed import sync_feed

from .conftest import STORE_SECRET, counts, order_body


def _errors(response) -> list[tuple[list, str]]:
    return [(e["loc"], e["type"]) for e in response.json()["detail"]]


def test_api_strings_beyond_their_column_or_with_forbidden_characters_are_refused(edge):
    app, client, _ = edge
    before = counts(app)
    cases = [
        ({"email": "a" * 310 + "@example.com"}, (["body", "email"], "string_too_long")),
        ({"external_id": "E" * 101}, (["body", "external_id"], "string_too_long")),
        ({"external_id": "E\x00"}, (["body", "external_id"], "string_pattern_mismatch")),
        ({"external_id": "E\n1"}, (["body", "external_id"], "string_pattern_mismatch")),
        ({"store": "shop\x00"}, (["body", "store"], "string_pattern_mismatch")),
        ({"store": "s" * 101}, (["body", "store"], "string_too_long")),
        ({"email": "a\x00@example.com"}, (["body", "email"], "string_pattern_mismatch")),
        ({"currency": "ZZZ"}, (["body", "currency"], "value_error")),
        ({"currency": "XAU"}, (["body", "currency"], "value_error")),  # gold is not money a shop takes
        ({"currency": "usd"}, (["body", "currency"], "string_pattern_mismatch")),
    ]
    for patch, expected in cases:
        r = client.post("/api/v1/orders", json=order_body(**patch))
        assert r.status_code == 422 and _errors(r) == [expected], patch
    for sku, problem in (("A\x00B", "string_pattern_mismatch"), ("A\tB", "string_pattern_mismatch"),
                         ("S" * 201, "string_too_long"), ("", "string_too_short")):
        r = client.post("/api/v1/orders", json=order_body(lines=((sku, 1, "1.00"),)))
        assert r.status_code == 422 and _errors(r) == [(["body", "lines", 0, "sku"], problem)], sku
    for field, value, problem in (("country_code", "ZZ", "value_error"),
                                  ("country_code", "usa", "string_pattern_mismatch"),
                                  ("name", "N" * 201, "string_too_long"), ("city", "C\x00", "string_pattern_mismatch"),
                                  ("address2", "A" * 301, "string_too_long"), ("phone", "1" * 51, "string_too_long")):
        body = order_body()
        body["ship_to"][field] = value
        r = client.post("/api/v1/orders", json=body)
        assert r.status_code == 422 and _errors(r) == [(["body", "ship_to", field], problem)], (field, value)
    r = client.post("/api/v1/orders", json=order_body(), headers={"Idempotency-Key": "k" * 201})
    assert r.status_code == 422 and _errors(r) == [(["header", "idempotency-key"], "string_too_long")]
    assert counts(app) == before


def test_strings_at_their_limits_are_stored_exactly_on_both_databases(edge):
    app, client, _ = edge
    sku = "é" * 200  # 200 characters, 400 bytes: the column counts characters on both databases
    body = order_body("X" * 100, lines=((sku, 1, "1.00"),), email="e" * 308 + "@example.com")
    body["ship_to"].update(country_code="XK", name="Ñ" * 200, phone="+" + "1" * 49)
    r = client.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "k" * 200})
    assert r.status_code == 201, r.text
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT external_id, email, idempotency_key FROM orders")).one() == (
            "X" * 100, "e" * 308 + "@example.com", "k" * 200)
        assert conn.execute(text("SELECT sku FROM order_lines")).scalar() == sku
    assert client.get(f"/api/v1/orders/{r.json()['id']}").json()["ship_to"]["name"] == "Ñ" * 200


def _order(**changes) -> ExternalOrder:
    line = changes.pop("line", {})
    ship_to = Address(**{"name": "J", "address1": "1 Main", "city": "X", "country_code": "US",
                         **changes.pop("ship_to", {})})
    return ExternalOrder(**{"external_id": "W-1", "currency": "USD", "email": "a@example.com", "ship_to": ship_to,
                            "lines": [ExternalOrderLine(**{"external_id": "L1", "sku": "TEE", "quantity": 1,
                                                           "unit_price": Money(100, "USD"), **line})],
                            **changes})


WEBHOOK_CASES = [
    (_order(email="a" * 5_000_000), "email", "email is longer than 320 characters"),
    (_order(line={"sku": "A\x00B"}), "lines.0.sku", "lines.0.sku must not contain control characters"),
    (_order(line={"sku": "S" * 201}), "lines.0.sku", "lines.0.sku is longer than 200 characters"),
    (_order(line={"title": "T\x00"}), "lines.0.title",
     "lines.0.title must not contain NUL characters or unpaired surrogates"),
    (_order(external_id="E\ud800"), "external_id", "external_id must not contain control characters"),
    (_order(external_id=""), "external_id", "external_id is required"),
    (_order(ship_to={"name": "J\ud800"}), "ship_to.name",
     "ship_to.name must not contain NUL characters or unpaired surrogates"),
    (_order(ship_to={"country_code": "ZZ"}), "ship_to.country_code",
     "ship_to.country_code must be an ISO 3166-1 alpha-2 country code, not 'ZZ'"),
    (_order(ship_to={"city": 12}), "ship_to.city", "ship_to.city must be text"),
    (_order(currency="ZZZ"), "currency", "not an ISO 4217 currency code we know: 'ZZZ'"),
]


def test_webhook_and_pulled_orders_pass_the_same_string_limits(edge):
    app, _, _ = edge
    before = counts(app)
    for ext, field, message in WEBHOOK_CASES:
        with pytest.raises(ValidationError) as refused:
            ingest_order(app.ctx, "shop", ext, source="pull")
        assert (refused.value.field, str(refused.value)) == (field, message)
    assert counts(app) == before


def test_a_signed_webhook_with_a_nul_in_a_sku_stores_no_order_on_either_database(edge):
    from dropbridge.connectors.stores.headless.webhooks import signed_headers

    app, _, _ = edge
    raw = json.dumps(order_body("H-1", lines=(("A\x00B", 1, "1.00"),))).encode()
    headers = signed_headers(STORE_SECRET, "order.created", "dlv-nul", raw, int(app.ctx.clock().timestamp()))
    assert receive_webhook(app.ctx, "store", "shop", headers, raw, "headless") == "accepted"
    before = counts(app)
    with app.engine.connect() as conn:
        event_id = conn.execute(text("SELECT id FROM webhook_events")).scalar()
    with pytest.raises(UnprocessableEvent, match="lines.0.sku must not contain control characters"):
        process_webhook(app.ctx, event_id)
    # no order stored; only the event's failure is recorded (one audit event)
    assert counts(app) == {**before, "audit_events": before["audit_events"] + 1}


def test_feed_cells_no_database_can_store_are_rejected_alike(edge):
    app, _, _ = edge
    data = (b'[{"sku": "A\\u0000B", "qty": 1, "cost": "1.00"}, {"sku": "D\\ud800", "qty": 1, "cost": "1.00"},'
            b' {"sku": "E", "qty": 1, "cost": "1.00", "title": "x\\u0000"}, {"sku": "F\\u0001", "qty": 1, "cost": "1"}'
            + b"".join(b', {"sku": "OK-%d", "qty": 1, "cost": "1.00"}' % n for n in range(100)) + b"]")
    out = sync_feed(app.ctx, "acme", io.BytesIO(data), "acme.json", mode="delta")
    assert out.status == "applied"
    assert out.rejects == [(1, "sku", "column 1 holds a NUL character or an unpaired surrogate"),
                           (2, "sku", "column 1 holds a NUL character or an unpaired surrogate"),
                           (3, None, "column 4 holds a NUL character or an unpaired surrogate"),
                           (4, "sku", "sku holds control characters")]
    with app.engine.connect() as conn:
        skus = conn.execute(text("SELECT supplier_sku FROM supplier_offers ORDER BY supplier_sku")).scalars().all()
        raws = conn.execute(text("SELECT raw FROM sync_run_rejects ORDER BY line")).scalars().all()
    assert skus == sorted(["TEE", *(f"OK-{n}" for n in range(100))])
    assert all("\x00" not in raw for raw in raws)


def test_the_country_table_is_iso_3166_and_currencies_are_known_money():
    assert {c.alpha_2 for c in pycountry.countries} | {"XK"} == limits.COUNTRY_CODES
    assert all(known_currency(c) for c in ("USD", "EUR", "JPY", "KWD", "XOF", "XAF", "CHF"))
    assert not any(known_currency(c) for c in ("ZZZ", "XAU", "XTS", "XXX", "usd", "US", "", "ÜSD"))


def test_catalog_values_too_long_for_their_column_are_left_out_alike(edge):
    app, _, _ = edge
    data = ("sku,qty,cost,title,brand,lead_time_days,weight\n"
            f"TEE,4,8.50,{'T' * 501},{'B' * 200},99999999999999999999,{'1' * 40}\n"
            f"CAP,2,3.00,Cap,{'B' * 201},12,1.5 kg\n").encode()
    out = sync_feed(app.ctx, "acme", io.BytesIO(data), "acme.csv", mode="delta")
    assert out.status == "applied"
    assert out.rejects == [
        (2, "lead_time_days", "99999999999999999999 days is implausibly long (at most 3650)"),
        (2, "title", "title is longer than 500 characters"), (2, "weight", "weight is longer than 30 characters"),
        (3, "brand", "brand is longer than 200 characters")]
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT supplier_sku, stock, lead_time_days FROM supplier_offers "
                                 "ORDER BY supplier_sku")).all() == [("CAP", 2, 12), ("TEE", 4, None)]
