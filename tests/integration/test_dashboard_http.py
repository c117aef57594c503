"""The dashboard over HTTP (no browser): the login wall, sessions, the rate limit on logins, roles on every
action, CSRF on every form, offline API docs and the operational metrics."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from dropbridge.api.app import create_app
from dropbridge.services.records import raise_alert
from dropbridge.services.users import add_user, remove_user, set_password

PAGES = ["/", "/orders", "/suppliers", "/products", "/margins", "/alerts", "/audit", "/settings"]


@pytest.fixture
def client(app):
    add_user(app.ctx, "owner@shop.test", "owner", "owner-password-1")
    add_user(app.ctx, "viewer@shop.test", "viewer", "viewer-password-1")
    with TestClient(create_app(app), follow_redirects=False) as c:
        yield c


def _csrf(c) -> str:
    c.get("/login")
    return c.cookies.get("dropbridge_csrf")


def login(c, email, password, address_ok=True):
    return c.post("/login", data={"csrftoken": _csrf(c), "email": email, "password": password, "next": "/orders"})


def _alert(app) -> int:
    with app.ctx.uow() as uow:
        alert = raise_alert(uow, app.ctx, "feed.quarantined", "feed acme quarantined")
        uow.commit()
        return alert.id


def _open_alerts(app):
    with app.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM alerts WHERE resolved_at IS NULL")).scalar()


def test_every_page_sends_strangers_to_the_login(client):
    for path in [*PAGES, "/orders/1", "/sync-runs/1/rejects.csv", "/margins.csv"]:
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path


def test_login_sets_a_safe_session_cookie_and_every_page_renders(client, app):
    r = login(client, "OWNER@shop.test", "owner-password-1")
    assert r.status_code == 303 and r.headers["location"] == "/orders"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("dropbridge_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # plain http here
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        # No asset from the internet: every src/href is local (or an in-page link).
        assert not re.findall(r'(?:src|href)="(?:https?:)?//', page.text), path
    margins = client.get("/margins.csv?by=store")
    assert margins.status_code == 200 and margins.text.startswith("store,currency,revenue")
    client.post("/logout", data={"csrftoken": client.cookies.get("dropbridge_csrf")})
    assert client.get("/").status_code == 303


def test_logins_are_rate_limited_per_account(client):
    for _ in range(5):
        assert login(client, "owner@shop.test", "wrong-password").status_code == 401
    limited = login(client, "owner@shop.test", "owner-password-1")  # right password, too late
    assert limited.status_code == 429 and "too many failed logins" in limited.text
    assert "dropbridge_session" not in limited.headers.get("set-cookie", "")
    assert login(client, "viewer@shop.test", "viewer-password-1").status_code == 303  # other accounts unaffected


def test_logins_are_rate_limited_per_address(client):
    for i in range(20):
        assert login(client, f"nobody{i}@shop.test", "wrong-password").status_code == 401
    assert login(client, "owner@shop.test", "owner-password-1").status_code == 429


def test_a_viewer_sees_but_cannot_act(client, app):
    alert_id = _alert(app)
    login(client, "viewer@shop.test", "viewer-password-1")
    page = client.get("/alerts")
    assert page.status_code == 200 and "feed acme quarantined" in page.text and "Resolve" not in page.text
    token = client.cookies.get("dropbridge_csrf")
    for path, data in [("/alerts/resolve", {"alert_id": alert_id}), ("/orders/1/retry", {}),
                       ("/settings/users", {"email": "x@y.z", "role": "owner", "password": "0123456789ab"}),
                       ("/settings/tokens", {"name": "x"})]:
        r = client.post(path, data={"csrftoken": token, **data})
        assert r.status_code == 403 and "can see this dashboard but not" in r.text, path
    assert _open_alerts(app) == 1
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar() == 2
        assert conn.execute(text("SELECT count(*) FROM api_tokens")).scalar() == 0


def test_a_form_without_its_csrf_token_is_refused(client, app):
    alert_id = _alert(app)
    login(client, "owner@shop.test", "owner-password-1")
    r = client.post("/alerts/resolve", data={"alert_id": alert_id})
    assert r.status_code == 403 and "security token" in r.text
    r = client.post("/alerts/resolve", data={"csrftoken": "forged", "alert_id": alert_id})
    assert r.status_code == 403
    assert _open_alerts(app) == 1
    r = client.post("/alerts/resolve", data={"csrftoken": client.cookies.get("dropbridge_csrf"),
                                             "alert_id": alert_id, "resolution": "fixed"})
    assert r.status_code == 303 and _open_alerts(app) == 0


def test_sessions_end_when_the_password_changes_or_the_user_goes(client, app):
    login(client, "viewer@shop.test", "viewer-password-1")
    assert client.get("/").status_code == 200
    set_password(app.ctx, "viewer@shop.test", "another-password-2")
    assert client.get("/").status_code == 303
    login(client, "viewer@shop.test", "another-password-2")
    assert client.get("/").status_code == 200
    remove_user(app.ctx, "viewer@shop.test")
    assert client.get("/").status_code == 303


def test_owner_creates_and_revokes_an_api_token_shown_once(client, app):
    login(client, "owner@shop.test", "owner-password-1")
    token = client.cookies.get("dropbridge_csrf")
    page = client.post("/settings/tokens", data={"csrftoken": token, "name": "erp"})
    shown = re.search(r'<code id="new-token">(dbt_[^<]+)</code>', page.text).group(1)
    api = client.get("/api/v1/orders", headers={"Authorization": f"Bearer {shown}"})
    assert api.status_code == 200
    assert shown not in client.get("/settings").text
    client.post("/settings/tokens/revoke", data={"csrftoken": token, "name": "erp"})
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM api_tokens")).scalar() == 0


def test_api_docs_are_served_from_local_assets(client):
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        assert not re.findall(r'(?:src|href)="(?:https?:)?//', page.text), path
        for asset in re.findall(r'(?:src|href)="(/[^"]+)"', page.text):
            assert client.get(asset).status_code == 200, asset


def test_metrics_show_backlog_supplier_orders_alerts_and_feed_age(client, app):
    _alert(app)
    body = client.get("/metrics").text
    assert 'dropbridge_alerts_open{kind="feed.quarantined"} 1.0' in body
    for name in ("dropbridge_jobs_pending", "dropbridge_supplier_orders", "dropbridge_feed_age_seconds",
                 "dropbridge_jobs_oldest_pending_seconds"):
        assert f"# TYPE {name} gauge" in body


def test_a_feed_upload_without_its_csrf_token_is_refused_and_nothing_is_synced(client, app):
    from dropbridge.services.connections import add_supplier

    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
    login(client, "owner@shop.test", "owner-password-1")
    feed = {"file": ("acme.csv", b"sku,qty,cost\nTEE,3,1.00\n", "text/csv")}
    assert client.post("/suppliers/acme/feeds", files=feed, data={"mode": "full"}).status_code == 403
    assert client.post("/suppliers/acme/feeds", files=feed, data={"csrftoken": "x", "mode": "full"}).status_code == 403
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sync_runs")).scalar() == 0
    ok = client.post("/suppliers/acme/feeds", files=feed,
                     data={"csrftoken": client.cookies.get("dropbridge_csrf"), "mode": "full"})
    assert ok.status_code == 303 and ok.headers["location"].startswith("/sync-runs/1")


def test_a_nul_in_the_address_is_refused_alike_on_both_databases(client):
    # PostgreSQL refuses a NUL in text (a 500 from any search), SQLite would search for it: both answer 400.
    login(client, "owner@shop.test", "owner-password-1")
    for path in ["/orders?q=%00x", "/products?q=a%00", "/audit?q=%00", "/suppliers/ac%00me", "/suppliers/acme?q=%00"]:
        r = client.get(path)
        assert r.status_code == 400 and "NUL" in r.text, (path, r.status_code)
    assert client.get("/orders?q=plain").status_code == 200
