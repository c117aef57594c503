"""Connector for Printful (print on demand): catalog and store products as offers, orders by our reference
(`external_id`), a configurable confirmation step, cancellation, tracking, shipping rates, costs and signed v2
webhooks. Emulated by `dropbridge.sandbox.printful`."""

from dropbridge.connectors.registry import ConnectorSpec
from dropbridge.services.ports import Capability

from .config import PrintfulConfig
from .connector import Printful, from_config

SPEC = ConnectorSpec(
    name="printful", role="supplier", config_model=PrintfulConfig, factory=from_config,
    capabilities=frozenset({Capability.CATALOG, Capability.STOCK, Capability.ORDERS, Capability.CANCEL,
                            Capability.TRACKING, Capability.SHIPPING_QUOTE, Capability.INVOICES,
                            Capability.WEBHOOKS}),
    credentials=("api_token",), optional_credentials=("webhook_secret",), needs_url=False,
    summary="Printful print on demand: catalog and store products, orders by external_id (draft or confirm), "
            "shipping rates, costs, signed v2 webhooks",
    emulator="printful", implementation=Printful,
)

__all__ = ["SPEC", "Printful", "from_config"]
