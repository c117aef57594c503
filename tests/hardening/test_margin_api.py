"""The margin report over HTTP, and tax and discounts as a headless store sends them."""

from __future__ import annotations

from .conftest import order_body


def test_tax_and_discounts_from_the_api_and_the_report_by_period(edge):
    app, client, _ = edge
    body = order_body("T-1", lines=(("TEE", 2, "24.00"),), total_tax="4.14", taxes_included=False)
    body["lines"][0].update(discount="2.00", tax="3.68")
    assert client.post("/api/v1/orders", json=body).status_code == 201
    r = client.get("/api/v1/reports/margin", params={"by": "month"})
    assert r.status_code == 200
    report = r.json()
    assert report["columns"]["revenue"] == "revenue (net of tax)"
    (row,) = report["rows"]
    # 2 x 24.00 - 2.00 + 4.00 shipping = 50.00; tax 3.68 on the line + 0.46 beyond it; payment fee on 54.14.
    assert (row["basis"], row["revenue"], row["tax_collected"], row["costs"]) == ("pending", "50.00", "4.14", "1.87")
    assert report["totals"] == [{**row, "month": "TOTAL"}]
    assert client.get("/api/v1/reports/margin", params={"to": "2000-01-01"}).json()["rows"] == []
    assert client.get("/api/v1/reports/margin", params={"from": "2999-01-01"}).json()["rows"] == []
    assert client.get("/api/v1/reports/margin", params={"from": "yesterday"}).status_code == 422
    assert client.get("/api/v1/reports/margin", params={"from": "2025-02-02", "to": "2025-02-01"}).status_code == 422
    assert client.get("/api/v1/reports/margin", params={"by": "supplier"}).json()["columns"] == {
        "supplier": "supplier", "basis": "basis", "currency": "currency", "goods_cost": "goods cost",
        "shipping_cost": "shipping cost", "fees": "fees and commission",
        "cost_variance": "variance (stated - estimate)", "total_cost": "total cost"}


def test_a_tax_beyond_the_bound_is_refused_naming_its_field(edge):
    _, client, _ = edge
    body = order_body("T-2")
    body["lines"][0]["tax"] = "1e30"
    r = client.post("/api/v1/orders", json=body)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "lines", "0", "tax"]
