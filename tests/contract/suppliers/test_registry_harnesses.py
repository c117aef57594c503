"""Every registered connector is exercised: a kind added to the registry without a contract harness fails
here instead of silently escaping the suites."""

from __future__ import annotations

import importlib

import pytest

from dropbridge.connectors.registry import Registry
from tests.contract.suppliers.harness import harness_module, ordering_kinds


@pytest.mark.parametrize("kind", ordering_kinds())
def test_every_supplier_kind_that_takes_orders_has_a_harness(kind):
    module = harness_module(kind)
    assert module is not None, f"supplier kind {kind!r} takes orders but has no tests/contract/suppliers/" \
                               f"{kind}_harness.py"
    assert callable(getattr(module, "open_harness", None))


@pytest.mark.parametrize("platform", [k.name for k in Registry.default().kinds("store")])
def test_every_store_platform_has_a_storefront_harness(platform):
    name = f"tests.connectors.storefronts.{platform}_harness"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        pytest.fail(f"store platform {platform!r} is registered but has no {name.replace('.', '/')}.py")
    assert callable(getattr(module, "open_harness", None))


def test_every_registered_connector_has_its_emulator_in_the_sandbox():
    from dropbridge.sandbox import registry as sandbox

    missing = [s.name for s in Registry.default().specs() if s.emulator and s.emulator not in sandbox.names()]
    assert missing == []
