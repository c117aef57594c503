from hypothesis import given
from hypothesis import strategies as st

from dropbridge.domain.money import Money
from dropbridge.domain.routing import Candidate, route_line


def cand(offer_id, cost, stock, shipping="0", currency="USD", reserved=0, buffer=0, supplier=None):
    return Candidate(offer_id=offer_id, supplier_id=offer_id * 10, supplier=supplier or f"s{offer_id}",
                     supplier_sku=f"SKU{offer_id}", unit_cost=Money.parse(cost, currency),
                     shipping=Money.parse(shipping, currency), stock=stock, reserved=reserved, buffer=buffer)


def test_cheapest_landed_cost_wins_with_reasons():
    d = route_line(2, "USD", [cand(1, "8.50", 20, "4.00"), cand(2, "9.10", 30, "3.50")])
    assert d.offer_id == 1
    verdicts = {v.offer_id: v for v in d.candidates}
    assert verdicts[1].chosen and verdicts[1].landed_cost == "21.00 USD" and verdicts[1].reason == "lowest landed cost"
    assert verdicts[2].landed_cost == "21.70 USD"
    assert verdicts[2].reason == "landed cost 21.70 USD above 21.00 USD"


def test_out_of_stock_after_buffer_and_reservations_routes_elsewhere():
    d = route_line(2, "USD", [cand(1, "3.20", 3, buffer=1, reserved=1), cand(2, "3.90", 40)])
    assert d.offer_id == 2
    assert d.candidates[0].reason == "not enough stock: 1 available, 2 needed"
    assert not d.candidates[0].eligible


def test_no_offer_and_currency_mismatch():
    assert route_line(1, "USD", []).reason == "no supplier offers this SKU"
    d = route_line(1, "USD", [cand(1, "3.00", 5, currency="EUR")])
    assert d.offer_id is None and d.reason == "no eligible offer"
    assert d.candidates[0].reason == "cannot price EUR offer in order currency USD"


def test_excluded_offer_is_skipped_with_reason():
    d = route_line(1, "USD", [cand(1, "1.00", 5), cand(2, "2.00", 5)], excluded=frozenset({1}))
    assert d.offer_id == 2
    assert d.candidates[0].reason.startswith("excluded")


offers = st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 50), st.integers(0, 800)), min_size=0, max_size=6)


@given(offers, st.integers(1, 10))
def test_invariants_chosen_is_eligible_and_no_cheaper_eligible_skipped(rows, qty):
    cands = [cand(i + 1, str(cost / 100), stock, str(ship / 100)) for i, (cost, stock, ship) in enumerate(rows)]
    d = route_line(qty, "USD", cands)
    eligible = [c for c in cands if c.available >= qty]
    if not eligible:
        assert d.offer_id is None
        return
    chosen = next(c for c in cands if c.offer_id == d.offer_id)
    assert chosen.available >= qty
    best = min((c.unit_cost * qty + c.shipping).amount for c in eligible)
    assert (chosen.unit_cost * qty + chosen.shipping).amount == best
    assert all(v.reason for v in d.candidates)
    assert sum(v.chosen for v in d.candidates) == 1
