"""Shopify storefront connector (Admin GraphQL API). See connector.ShopifyStore and from_config."""

from dropbridge.connectors.shopify.client import ShopifyClient, ThrottleBudget
from dropbridge.connectors.shopify.connector import ShopifyStore, from_config

__all__ = ["ShopifyClient", "ShopifyStore", "ThrottleBudget", "from_config"]
