"""WooCommerce REST API v3 storefront connector."""

from dropbridge.connectors.registry import ConnectorSpec
from dropbridge.services.ports import STOREFRONT_CAPABILITIES, Capability

from .auth import WooCommerceOAuth1
from .config import WooCommerceConfig
from .connector import WooCommerceStore, from_config

SPEC = ConnectorSpec(
    name="woocommerce", role="store", capabilities=STOREFRONT_CAPABILITIES | {Capability.PRICES, Capability.VARIANTS,
                                                                  Capability.DELIVERY},
    config_model=WooCommerceConfig, factory=from_config,
    credentials=("consumer_key", "consumer_secret"), optional_credentials=("webhook_secret",),
    summary="WooCommerce REST API v3: orders, stock, products and variations, tracking, webhooks",
    emulator="woocommerce", implementation=WooCommerceStore,
)

__all__ = ["SPEC", "WooCommerceOAuth1", "WooCommerceStore", "from_config"]
