"""Unauthenticated paths and resource limits: nothing is read before the token or the signature headers are
known good, every body has a limit, non-UTF-8 bodies get 400, path and query integers are range-checked,
WooCommerce pings store nothing, and /metrics labels by route template."""

from __future__ import annotations

import re
import socket
import time

import pytest
from starlette.testclient import TestClient

from dropbridge.api.app import create_app
from dropbridge.services.connections import add_store
from dropbridge.services.tokens import create_token

from .conftest import asgi_call, counts, order_body

MAX_ID = 2**63 - 1


def test_path_and_query_integers_are_range_checked(edge):
    app, client, _ = edge
    for path in ("/api/v1/orders/9223372036854775808", "/api/v1/orders/0", "/api/v1/orders/-1",
                 "/api/v1/orders/99999999999999999999999999", "/api/v1/sync-runs/9223372036854775808",
                 "/api/v1/sync-runs/0/rejects.csv"):
        r = client.get(path)
        assert r.status_code == 422, path
        assert [e["loc"][0] for e in r.json()["detail"]] == ["path"], path
    assert client.get(f"/api/v1/orders/{MAX_ID}").status_code == 404
    assert client.get(f"/api/v1/sync-runs/{MAX_ID}").json() == {"detail": f"no sync run {MAX_ID}"}
    for path in ("/api/v1/orders", "/api/v1/alerts", "/api/v1/audit"):
        for limit in ("-1", "0", "-9223372036854775809", "9223372036854775808", "1001", "x"):
            r = client.get(path, params={"limit": limit})
            assert r.status_code == 422, (path, limit)
            assert [e["loc"] for e in r.json()["detail"]] == [["query", "limit"]]
    assert client.get("/api/v1/orders", params={"limit": "500"}).status_code == 200
    assert client.get("/api/v1/orders", params={"status": "x" * 31}).status_code == 422


def test_a_body_that_is_not_utf8_gets_400_everywhere(edge):
    app, client, _ = edge
    before = counts(app)
    r = client.post("/api/v1/orders", content=b'{"store": "\xff\xfe"}', headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()) == (400, {"detail": "the request body is not valid UTF-8 (at byte 11)"})
    headers = {"X-Dropbridge-Signature": "sha256=00", "X-Dropbridge-Timestamp": "1", "Content-Type": "application/json"}
    r = client.post("/webhooks/headless/shop", content=b'{"a": "\xc3"}', headers=headers)
    assert (r.status_code, r.json()) == (400, {"detail": "the request body is not valid UTF-8 (at byte 7)"})
    r = client.post("/webhooks/suppliers/acme", content=b"\x80", headers={"X-Signature": "s", "X-Timestamp": "1"})
    assert (r.status_code, r.json()) == (400, {"detail": "the request body is not valid UTF-8 (at byte 0)"})
    assert counts(app) == before


def test_utf8_is_checked_across_chunks(edge):
    app, _, token = edge
    api = create_app(app)
    auth = [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")]
    body = order_body("U-1", lines=(("CAFÉ", 1, "1.00"),))
    raw = __import__("json").dumps(body, ensure_ascii=False).encode()
    cut = raw.index("É".encode()) + 1  # split inside the two bytes of É: still valid
    status, _, _ = asgi_call(api, "POST", "/api/v1/orders", auth, [raw[:cut], raw[cut:]])
    assert status == 201
    before = counts(app)
    status, answer, _ = asgi_call(api, "POST", "/api/v1/orders", auth, [raw[:cut], b"\xff" + raw[cut + 1:]])
    assert (status, answer) == (400, b'{"detail": "the request body is not valid UTF-8 (at byte %d)"}' % (cut - 1))
    status, answer, _ = asgi_call(api, "POST", "/api/v1/orders", auth, [raw[:cut]])  # ends inside É
    assert status == 400 and b"not valid UTF-8" in answer
    assert counts(app) == before


def test_nothing_is_read_before_the_token_or_signature_headers_are_known_good(edge):
    """A 300 MB body announced without a valid token, or without signature headers, is answered from the
    headers: the app pulls no chunk of it."""
    app, _, token = edge
    add_store(app.ctx, "woo", "woocommerce", "http://127.0.0.1:9",
              {"consumer_key": "ck", "consumer_secret": "cs", "webhook_secret": "w"}, {})
    api = create_app(app)
    huge = [(b"content-length", b"314572800"), (b"content-type", b"multipart/form-data; boundary=x")]
    big = [(b"content-length", b"1000000"), (b"content-type", b"application/json")]  # within the body limit
    before = counts(app)
    cases = [
        ("/api/v1/suppliers/acme/feeds", huge, 401, "missing or invalid bearer token"),
        ("/api/v1/suppliers/acme/feeds", [(b"authorization", b"Bearer dbt_wrong"), *huge], 401,
         "missing or invalid bearer token"),
        ("/api/v1/orders", [(b"authorization", b"Basic eDp5"), *huge], 401, "missing or invalid bearer token"),
        ("/webhooks/headless/shop", big, 401, "missing X-Dropbridge-Signature or X-Dropbridge-Timestamp"),
        ("/webhooks/shopify/shop", big, 404, "unknown store 'shop'"),
        ("/webhooks/headless/nobody", big, 404, "unknown store 'nobody'"),
        ("/webhooks/suppliers/acme", big, 401, "missing X-Signature or X-Timestamp"),
        ("/webhooks/woocommerce/woo", [(b"x-wc-webhook-topic", b"order.created"), *big], 401,
         "missing X-WC-Webhook-Signature"),
        ("/webhooks/woocommerce/woo", big, 413, "request body too large: the limit here is 64 bytes"),
        ("/webhooks/headless/shop", huge, 413, "request body too large: the limit here is 1048576 bytes"),
        ("/api/v1/suppliers/acme/feeds", [(b"authorization", f"Bearer {token}".encode()), *huge], 413,
         "request body too large: the limit here is 268435456 bytes"),
        ("/api/v1/orders", [(b"authorization", f"Bearer {token}".encode()), (b"content-length", b"1048577")], 413,
         "request body too large: the limit here is 1048576 bytes"),
    ]
    for path, headers, status, detail in cases:
        got, answer, pulled = asgi_call(api, "POST", path, headers, [b"x" * 65536] * 3)
        assert (got, pulled) == (status, 0), path
        assert __import__("json").loads(answer) == {"detail": detail}, path
    assert counts(app) == before


def test_a_body_streaming_past_its_limit_is_cut_off_with_413(edge):
    app, _, token = edge
    app.settings.max_body_bytes, app.settings.max_upload_bytes = 4096, 16384
    api = create_app(app)
    auth = [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")]
    before = counts(app)
    status, answer, pulled = asgi_call(api, "POST", "/api/v1/orders", auth, [b" " * 1024] * 100)
    assert (status, pulled) == (413, 5)  # the fifth KiB crossed the limit: nothing after it was read
    assert answer == b'{"detail": "request body too large: the limit here is 4096 bytes"}'
    upload = [(b"authorization", f"Bearer {token}".encode()),
              (b"content-type", b"multipart/form-data; boundary=BOUNDARY")]
    part = b'--BOUNDARY\r\nContent-Disposition: form-data; name="file"; filename="f.csv"\r\n\r\nsku,qty,cost\r\n'
    status, answer, pulled = asgi_call(api, "POST", "/api/v1/suppliers/acme/feeds", upload,
                                       [part] + [b"TEE,1,1.00\r\n" * 100] * 100)
    assert (status, pulled) == (413, 15)
    assert answer == b'{"detail": "request body too large: the limit here is 16384 bytes"}'
    feed = part + b"TEE,3,2.00\r\n--BOUNDARY--\r\n"
    status, answer, _ = asgi_call(api, "POST", "/api/v1/suppliers/acme/feeds", upload, [feed[:5000], feed[5000:]])
    assert status == 200, answer  # larger than the default limit would allow for a chunk, fine for uploads
    kept = ("orders", "order_lines", "ledger_entries", "webhook_events", "supplier_offers", "api_tokens")
    assert {k: counts(app)[k] for k in kept} == {k: before[k] for k in kept}


def test_a_real_server_answers_an_announced_300_mb_body_from_its_headers(edge):
    """Over a real socket: the 401 comes back while the 300 MB are still unsent."""
    from dropbridge.sandbox.kit.server import start_server

    app, _, _ = edge
    server = start_server(create_app(app))
    try:
        host, port = re.match(r"http://([\d.]+):(\d+)", server.url).groups()
        for path, status in (("/api/v1/suppliers/acme/feeds", b"401"), ("/webhooks/headless/shop", b"413")):
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 314572800\r\n"
                             "Content-Type: multipart/form-data; boundary=x\r\n\r\n".encode() + b"x" * 65536)
                started = time.monotonic()
                head = sock.recv(4096)
                assert head.split(b" ")[1] == status, head
                assert time.monotonic() - started < 5
    finally:
        server.stop()


def test_woocommerce_pings_are_answered_and_store_nothing(edge):
    app, client, _ = edge
    add_store(app.ctx, "woo", "woocommerce", "http://127.0.0.1:9",
              {"consumer_key": "ck", "consumer_secret": "cs", "webhook_secret": "w"}, {})
    before = counts(app)
    for n in range(20):
        r = client.post("/webhooks/woocommerce/woo", content=f"webhook_id={n}",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert (r.status_code, r.json()) == (200, {"status": "ignored"})
    r = client.post("/webhooks/woocommerce/woo", content="webhook_id=1&x=2",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (r.status_code, r.json()) == (401, {"detail": "missing X-WC-Webhook-Signature"})
    assert counts(app) == before


def test_metrics_are_labelled_by_route_template(edge):
    app, client, _ = edge
    client.get("/api/v1/orders/1")
    client.get("/api/v1/orders/2")
    for n in range(5):
        client.get(f"/random-{n}/path")
        client.post(f"/webhooks/x{n}/y{n}/z")
    text = client.get("/metrics").text
    routes = set(re.findall(r'dropbridge_http_request_seconds_count\{route="([^"]*)"\}', text))
    assert routes == {"/api/v1/orders/{order_id}", "unmatched"}  # /metrics itself is counted once it is done
    assert re.search(r'dropbridge_http_request_seconds_count\{route="unmatched"\} 10\.0', text)


def test_a_token_is_refused_with_401_before_any_endpoint(edge):
    app, _, _ = edge
    with TestClient(create_app(app)) as anonymous:
        for method, path in (("GET", "/api/v1/orders"), ("POST", "/api/v1/orders"), ("GET", "/api/v1/nothing-here")):
            r = anonymous.request(method, path)
            assert (r.status_code, r.json(), r.headers["www-authenticate"]) == (
                401, {"detail": "missing or invalid bearer token"}, "Bearer")
        token = create_token(app.ctx, "lower")
        for scheme in ("bearer", "BEARER", "Bearer", "bEaReR"):
            assert anonymous.get("/api/v1/orders", headers={"Authorization": f"{scheme} {token}"}).status_code == 200
        assert anonymous.get("/api/v1/orders", headers={"Authorization": f"Token {token}"}).status_code == 401
        assert anonymous.get("/api/v1/orders", headers={"Authorization": "Bearer"}).status_code == 401


@pytest.mark.parametrize("size", [1_048_576])
def test_the_default_limit_still_takes_a_largest_order(edge, size):
    app, client, _ = edge
    lines = tuple((f"SKU-{n}", 1, "1.00") for n in range(500))
    body = order_body("BIG-1", lines=lines)
    assert len(__import__("json").dumps(body)) < size
    assert client.post("/api/v1/orders", json=body).status_code == 201
