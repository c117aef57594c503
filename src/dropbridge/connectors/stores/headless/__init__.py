"""Connector for headless stores: dropbridge pushes signed events to the merchant's backend.

The event API is documented in `dropbridge.sandbox.headless_store`, which also emulates it.
"""

from dropbridge.connectors.registry import ConnectorSpec
from dropbridge.services.ports import STOREFRONT_CAPABILITIES, Capability

from .config import HeadlessConfig
from .connector import HeadlessStore, from_config

SPEC = ConnectorSpec(
    name="headless", role="store", capabilities=STOREFRONT_CAPABILITIES | {Capability.PRICES},
    config_model=HeadlessConfig, factory=from_config,
    credentials=("webhook_secret",), optional_credentials=("api_token",),
    summary="a headless store: orders come to our API, stock and fulfillments go as signed events",
    emulator="headless", implementation=HeadlessStore,
)

__all__ = ["SPEC", "HeadlessStore", "from_config"]
