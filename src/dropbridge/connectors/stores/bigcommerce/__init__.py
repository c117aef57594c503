"""BigCommerce (v2 Orders, v3 Catalog/Inventory/Webhooks) storefront connector."""

from .connector import BigCommerceStore, from_config

__all__ = ["BigCommerceStore", "from_config"]
