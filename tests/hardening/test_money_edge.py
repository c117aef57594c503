"""Money and numbers at the edge: every amount entering (API, webhooks, feeds, invoices, FX rates) is bounded
(domain/money.py MAX_AMOUNT_MINOR), refused beyond it naming its field, and nothing is stored; SQLite columns
can never hold a non-integer amount or quantity."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from dropbridge.connectors.formats.x12.x12 import X12Error
from dropbridge.domain.errors import UnprocessableEvent, ValidationError
from dropbridge.domain.money import MAX_AMOUNT_MINOR, Money
from dropbridge.domain.routing import Candidate, route_line
from dropbridge.services.fx import import_ecb_csv
from dropbridge.services.inbound_events import process_webhook, receive_webhook
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine
from dropbridge.services.sync_feed import sync_feed

from .conftest import counts, order_body

LIMIT_USD = "amounts are limited to \u00b110,000,000,000,000.00 USD"


def test_api_prices_beyond_the_bound_or_not_finite_are_refused_naming_the_field(edge):
    app, client, _ = edge
    before = counts(app)
    for price in ("1e30", "1e400", "1e999999999", "10000000000000.01", 1e300):
        r = client.post("/api/v1/orders", json=order_body(lines=(("TEE", 1, price),)))
        assert r.status_code == 422, price
        assert r.json()["detail"] == [{"loc": ["body", "lines", "0", "unit_price"], "type": "value_error",
                                       "msg": f"lines.0.unit_price is out of range: {LIMIT_USD}"}], price
    for raw in ('"Infinity"', '"NaN"', "1e400", '"-Infinity"', '"inf"', "-1e400"):
        body = json.dumps(order_body(lines=(("TEE", 1, "__P__"),))).replace('"__P__"', raw)
        r = client.post("/api/v1/orders", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, raw
        assert [(e["loc"], e["type"]) for e in r.json()["detail"]] == [
            (["body", "lines", 0, "unit_price"], "finite_number")], raw
    r = client.post("/api/v1/orders", json=order_body(lines=(("TEE", 1, "-1e30"),)))
    assert [(e["loc"], e["type"]) for e in r.json()["detail"]] == [
        (["body", "lines", 0, "unit_price"], "greater_than_equal")]  # no negative price gets as far as the bound
    assert counts(app) == before


def test_the_largest_price_is_taken_and_its_line_total_is_bounded(edge):
    app, client, _ = edge
    top = "10000000000000.00"  # exactly MAX_AMOUNT_MINOR cents
    before = counts(app)
    r = client.post("/api/v1/orders", json=order_body("E-2", lines=(("TEE", 2, top),)))
    assert r.status_code == 422
    assert r.json()["detail"] == [{"loc": ["body", "lines", "0"], "type": "value_error",
                                   "msg": f"lines.0: unit_price x quantity is out of range: {LIMIT_USD}"}]
    assert counts(app) == before
    r = client.post("/api/v1/orders", json=order_body("E-3", lines=(("TEE", 1, top),)))
    assert r.status_code == 201
    detail = client.get(f"/api/v1/orders/{r.json()['id']}").json()
    assert detail["lines"][0]["unit_price"] == "10000000000000.00"
    margin = client.get("/api/v1/reports/margin", params={"by": "order"})
    assert margin.status_code == 200 and margin.json()["rows"][0]["revenue"] == "10000000000004.00"


def test_a_shipping_price_beyond_the_bound_is_refused(edge):
    app, client, _ = edge
    before = counts(app)
    r = client.post("/api/v1/orders", json=order_body(shipping_price="1e30"))
    assert r.status_code == 422
    assert r.json()["detail"] == [{"loc": ["body", "shipping_price"], "type": "value_error",
                                   "msg": f"shipping_price is out of range: {LIMIT_USD}"}]
    assert counts(app) == before


def test_quantities_are_strict_whole_numbers_in_range(edge):
    app, client, _ = edge
    before = counts(app)
    for quantity, problem in ((True, "int_type"), (1.5, "int_type"), (2.0, "int_type"), ("2", "int_type"),
                              (0, "greater_than_equal"), (100_001, "less_than_equal"), (2**64, "less_than_equal")):
        body = order_body()
        body["lines"][0]["quantity"] = quantity
        r = client.post("/api/v1/orders", json=body)
        assert r.status_code == 422
        assert [(e["loc"], e["type"]) for e in r.json()["detail"]] == [
            (["body", "lines", 0, "quantity"], problem)], quantity
    assert counts(app) == before


def _order(price: Money, quantity=1, **extra) -> ExternalOrder:
    return ExternalOrder(external_id="W-1", currency="USD", email="a@example.com",
                         ship_to=Address(name="J", address1="1 Main", city="X", country_code="US"),
                         lines=[ExternalOrderLine("L1", "TEE", quantity, price)], **extra)


WEBHOOK_ORDERS = [
    (_order(Money(MAX_AMOUNT_MINOR + 1, "USD")), "lines.0.unit_price",
     f"lines.0.unit_price is out of range: {LIMIT_USD}"),
    (_order(Money(MAX_AMOUNT_MINOR, "USD"), 2), "lines.0",
     f"lines.0: unit_price x quantity is out of range: {LIMIT_USD}"),
    (_order(Money(100, "USD"), 10**7), "lines.0.quantity", "lines.0.quantity must be a whole number from 1 to 100000"),
    (_order(Money(100, "USD"), True), "lines.0.quantity", "lines.0.quantity must be a whole number from 1 to 100000"),
    (_order(Money(100, "USD"), shipping_price=Money(-10**16, "USD")), "shipping_price",
     f"shipping_price is out of range: {LIMIT_USD}"),
]


def test_orders_from_webhooks_and_pulls_pass_the_same_bounds(edge):
    """Intake checks every order whatever brought it (the mappings build Money themselves)."""
    app, _, _ = edge
    before = counts(app)
    for ext, field, message in WEBHOOK_ORDERS:
        with pytest.raises(ValidationError) as refused:
            ingest_order(app.ctx, "shop", ext, source="webhook:order.created")
        assert (refused.value.field, str(refused.value)) == (field, message)
    assert counts(app) == before


def test_a_signed_webhook_with_a_huge_price_is_refused_when_processed_and_stores_no_order(edge):
    from dropbridge.connectors.stores.headless.webhooks import signed_headers

    app, _, _ = edge
    payload = order_body("H-1", lines=(("TEE", 1, "1e30"),))
    raw = json.dumps(payload).encode()
    headers = signed_headers("store-secret", "order.created", "dlv-1", raw, int(app.ctx.clock().timestamp()))
    assert receive_webhook(app.ctx, "store", "shop", headers, raw, "headless") == "accepted"
    before = counts(app)
    with app.engine.connect() as conn:
        event_id = conn.execute(text("SELECT id FROM webhook_events")).scalar()
    with pytest.raises(UnprocessableEvent) as refused:  # never readable: one attempt, an alert
        process_webhook(app.ctx, event_id)
    cause = refused.value.__cause__
    assert isinstance(cause, ValidationError) and cause.field == "lines[0].unit_price"
    assert str(cause) == f"lines[0].unit_price is out of range: {LIMIT_USD}"
    # no order, no line, no ledger entry; only the event's failure is recorded (one audit event)
    assert counts(app) == {**before, "audit_events": before["audit_events"] + 1}


FEED_ROWS = [
    ("BIG,5,1e30", "cost", "1E+30 is implausibly large (above 1000000000000000 minor units)"),
    ("BIG,5,1e999999999", "cost", "1E+999999999 is implausibly large (above 1000000000000000 minor units)"),
    ("BIG,5,Infinity", "cost", "'Infinity' is not a number"),
    ("BIG,5,NaN", "cost", "'NaN' is not a number"),
    ("BIG,10000000000,1.00", "qty", "10000000000 is implausibly large"),
    ("BIG,1e3,1.00", "qty", "'1e3' is not a whole number"),
]


def test_feed_rows_beyond_the_bounds_are_rejected_naming_the_field(edge):
    app, _, _ = edge
    rows = "".join(row + "\n" for row, _, _ in FEED_ROWS)
    out = sync_feed(app.ctx, "acme", io.BytesIO(f"sku,qty,cost\nTEE,10,8.50\n{rows}".encode()), "acme.csv",
                    mode="delta")
    assert out.rejects == [(line, field, reason) for line, (_, field, reason) in enumerate(FEED_ROWS, start=3)]
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT supplier_sku, stock, cost_minor FROM supplier_offers")).all() == [
            ("TEE", 10, 850)]


def test_a_feed_at_the_bounds_is_stored_exactly_on_both_databases(edge):
    app, _, _ = edge
    out = sync_feed(app.ctx, "acme", io.BytesIO(b"sku,qty,cost\nTEE,999999999,10000000000000.00\n"), "acme.csv")
    assert (out.status, out.rejects) == ("applied", [])
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT stock, cost_minor FROM supplier_offers")).one() == (999_999_999,
                                                                                              MAX_AMOUNT_MINOR)


def test_fx_rates_are_bounded(edge):
    app, _, _ = edge
    before = counts(app)
    for rate, reason in (("1e400", "is out of range"), ("Infinity", "must be a positive number"),
                         ("NaN", "must be a positive number"), ("0", "must be a positive number"),
                         ("1e10", "is out of range"), ("1e-10", "is out of range"),
                         ("1.0000000000000001", "is out of range")):
        with pytest.raises(ValidationError, match=reason) as refused:
            import_ecb_csv(app.ctx, f"Date, USD, JPY, \n20 November 2026, {rate}, 162.30, \n")
        assert refused.value.field == "USD"
    with pytest.raises(ValidationError, match="'ZZZ' is not an ISO 4217 currency code we know"):
        import_ecb_csv(app.ctx, "Date, ZZZ, \n20 November 2026, 1.5, \n")
    assert counts(app) == before


def test_routing_refuses_an_offer_whose_landed_cost_no_ledger_could_record():
    big = Candidate(offer_id=1, supplier_id=1, supplier="acme", supplier_sku="A", unit_cost=Money(10**14, "USD"),
                    shipping=Money(0, "USD"), stock=100_000, reserved=0)
    decision = route_line(100_000, "USD", [big])
    assert decision.offer_id is None
    assert decision.candidates[0].reason == ("landed cost beyond the largest amount we record (amount is out of "
                                             f"range: {LIMIT_USD})")


def test_invoice_amounts_beyond_the_bound_are_refused():
    from dropbridge.connectors.formats.x12.x12 import Segment
    from dropbridge.connectors.suppliers.edi_x12.mapping import _decimal, _implied2

    with pytest.raises(X12Error, match="IT104 '1E30' is out of range"):
        _decimal(Segment("IT1", ["1", "2", "EA", "1E30"], 0), 4)
    with pytest.raises(X12Error, match="TDS01 '1000000000000000000' is out of range"):
        _implied2(Segment("TDS", ["1000000000000000000"], 0), 1)
    assert _decimal(Segment("IT1", ["1", "2", "EA", "9.50"], 0), 4) == Decimal("9.50")


# ---- storage: integers only ------------------------------------------------------------------------------


def test_sqlite_columns_refuse_non_integer_amounts_on_every_path(edge):
    """Not even a statement that bypasses every check (or the JSON batch insert of group commit) can put a REAL
    or text into a money or quantity column on SQLite. PostgreSQL's BIGINT refuses text and what is out of its
    range (a fraction it would round: no path of ours sends one, the edge makes them integers)."""
    from dropbridge.storage.intake import OrderIntakeRepo

    app, client, _ = edge
    r = client.post("/api/v1/orders", json=order_body("S-1"))
    assert r.status_code == 201
    with app.engine.connect() as conn:
        before = conn.execute(text("SELECT unit_price_minor, quantity FROM order_lines")).all()
    statements = ["UPDATE order_lines SET unit_price_minor = 1e32", "UPDATE ledger_entries SET amount_minor = 'lots'",
                  "UPDATE orders SET shipping_price_minor = 1e19"]
    if app.engine.dialect.name == "sqlite":
        statements += ["UPDATE order_lines SET quantity = 1.5", "UPDATE supplier_offers SET cost_minor = 8.5",
                       "UPDATE supplier_offers SET stock = '12 units'", "UPDATE supplier_offers SET reserved = 0.5"]
    for statement in statements:
        with pytest.raises((IntegrityError, DBAPIError)), app.engine.begin() as conn:
            conn.execute(text(statement))
    if app.engine.dialect.name == "sqlite":
        row = {"store_id": 1, "external_id": "S-2", "idempotency_key": None, "request_hash": None,
               "intake_response": {}, "currency": "USD", "status": "accepted", "email": None, "ship_to": {},
               "shipping_price_minor": 0, "hold_reason": None, "flags": {}, "fx": {},
               "created_at": app.ctx.clock(), "updated_at": app.ctx.clock(), "idx": 0, "audit_detail": {},
               "correlation_id": None}
        line = {"idx": 0, "line_no": 1, "external_id": "1", "sku": "TEE", "quantity": 1, "unit_price_minor": 10**20,
                "status": "pending"}
        with pytest.raises(IntegrityError, match="ck_order_lines_unit_price_minor_integer"), \
                app.engine.begin() as conn:
            OrderIntakeRepo(conn).add_new_orders([row], [line], [], {"kind": "route_order", "key": "route:",
                                                                     "payload": {}, "status": "pending",
                                                                     "attempts": 0, "available_at": row["created_at"],
                                                                     "created_at": row["created_at"],
                                                                     "updated_at": row["created_at"]},
                                                 {"at": row["created_at"], "actor": "t", "action": "a",
                                                  "subject": "order:"})
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT unit_price_minor, quantity FROM order_lines")).all() == before
        assert conn.execute(text("SELECT count(*) FROM orders")).scalar() == 1


def test_the_migration_adds_the_checks_keeps_every_row_and_refuses_rows_to_fix(tmp_path):
    from dropbridge.storage.db import make_engine
    from dropbridge.storage.migrate import upgrade

    def seeded(name: str, price: str):
        engine = make_engine(f"sqlite:///{tmp_path / name}")
        upgrade(engine, "0004")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO stores (name, platform, base_url, config, created_at) "
                              "VALUES ('s', 'headless', '', '{}', '2026-01-01')"))
            conn.execute(text("INSERT INTO orders (store_id, external_id, currency, status, ship_to, "
                              "shipping_price_minor, flags, fx, created_at, updated_at) "
                              "VALUES (1, 'e', 'USD', 'accepted', '{}', 5, '{}', '{}', '2026-01-01', '2026-01-01')"))
            conn.execute(text(f"INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_minor, status) "
                              f"VALUES (1, 1, 'A', 1, {price}, 'pending')"))
            conn.execute(text("INSERT INTO api_tokens (name, token_hash, created_at) "
                              "VALUES ('ci', 'h1', '2026-01-01'), ('ci', 'h2', '2026-01-01')"))
        return engine

    clean = seeded("clean.db", "100")
    upgrade(clean)  # the rebuild of orders must not cascade into its lines
    with clean.connect() as conn:
        assert conn.execute(text("SELECT order_id, unit_price_minor FROM order_lines")).all() == [(1, 100)]
        assert conn.execute(text("SELECT name, scopes FROM api_tokens ORDER BY id")).all() == [
            ("ci", '["admin"]'), ("ci-2", '["admin"]')]
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    corrupt = seeded("corrupt.db", "1e32")
    with pytest.raises(RuntimeError, match=r"order_lines id 1: unit_price_minor = 1e\+32"):
        upgrade(corrupt)
    with corrupt.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
