"""Token scopes and limits: every endpoint needs its scope (403 naming it), a token limited to named stores or
suppliers touches nothing else, names are unique, and `dropbridge token create|list|revoke` work as documented."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from starlette.testclient import TestClient

from dropbridge.api.app import create_app
from dropbridge.domain.errors import Conflict, NotFound, ValidationError
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.sync_feed import sync_feed
from dropbridge.services.tokens import check_token, create_token, list_tokens, revoke_token

from .conftest import asgi_call, counts, order_body


@pytest.fixture
def two_of_each(edge):
    app, client, admin = edge
    add_store(app.ctx, "other", "headless", "http://127.0.0.1:9", {"webhook_secret": "o"}, {})
    add_supplier(app.ctx, "globex", "rest", "http://127.0.0.1:9", {"api_key": "g"}, {"currency": "USD"})
    sync_feed(app.ctx, "globex", io.BytesIO(b"sku,qty,cost\nMUG,5,3.00\n"), "globex.csv")
    for store, external_id in (("shop", "S-1"), ("other", "O-1")):
        assert client.post("/api/v1/orders", json={**order_body(external_id), "store": store}).status_code == 201
    return app, client


def _as(app, token):
    return TestClient(create_app(app), headers={"Authorization": f"Bearer {token}"})


def test_each_endpoint_needs_its_scope(two_of_each):
    app, _ = two_of_each
    reader = create_token(app.ctx, "reader", ["read"])
    writer = create_token(app.ctx, "writer", ["orders:write"])
    feeder = create_token(app.ctx, "feeder", ["feeds:write"])
    before = counts(app)
    with _as(app, reader) as r, _as(app, writer) as w, _as(app, feeder) as f:
        assert r.get("/api/v1/orders").status_code == 200
        assert r.get("/api/v1/orders/1").status_code == 200
        assert r.get("/api/v1/reports/margin").status_code == 200
        assert r.get("/api/v1/alerts").status_code == 200
        assert r.get("/api/v1/sync-runs/1").status_code == 200
        refused = r.post("/api/v1/orders", json=order_body("R-1"))
        assert (refused.status_code, refused.json()) == (
            403, {"detail": "token 'reader' lacks the 'orders:write' scope (it has: read)"})
        assert r.get("/api/v1/audit").json() == {"detail": "token 'reader' lacks the 'admin' scope (it has: read)"}
        assert w.post("/api/v1/orders", json=order_body("W-1")).status_code == 201
        assert w.get("/api/v1/orders").json() == {
            "detail": "token 'writer' lacks the 'read' scope (it has: orders:write)"}
        assert f.get("/api/v1/orders/1").status_code == 403
        upload = f.post("/api/v1/suppliers/acme/feeds", files={"file": ("f.csv", b"sku,qty,cost\nTEE,9,8.50\n")})
        assert upload.status_code == 200 and upload.json()["status"] == "applied"
        assert r.post("/api/v1/suppliers/acme/feeds", files={"file": ("f.csv", b"x")}).json() == {
            "detail": "token 'reader' lacks the 'feeds:write' scope (it has: read)"}
    after = counts(app)
    assert after["orders"] == before["orders"] + 1  # only the writer's order


def test_a_token_without_the_scope_is_refused_before_its_upload_is_read(two_of_each):
    app, _ = two_of_each
    reader = create_token(app.ctx, "reader", ["read"])
    limited = create_token(app.ctx, "acme-feeder", ["feeds:write"], suppliers=["acme"])
    api = create_app(app)
    upload = [(b"content-type", b"multipart/form-data; boundary=x"), (b"content-length", b"100000000")]
    for token, path, detail in (
            (reader, "/api/v1/suppliers/acme/feeds", "token 'reader' lacks the 'feeds:write' scope (it has: read)"),
            (limited, "/api/v1/suppliers/globex/feeds", "token 'acme-feeder' may not use supplier 'globex'")):
        status, answer, pulled = asgi_call(api, "POST", path, [(b"authorization", f"Bearer {token}".encode()),
                                                                *upload], [b"x" * 65536] * 3)
        assert (status, json.loads(answer), pulled) == (403, {"detail": detail}, 0)


def test_a_token_limited_to_a_store_sees_and_writes_only_that_store(two_of_each):
    app, _ = two_of_each
    shop_front = create_token(app.ctx, "shop-front", ["orders:write", "read"], stores=["shop"])
    before = counts(app)
    with _as(app, shop_front) as c:
        assert c.post("/api/v1/orders", json=order_body("S-2")).status_code == 201
        refused = c.post("/api/v1/orders", json={**order_body("O-2"), "store": "other"})
        assert (refused.status_code, refused.json()) == (
            403, {"detail": "token 'shop-front' may not use store 'other'"})
        assert {o["store"] for o in c.get("/api/v1/orders").json()["orders"]} == {"shop"}
        other_id = next(o["id"] for o in c.get("/api/v1/orders").json()["orders"] if o["external_id"] == "S-1")
        assert c.get(f"/api/v1/orders/{other_id}").status_code == 200
        assert c.get("/api/v1/orders/2").json() == {"detail": "token 'shop-front' may not use store 'other'"}
        for path, what in (("/api/v1/reports/margin", "the margin report"), ("/api/v1/alerts", "the alert list")):
            assert c.get(path).json() == {"detail": f"token 'shop-front' is limited to named stores or suppliers; "
                                                    f"{what} spans all of them"}
        assert c.get("/api/v1/sync-runs/1").json() == {"detail": "token 'shop-front' may not use supplier 'acme'"}
    assert counts(app)["orders"] == before["orders"] + 1


def test_a_token_name_taken_between_the_check_and_the_commit_is_a_conflict(edge, monkeypatch):
    """The unique key catches what the name check missed (a concurrent create): a Conflict, nothing kept."""
    from dropbridge.storage.repositories import TokenRepo

    app, _, _ = edge
    create_token(app.ctx, "ci")
    before = counts(app)
    monkeypatch.setattr(TokenRepo, "by_name", lambda self, name: None)  # the check sees no token yet
    with pytest.raises(Conflict) as exc:
        create_token(app.ctx, "ci", ["read"])
    assert type(exc.value) is Conflict
    assert str(exc.value) == "a token named 'ci' already exists (revoke it first)"
    monkeypatch.undo()
    assert counts(app) == before
    assert [t["name"] for t in list_tokens(app.ctx)].count("ci") == 1


def test_token_names_are_unique_and_scopes_and_limits_are_checked(edge):
    app, _, _ = edge
    create_token(app.ctx, "ci")
    before = counts(app)
    with pytest.raises(Conflict, match="a token named 'ci' already exists"):
        create_token(app.ctx, "ci", ["read"])
    with pytest.raises(ValidationError, match="unknown scope 'write'; scopes are read, orders:write, feeds:write"):
        create_token(app.ctx, "x", ["write"])
    with pytest.raises(ValidationError, match="no store named 'nowhere'"):
        create_token(app.ctx, "y", ["read"], stores=["nowhere"])
    with pytest.raises(ValidationError, match="name must not contain control characters"):
        create_token(app.ctx, "bad\x00name")
    assert counts(app) == before
    assert [(t["name"], t["scopes"], t["stores"]) for t in list_tokens(app.ctx)] == [
        ("admin", ["admin"], None), ("ci", ["admin"], None)]
    token = create_token(app.ctx, "tmp", ["read"], suppliers=["acme"])
    principal = check_token(app.ctx, token)
    assert (principal, principal.scopes, principal.stores, principal.suppliers) == (
        "tmp", frozenset({"read"}), frozenset(), frozenset({"acme"}))
    revoke_token(app.ctx, "tmp")
    assert check_token(app.ctx, token) is None
    with pytest.raises(NotFound, match="no token named 'tmp'"):
        revoke_token(app.ctx, "tmp")


def test_the_token_commands(db_url, tmp_path):
    env = {**os.environ, "DROPBRIDGE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200",
           "DROPBRIDGE_DATABASE_URL": db_url, "DROPBRIDGE_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
           "DROPBRIDGE_SECRET_KEYS": Fernet.generate_key().decode()}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "dropbridge.cli", *args], env=env, capture_output=True,
                              text=True, timeout=120)

    assert cli("init").returncode == 0
    created = cli("token", "create", "ci", "--scope", "read", "--scope", "orders:write")
    assert created.returncode == 0 and created.stdout.strip().startswith("dbt_")
    again = cli("token", "create", "ci")
    assert (again.returncode, again.stderr.strip().splitlines()) == (
        2, ["error: a token named 'ci' already exists (revoke it first)"])
    bogus = cli("token", "create", "x", "--scope", "everything")
    assert bogus.returncode == 2 and "'everything' is not one of" in bogus.stderr
    assert cli("token", "create", "ops").returncode == 0
    listed = cli("token", "list").stdout
    rows = [[cell.strip() for cell in line.split("│")[1:5]] for line in listed.splitlines() if line.startswith("│")]
    assert rows == [["ci", "orders:write read", "all", "all"], ["ops", "admin", "all", "all"]]
    assert "dbt_" not in listed
    revoked = cli("token", "revoke", "ci")
    assert (revoked.returncode, revoked.stdout.strip()) == (0, "token ci revoked")
    gone = cli("token", "revoke", "ci")
    assert (gone.returncode, gone.stderr.strip()) == (2, "error: no token named 'ci'")
    assert "ci" not in cli("token", "list").stdout
