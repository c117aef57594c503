"""WooCommerce REST API v3 storefront connector."""

from .connector import WooCommerceStore, from_config

__all__ = ["WooCommerceStore", "from_config"]
