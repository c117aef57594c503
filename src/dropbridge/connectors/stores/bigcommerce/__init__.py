"""BigCommerce (v2 Orders, v3 Catalog/Inventory/Webhooks) storefront connector."""

from dropbridge.connectors.registry import ConnectorSpec
from dropbridge.services.ports import STOREFRONT_CAPABILITIES, Capability

from .config import BigCommerceConfig
from .connector import BigCommerceStore, from_config

SPEC = ConnectorSpec(
    name="bigcommerce", role="store", capabilities=STOREFRONT_CAPABILITIES | {Capability.PRICES, Capability.VARIANTS,
                                                                  Capability.DELIVERY},
    config_model=BigCommerceConfig, factory=from_config,
    credentials=("access_token",), optional_credentials=("client_secret",), needs_url=False,
    summary="BigCommerce v2 orders and shipments, v3 catalog, inventory and webhooks",
    emulator="bigcommerce", implementation=BigCommerceStore,
)

__all__ = ["SPEC", "BigCommerceStore", "from_config"]
