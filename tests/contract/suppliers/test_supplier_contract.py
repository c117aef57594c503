"""The supplier contract: every kind that takes orders, against its emulator over real HTTP (or its real
transport), through the connector the registry builds from the emulator's own connection JSON."""

from __future__ import annotations

import pytest

from dropbridge.connectors.registry import Registry
from dropbridge.domain.errors import RateLimited, RetryableError
from dropbridge.domain.money import Money
from dropbridge.services.ports import (
    CANNOT_KNOW,
    Address,
    Capability,
    Placement,
    SupplierOrderItem,
    SupplierOrderLineRequest,
    SupplierOrderRequest,
)
from tests.contract.suppliers.harness import harness_params, skip_unless_faults

SHIP_TO = Address(name="Jane Doe", address1="1 Main St", city="Springfield", country_code="US",
                  postal_code="62701", province_code="IL")


@pytest.fixture(params=harness_params())
def harness(request):
    with request.param.open_harness() as h:
        yield h


@pytest.fixture
def connector(harness):
    conn = harness.connection()
    registry = Registry.default()
    clean = registry.validate("supplier", harness.kind, conn["base_url"], conn["credentials"], conn["config"])
    built = registry.build("supplier", harness.kind, conn["base_url"], conn["credentials"],
                           {**clean, "timeout": 1.0})
    yield built
    close = getattr(built, "close", None)
    if close:
        close()


def _request(harness, reference: str, sku: str = "CONTRACT-SKU") -> SupplierOrderRequest:
    return SupplierOrderRequest(
        reference=reference, ship_to=SHIP_TO, items=[SupplierOrderItem(sku, 1)], email="jane@example.com",
        lines=(SupplierOrderLineRequest(sku, 1, unit_cost=Money(850, "USD"), line_ref="1"),), currency="USD")


def _sku(harness, connector) -> str:
    """A SKU the emulator sells (harnesses whose emulator has a catalog say which)."""
    return getattr(harness, "contract_sku", "CONTRACT-SKU")


def test_connection_json_is_accepted_by_supplier_add_as_it_is(harness):
    conn = harness.connection()
    assert set(conn) == {"name", "base_url", "credentials", "config"}
    Registry.default().validate("supplier", harness.kind, conn["base_url"], conn["credentials"], conn["config"])


def test_an_order_lands_once_carrying_our_reference(harness, connector):
    placed = connector.place_order(_request(harness, "db-9001-1-1", _sku(harness, connector)))
    if not getattr(harness, "remote", True):
        # dropbridge's own queue holds it once the service commits; the desk itself sent nothing anywhere.
        assert placed.reference == "db-9001-1-1" and placed.placement in set(Placement)
        assert connector.find_order("db-9001-1-1") is None and harness.orders() == []
        return
    refs = [o["reference"] for o in harness.orders()]
    assert refs == ["db-9001-1-1"]
    assert placed.reference == "db-9001-1-1"
    assert placed.placement in set(Placement)
    found = connector.find_order("db-9001-1-1")
    if harness.can_look_up:
        assert found is not None and found is not CANNOT_KNOW
        assert found.external_id == placed.external_id
    else:
        assert found is CANNOT_KNOW


def test_an_unknown_reference_is_not_found(harness, connector):
    found = connector.find_order("db-404-404-1")
    assert found is (None if harness.can_look_up else CANNOT_KNOW)


def test_a_timeout_after_accepting_is_found_by_reference_not_resent(harness, connector):
    if not harness.can_look_up:
        pytest.skip(f"{harness.kind} cannot be asked whether an order landed (covered by the unknown-outcome test)")
    skip_unless_faults(harness, "hang_after_accept")
    harness.inject("hang_after_accept", seconds=3)
    with pytest.raises(RetryableError):
        connector.place_order(_request(harness, "db-9002-1-1", _sku(harness, connector)))
    found = connector.find_order("db-9002-1-1")
    assert found is not None and found is not CANNOT_KNOW
    assert [o["reference"] for o in harness.orders()] == ["db-9002-1-1"]


def test_server_errors_are_retryable_and_create_nothing(harness, connector):
    skip_unless_faults(harness, "error_500")
    harness.inject("error_500")
    with pytest.raises(RetryableError) as info:
        connector.place_order(_request(harness, "db-9003-1-1", _sku(harness, connector)))
    assert not isinstance(info.value, RateLimited)
    assert harness.orders() == []


def test_rate_limits_say_when_to_come_back(harness, connector):
    skip_unless_faults(harness, "rate_limit")
    harness.inject("rate_limit", retry_after=7)
    with pytest.raises(RateLimited) as info:
        connector.place_order(_request(harness, "db-9004-1-1", _sku(harness, connector)))
    assert info.value.retry_after is not None and info.value.retry_after >= 1
    assert harness.orders() == []


def test_capabilities_declared_are_capabilities_implemented(harness, connector):
    from dropbridge.services.ports import SUPPLIER_PORTS

    spec = Registry.default().spec("supplier", harness.kind)
    for capability in spec.capabilities:
        if spec.offers_by_feed and capability in (Capability.CATALOG, Capability.STOCK):
            continue
        assert isinstance(connector, SUPPLIER_PORTS[capability]), capability
