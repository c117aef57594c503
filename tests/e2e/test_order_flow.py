"""A real order from a headless store to two emulated suppliers and back, on SQLite and PostgreSQL."""

from __future__ import annotations

from dropbridge.services.order_view import list_alerts, margin_report, order_detail

from .helpers import order_body, wait_for


def test_split_order_reroute_tracking_fulfillment_and_margin(world):
    app, api, http, store, sups = world
    r = http.post("/api/v1/orders", json=order_body("1001", [("TEE", 2, "24.00"), ("CAP", 1, "18.00"),
                                                             ("MUG", 2, "12.50")], shipping="5.00"),
                  headers={"Idempotency-Key": "k-1001"})
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]

    def submitted():
        d = order_detail(app.ctx, order_id)
        return d if d["status"] == "submitted" else None

    d = wait_for(submitted)
    by_sku = {ln["sku"]: ln for ln in d["lines"]}
    assert [c["supplier"] for c in by_sku["TEE"]["routing"]["candidates"] if c["chosen"]] == ["acme"]
    assert by_sku["MUG"]["routing"]["candidates"][0]["reason"] == "not enough stock: 0 available, 2 needed"
    assert [c["supplier"] for c in by_sku["MUG"]["routing"]["candidates"] if c["chosen"]] == ["globex"]
    refs = {so["supplier"]: so for so in d["supplier_orders"]}
    assert set(refs) == {"acme", "globex"}
    assert [o["reference"] for o in sups["acme"].orders()] == [refs["acme"]["reference"]]
    assert sorted(i["supplier_sku"] for i in sups["globex"].orders()[0]["items"]) == ["CAP", "MUG"]

    for emu in sups.values():  # the suppliers ship; their signed webhooks reach our API
        emu.ship(emu.orders()[0]["order_id"])
    d = wait_for(lambda: (x := order_detail(app.ctx, order_id))["status"] == "shipped"
                 and all(s["pushed_to_store"] for s in x["shipments"]) and len(x["shipments"]) == 2 and x)
    pushed = sorted(f["tracking_number"] for f in store.fulfillments())
    assert pushed == sorted(s["tracking_number"] for s in d["shipments"])
    assert all(f["order_external_id"] == "1001" for f in store.fulfillments())

    # Revenue 48 + 18 + 25 + 5 shipping = 96.00; costs 17.00 + 4.00 (acme) + 6.00 + 7.80 + 3.50 (globex)
    # + payment fee 2.9% of 96.00 (2.78) + 0.30 = 41.38; margin 54.62.
    assert d["margin"] == {**d["margin"], "revenue_total": "96.00", "cost_total": "41.38", "margin": "54.62"}
    row = next(r for r in margin_report(app.ctx, "order") if r["order"] == "1001")
    assert (row["revenue"], row["costs"], row["margin"]) == ("96.00", "41.38", "54.62")
    assert http.get(f"/api/v1/orders/{order_id}").json()["margin"]["margin"] == "54.62"


def test_same_idempotency_key_three_times_is_one_order(world):
    app, api, http, store, sups = world
    body = order_body("2001", [("TEE", 1, "24.00")])
    responses = [http.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "same-key"}) for _ in range(3)]
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert responses[0].json() == responses[1].json() == responses[2].json()
    assert [r.headers.get("Idempotent-Replayed") for r in responses] == [None, "true", "true"]
    assert [o["external_id"] for o in http.get("/api/v1/orders").json()["orders"]] == ["2001"]
    wait_for(lambda: len(sups["acme"].orders()) == 1)
    other = http.post("/api/v1/orders", json=order_body("2002", [("TEE", 1, "24.00")]),
                      headers={"Idempotency-Key": "same-key"})
    assert other.status_code == 409
    assert "different request" in other.json()["detail"]


def test_malformed_order_gets_422_with_fields_and_stores_nothing(world):
    app, api, http, store, sups = world
    bad = order_body("3001", [("TEE", 0, "24.00")])
    bad["ship_to"]["country_code"] = "usa"
    bad["lines"].append({"sku": "MUG", "quantity": 1, "unit_price": "1.005"})
    r = http.post("/api/v1/orders", json=bad)
    assert r.status_code == 422
    locs = sorted(".".join(map(str, e["loc"])) for e in r.json()["detail"])
    assert locs == ["body.lines.0.quantity", "body.ship_to.country_code"]
    r = http.post("/api/v1/orders", json={**order_body("3002", [("MUG", 1, "1.005")])})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "lines", "0", "unit_price"]
    assert http.get("/api/v1/orders").json()["orders"] == []
    assert http.post("/api/v1/orders", json=order_body("3003", [("TEE", 1, "1")]),
                     headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_order_body_that_is_not_json_or_has_a_long_key_gets_422_and_the_body_is_documented(world):
    app, api, http, store, sups = world
    r = http.post("/api/v1/orders", content=b'{"store": "shop", "lines": [',
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert [(e["type"], e["loc"][0]) for e in r.json()["detail"]] == [("json_invalid", "body")]
    r = http.post("/api/v1/orders", json={**order_body("3101", [("TEE", 1, "1")]), "surprise": 1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "surprise"]
    r = http.post("/api/v1/orders", json=order_body("3102", [("TEE", 1, "1")]), headers={"Idempotency-Key": "k" * 201})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["header", "idempotency-key"]
    assert http.get("/api/v1/orders").json()["orders"] == []
    doc = http.get("/openapi.json").json()
    body = doc["paths"]["/api/v1/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/OrderIn"}
    schemas = doc["components"]["schemas"]
    assert schemas["OrderIn"]["properties"]["ship_to"] == {"$ref": "#/components/schemas/AddressIn"}
    assert {"AddressIn", "OrderLineIn"} <= set(schemas)


def test_unknown_sku_is_kept_on_hold_with_an_alert(world):
    app, api, http, store, sups = world
    r = http.post("/api/v1/orders", json=order_body("4001", [("NOPE", 1, "10.00"), ("TEE", 1, "24.00")]))
    order_id = r.json()["id"]
    d = wait_for(lambda: (x := order_detail(app.ctx, order_id))["status"] == "on_hold" and x)
    assert [(ln["sku"], ln["status"]) for ln in d["lines"]] == [("NOPE", "unroutable"), ("TEE", "routed")]
    assert d["lines"][0]["routing"]["reason"] == "no supplier offers this SKU"
    alerts = [a for a in list_alerts(app.ctx) if a["order_id"] == order_id]
    assert [a["kind"] for a in alerts] == ["order.unroutable"]
    assert "NOPE" in alerts[0]["message"]


def test_supplier_rejection_reroutes_to_next_offer(world):
    app, api, http, store, sups = world
    sups["acme"].inject("reject", count=1)
    r = http.post("/api/v1/orders", json=order_body("5001", [("TEE", 1, "24.00")]))
    order_id = r.json()["id"]
    d = wait_for(lambda: (x := order_detail(app.ctx, order_id))["status"] == "submitted" and x)
    assert [(so["supplier"], so["status"]) for so in d["supplier_orders"]] == [("acme", "rejected"),
                                                                             ("globex", "submitted")]
    assert sups["acme"].orders() == [] and len(sups["globex"].orders()) == 1
    # the acme cost was reversed; only globex's cost stands
    # globex 9.10 + 3.50 shipping + payment fee (2.9% of 24.00 = 0.70, + 0.30)
    assert (d["margin"]["cost_total"], d["margin"]["margin"]) == ("13.60", "10.40")
    kinds = [(e["kind"], e["supplier"], e["amount"]) for e in d["ledger"] if e["supplier"] == "acme"]
    assert sorted(kinds) == sorted([("supplier_cost", "acme", "-8.50"), ("supplier_shipping", "acme", "-4.00"),
                                    ("supplier_cost", "acme", "8.50"), ("supplier_shipping", "acme", "4.00")])


def test_feed_upload_and_rejects_csv_over_the_api(world):
    app, api, http, store, sups = world
    body = b"sku,qty,cost\nTEE,20,8.50\nMUG,x,3.20\nWHT,5,8.00\n"
    r = http.post("/api/v1/suppliers/acme/feeds?mode=delta", files={"file": ("acme.csv", body, "text/csv")})
    assert r.status_code == 422  # one bad row in three is above the 5% threshold: quarantined, not applied
    run = r.json()
    assert (run["status"], run["rejected"], run["rejects"][0]["line"]) == ("quarantined", 1, 3)
    csv_text = http.get(f"/api/v1/sync-runs/{run['id']}/rejects.csv").text
    assert csv_text.splitlines() == ["line,field,reason,raw", "3,qty,'x' is not a whole number,\"MUG,x,3.20\""]
    assert http.get("/api/v1/sync-runs/999999/rejects.csv").status_code == 404
