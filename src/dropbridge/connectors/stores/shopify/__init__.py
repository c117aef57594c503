"""Shopify storefront connector (Admin GraphQL API). See connector.ShopifyStore and from_config."""

from dropbridge.connectors.registry import ConnectorSpec
from dropbridge.connectors.stores.shopify.client import ShopifyClient, ThrottleBudget
from dropbridge.connectors.stores.shopify.config import ShopifyConfig
from dropbridge.connectors.stores.shopify.connector import ShopifyStore, from_config
from dropbridge.services.ports import STOREFRONT_CAPABILITIES, Capability

SPEC = ConnectorSpec(
    name="shopify", role="store", capabilities=STOREFRONT_CAPABILITIES | {Capability.PRICES, Capability.STOCK_READ,
                                                                  Capability.VARIANTS, Capability.DELIVERY},
    config_model=ShopifyConfig, factory=from_config,
    optional_credentials=("webhook_secret",), one_of=(("access_token",), ("client_id", "client_secret")),
    summary="Shopify Admin GraphQL API: orders, inventory, products, fulfillment orders, webhooks",
    emulator="shopify", implementation=ShopifyStore,
)

__all__ = ["SPEC", "ShopifyClient", "ShopifyStore", "ThrottleBudget", "from_config"]
