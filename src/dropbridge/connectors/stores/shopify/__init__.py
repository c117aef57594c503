"""Shopify storefront connector (Admin GraphQL API). See connector.ShopifyStore and from_config."""

from dropbridge.connectors.stores.shopify.client import ShopifyClient, ThrottleBudget
from dropbridge.connectors.stores.shopify.connector import ShopifyStore, from_config

__all__ = ["ShopifyClient", "ShopifyStore", "ThrottleBudget", "from_config"]
