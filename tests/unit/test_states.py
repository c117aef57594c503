import pytest
from hypothesis import given
from hypothesis import strategies as st

from dropbridge.domain.errors import IllegalTransition
from dropbridge.domain.states import TRANSITIONS, OrderStatus, SupplierOrderStatus, advance, can_advance


def test_happy_path_order():
    s = OrderStatus.ACCEPTED
    for nxt in (OrderStatus.ROUTED, OrderStatus.SUBMITTED, OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        s = advance("order", s, nxt)
    assert s == OrderStatus.DELIVERED


def test_illegal_transitions_raise():
    with pytest.raises(IllegalTransition, match="'shipped' to 'accepted'"):
        advance("order", OrderStatus.SHIPPED, OrderStatus.ACCEPTED)
    with pytest.raises(IllegalTransition):
        advance("supplier order", SupplierOrderStatus.SHIPPED, SupplierOrderStatus.PENDING)
    with pytest.raises(IllegalTransition):
        advance("supplier order", SupplierOrderStatus.REJECTED, SupplierOrderStatus.SUBMITTED)


@pytest.mark.parametrize("kind", sorted(TRANSITIONS))
def test_every_transition_leads_to_a_known_state(kind):
    table = TRANSITIONS[kind]
    for status, targets in table.items():
        assert targets <= set(table), f"{status} leads outside the state set"


@given(st.data())
def test_random_walks_only_take_allowed_edges(data):
    kind = data.draw(st.sampled_from(sorted(TRANSITIONS)))
    table = TRANSITIONS[kind]
    status = next(iter(table))
    for _ in range(20):
        target = data.draw(st.sampled_from(list(table)))
        if can_advance(kind, status, target):
            status = advance(kind, status, target)
        else:
            with pytest.raises(IllegalTransition):
                advance(kind, status, target)
        assert status in table
