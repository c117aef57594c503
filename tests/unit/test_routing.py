from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from dropbridge.domain.money import Money
from dropbridge.domain.routing import Candidate, LineRequest, Rules, plan_order, route_line


def cand(offer_id, cost, stock, shipping="0", currency="USD", supplier=None, **kw):
    supplier = supplier or f"s{offer_id}"
    return Candidate(offer_id=offer_id, supplier_id=sum(map(ord, supplier)), supplier=supplier,
                     supplier_sku=f"SKU{offer_id}", unit_cost=Money.parse(cost, currency),
                     shipping=Money.parse(shipping, currency), stock=stock, **kw)


def test_cheapest_landed_cost_wins_with_reasons():
    d = route_line(2, "USD", [cand(1, "8.50", 20, "4.00"), cand(2, "9.10", 30, "3.50")])
    assert d.offer_id == 1 and d.landed_cost == Money(2100, "USD")
    verdicts = {v.offer_id: v for v in d.candidates}
    assert verdicts[1].chosen and verdicts[1].landed_cost == "21.00 USD" and verdicts[1].reason == "lowest landed cost"
    assert verdicts[2].landed_cost == "21.70 USD"
    assert verdicts[2].reason == "landed cost 21.70 USD above 21.00 USD"


def test_out_of_stock_after_buffer_and_reservations_routes_elsewhere():
    d = route_line(2, "USD", [cand(1, "3.20", 3, buffer=1, reserved=1), cand(2, "3.90", 40)])
    assert d.offer_id == 2
    assert d.candidates[0].reason == "not enough stock: 1 available, 2 needed"
    assert not d.candidates[0].eligible


def test_no_offer_and_missing_rate():
    assert route_line(1, "USD", []).reason == "no supplier offers this SKU"
    d = route_line(1, "USD", [cand(1, "3.00", 5, currency="EUR")])
    assert d.offer_id is None and d.reason == "no eligible offer"
    assert d.candidates[0].reason == "no EUR->USD rate to price this offer"


def test_fx_converts_at_the_stored_rate_and_records_it():
    rates = {("EUR", "USD"): Decimal("1.0850")}
    d = route_line(2, "USD", [cand(1, "8.00", 5, "3.00", currency="EUR"), cand(2, "9.50", 5, "3.00")], rates=rates)
    # EUR 19.00 x 1.085 = 20.615 -> 20.62 USD (half-even), against 22.00 USD
    assert d.offer_id == 1 and d.landed_cost == Money(2062, "USD")
    assert d.candidates[0].rate == "1.0850"
    inverse = route_line(1, "EUR", [cand(1, "10.85", 5)], rates=rates)  # USD offer, EUR order: 1 / 1.085
    assert inverse.landed_cost == Money(1000, "EUR")


def test_ships_to_fees_reliability_lead_time():
    d = route_line(1, "USD", [cand(1, "5.00", 5, ships_to=frozenset({"US"})), cand(2, "6.00", 5)], destination="DE")
    assert d.offer_id == 2 and d.candidates[0].reason == "does not ship to DE"
    d = route_line(1, "USD", [cand(1, "5.00", 5, fees=Money(200, "USD")), cand(2, "6.00", 5)])
    assert d.offer_id == 2 and d.candidates[0].landed_cost == "7.00 USD"
    d = route_line(1, "USD", [cand(1, "10.00", 5, reliability=0.8), cand(2, "11.00", 5, reliability=1.0)])
    assert d.offer_id == 2 and d.candidates[0].score == "12.00 USD"
    assert d.candidates[0].reason == "score 12.00 USD above 11.00 USD"
    rules = Rules(lead_time_cost_per_day=Money(50, "USD"))
    d = route_line(1, "USD", [cand(1, "10.00", 5, lead_time_days=9), cand(2, "13.00", 5, lead_time_days=2)],
                   rules=rules)
    assert d.offer_id == 2  # 10 + 4.50 waiting > 13 + 1.00


def test_merchant_rules_and_stale_stock():
    cands = [cand(1, "5.00", 5, supplier="cheap"), cand(2, "6.00", 5, supplier="trusted")]
    assert route_line(1, "USD", cands, rules=Rules(priority=("trusted",))).offer_id == 2
    d = route_line(1, "USD", cands, rules=Rules(excluded=frozenset({"cheap"})))
    assert d.offer_id == 2 and d.candidates[0].reason == "excluded by the merchant's rules"
    d = route_line(1, "USD", cands, rules=Rules(pinned="cheap"))
    assert d.offer_id == 1 and d.candidates[1].reason == "line is pinned to cheap"
    stale = [cand(1, "5.00", 5, feed_age_hours=72, stale_after_hours=48), cand(2, "6.00", 5, feed_age_hours=1,
                                                                               stale_after_hours=48)]
    d = route_line(1, "USD", stale)
    assert d.offer_id == 2 and d.candidates[0].reason == "stock data is stale (72 h old)"


def test_excluded_offer_is_skipped_with_reason():
    d = route_line(1, "USD", [cand(1, "1.00", 5), cand(2, "2.00", 5)], excluded=frozenset({1}))
    assert d.offer_id == 2
    assert d.candidates[0].reason.startswith("excluded")


def test_prefer_single_supplier_saves_the_second_shipping():
    a = [cand(1, "10.00", 5, "5.00", supplier="A"), cand(2, "10.50", 5, "5.00", supplier="B")]
    b = [cand(3, "20.00", 5, "5.00", supplier="A"), cand(4, "19.00", 5, "5.00", supplier="B")]
    lines = [LineRequest(1, 1, a), LineRequest(2, 1, b)]
    split = plan_order(lines, "USD")
    assert (split[1].offer_id, split[2].offer_id) == (1, 4)  # 10 + 5 and 19 + 5: 39.00 in two parcels
    single = plan_order(lines, "USD", rules=Rules(prefer_single_supplier=True))
    assert (single[1].offer_id, single[2].offer_id) == (2, 4)  # B alone: 10.50 + 19 + 5 = 34.50
    assert "one supplier for the whole order: 34.50 USD against 39.00 USD split" in single[1].reason


offers = st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 50), st.integers(0, 800),
                            st.sampled_from([None, 0.5, 0.9, 1.0]), st.sampled_from([None, frozenset({"US"})])),
                  min_size=0, max_size=6)


@given(offers, st.integers(1, 10), st.sampled_from(["US", "FR"]))
def test_invariants_chosen_is_eligible_and_no_better_eligible_offer_skipped(rows, qty, dest):
    cands = [cand(i + 1, str(cost / 100), stock, str(ship / 100), reliability=rel, ships_to=ships)
             for i, (cost, stock, ship, rel, ships) in enumerate(rows)]
    d = route_line(qty, "USD", cands, destination=dest)
    eligible = [c for c in cands if c.available >= qty and (c.ships_to is None or dest in c.ships_to)]
    assert all(v.reason for v in d.candidates)
    if not eligible:
        assert d.offer_id is None and not any(v.chosen for v in d.candidates)
        return
    chosen = next(v for v in d.candidates if v.chosen)
    assert chosen.eligible and chosen.offer_id == d.offer_id
    best = min(Money.parse(v.score.split()[0], "USD").amount for v in d.candidates if v.eligible)
    assert Money.parse(chosen.score.split()[0], "USD").amount == best
    for v in d.candidates:  # every offer that lost says why; none is silently skipped
        assert v.chosen or v.reason != "lowest landed cost"
