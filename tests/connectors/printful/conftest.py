"""The Printful emulator on a real port, every exchange checked against Printful's OpenAPI documents, and the
connector the registry builds from the emulator's own connection JSON."""

from __future__ import annotations

import uuid

import pytest

from dropbridge.connectors.registry import Registry
from dropbridge.sandbox.printful import PrintfulEmulator

from .openapi_check import SpecCheck, checked


@pytest.fixture
def spec_check():
    return SpecCheck()


@pytest.fixture
def make_emulator(spec_check):
    started = []

    def make(**options) -> PrintfulEmulator:
        options.setdefault("api_token", f"pf-test-{uuid.uuid4().hex[:12]}")  # a rate budget of its own
        options.setdefault("ship_after_seconds", None)
        options.setdefault("cost_delay_seconds", 0.05)
        emulator = checked(PrintfulEmulator(**options), spec_check)
        emulator.start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()
    assert spec_check.violations == [], "\n\n".join(spec_check.violations[:10])


@pytest.fixture
def emulator(make_emulator):
    return make_emulator()


def build(emulator, timeout: float = 2.0, **config):
    conn = emulator.connection()
    registry = Registry.default()
    clean = registry.validate("supplier", "printful", conn["base_url"], conn["credentials"],
                              {**conn["config"], **config})
    return registry.build("supplier", "printful", conn["base_url"], conn["credentials"], {**clean, "timeout": timeout})


@pytest.fixture
def connector(emulator):
    built = build(emulator)
    yield built
    built.close()
