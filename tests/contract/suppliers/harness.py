"""What the supplier contract suite, the kill -9 test and the fault test need from each supplier kind.

Each `<kind>_harness.py` beside this file exposes `open_harness()`: a context manager yielding an object of
this shape with the kind's emulator running on a real localhost port. Every supplier kind in the connector
registry with the `orders` capability must have one: `test_registry_harnesses.py` fails otherwise."""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from dropbridge.connectors.registry import Registry
from dropbridge.services.ports import Capability


class SupplierHarness(Protocol):
    kind: str
    can_look_up: bool  # find_order can tell whether an earlier attempt landed (else it answers CANNOT_KNOW)
    fault_trials: int  # how many orders the fault test sends through this kind
    # Optional: `fault_modes` (default: every common mode), the faults `inject` can make: a kind without a
    # transport (manual) has none, and tests that need a fault skip it; `remote` (default True): False when the
    # orders are held by dropbridge itself (the manual kind's purchase-order queue).

    def connection(self) -> dict[str, Any]:
        """{"name", "base_url", "credentials", "config"} as `supplier add` takes it."""

    def offer(self, app, supplier_name: str, sku: str, stock: int, cost: str) -> None:
        """Make `sku` orderable from this supplier in dropbridge (a feed, or the emulator's catalog pulled)."""

    def inject(self, mode: str, count: int = 1, *, seconds: float = 30.0, retry_after: float = 1.0) -> None:
        """Queue faults on the emulator's order creation: none, hang_after_accept, error_500, rate_limit."""

    def orders(self) -> list[dict[str, str]]:
        """Every order the emulator holds: [{"reference", "external_id"}]."""

    def ship(self, reference: str) -> None:
        """Ship the order carrying `reference` now (tracking then reaches dropbridge as the platform sends it)."""


def supports(harness, *modes: str) -> bool:
    """Whether the harness can inject every one of `modes`."""
    from dropbridge.sandbox.kit import COMMON_MODES

    available = getattr(harness, "fault_modes", COMMON_MODES)
    return all(mode in available for mode in modes)


def skip_unless_faults(harness, *modes: str) -> None:
    import pytest

    if not supports(harness, *modes):
        pytest.skip(f"{harness.kind} has no {', '.join(modes)} fault to inject (no transport of its own)")


def harness_module(kind: str):
    """The harness module of a kind, or None when it has none (the registry test then fails)."""
    name = f"{__package__}.{kind}_harness"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def ordering_kinds() -> list[str]:
    return [info.name for info in Registry.default().kinds("supplier") if info.has(Capability.ORDERS)]


def harness_params() -> list:
    """One pytest param per ordering kind that has a harness (a kind without one fails the registry test)."""
    import pytest

    return [pytest.param(module, id=kind) for kind in ordering_kinds() if (module := harness_module(kind))]
