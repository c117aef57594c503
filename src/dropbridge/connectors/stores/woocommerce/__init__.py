"""WooCommerce REST API v3 storefront connector."""

from .auth import WooCommerceOAuth1
from .connector import WooCommerceStore, from_config

__all__ = ["WooCommerceOAuth1", "WooCommerceStore", "from_config"]
