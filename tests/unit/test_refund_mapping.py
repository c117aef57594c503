"""Each platform's refund shape (storefronts.md §1.2.1, §2.2.1, §3.2.2) to ExternalRefund: lines named by the
platform's own ids, shipping apart, tax apart, what no line holds on the order as a whole."""

from __future__ import annotations

import pytest

from dropbridge.connectors.stores.bigcommerce.mapping import refund_from_bc
from dropbridge.connectors.stores.shopify.mapping import order_from_rest, refund_from_rest
from dropbridge.connectors.stores.woocommerce.mapping import refund_from_wc
from dropbridge.domain.money import Money


def usd(minor: int) -> Money:
    return Money(minor, "USD")


SHOPIFY_REFUND = {
    "id": 509562969, "admin_graphql_api_id": "gid://shopify/Refund/509562969", "order_id": 450789469,
    "created_at": "2026-01-12T10:00:00-05:00", "note": "damaged",
    "refund_line_items": [{"id": 1, "quantity": 1, "line_item_id": 466157049, "subtotal": "199.00",
                           "total_tax": "11.94", "line_item": {"id": 466157049}}],
    "order_adjustments": [{"id": 2, "kind": "shipping_refund", "amount": "-5.00", "tax_amount": "-0.30"},
                          {"id": 3, "kind": "refund_discrepancy", "amount": "-1.50", "tax_amount": "0.00"}],
    "transactions": [{"id": 3, "kind": "refund", "amount": "217.74", "currency": "USD"}],
}


def test_shopify_refund_alone_and_inside_its_order():
    r = refund_from_rest(SHOPIFY_REFUND)
    assert (r.external_id, r.order_external_id, r.currency) == (
        "gid://shopify/Refund/509562969", "gid://shopify/Order/450789469", "USD")
    (line,) = r.lines
    assert (line.line_external_id, line.quantity, line.amount, line.tax) == (
        "gid://shopify/LineItem/466157049", 1, usd(19900), usd(1194))
    assert (r.shipping, r.shipping_tax, r.other, r.other_tax) == (usd(500), usd(30), usd(150), None)
    assert r.reason == "damaged"
    order = order_from_rest({"id": 450789469, "currency": "USD", "total_price": "409.94", "line_items": [],
                             "taxes_included": True, "refunds": [SHOPIFY_REFUND]})
    assert order.refunds[0].lines == r.lines and order.refunds[0].taxes_included is True


def test_shopify_refund_without_a_currency_is_refused():
    with pytest.raises(ValueError, match="no currency"):
        refund_from_rest({**SHOPIFY_REFUND, "transactions": []})


def test_woocommerce_refund_lines_shipping_and_an_amount_beyond_them():
    r = refund_from_wc(727, "usd", {
        "id": 730, "date_created_gmt": "2026-01-12T15:00:00", "amount": "40.00", "reason": "late",
        "line_items": [{"id": 900, "quantity": -1, "total": "-12.00", "total_tax": "-0.90",
                        "meta_data": [{"key": "_refunded_item_id", "value": "316"}]}],
        "shipping_lines": [{"id": 901, "total": "-10.00", "total_tax": "0.00",
                            "meta_data": [{"key": "_refunded_item_id", "value": "317"}]}]})
    assert (r.external_id, r.order_external_id, r.currency) == ("730", "727", "USD")
    (line,) = r.lines
    assert (line.line_external_id, line.quantity, line.amount, line.tax) == ("316", 1, usd(1200), usd(90))
    assert (r.shipping, r.shipping_tax, r.other) == (usd(1000), None, usd(40_00 - 12_00 - 90 - 10_00))


def test_woocommerce_amount_only_refund_is_on_the_order():
    r = refund_from_wc(727, "USD", {"id": 731, "amount": "5.00", "reason": "", "line_items": []})
    assert (r.lines, r.shipping, r.other) == ((), None, usd(500))


def test_bigcommerce_product_by_quantity_shipping_and_order_items():
    products = [{"id": 55, "quantity": 2, "total_ex_tax": "48.0000", "total_tax": "4.8000"}]
    r = refund_from_bc({"id": 9, "order_id": 250, "created": "2026-01-12T15:00:00+00:00", "reason": "r",
                        "total_amount": 36.9, "total_tax": 2.9,
                        "items": [{"item_type": "PRODUCT", "item_id": 55, "quantity": 1, "requested_amount": None},
                                  {"item_type": "SHIPPING", "item_id": 7, "requested_amount": "5.00"},
                                  {"item_type": "ORDER", "item_id": 250, "requested_amount": "5.00"}]},
                       products, "USD")
    (line,) = r.lines
    assert (line.line_external_id, line.quantity, line.amount, line.tax) == ("55", 1, usd(2400), usd(240))
    # The refund's tax beyond the product's (0.50) goes with the shipping.
    assert (r.shipping, r.shipping_tax, r.other, r.other_tax) == (usd(500), usd(50), usd(500), None)
    assert (r.external_id, r.order_external_id) == ("9", "250")
