"""Connector for a generic REST dropship supplier.

The API is documented in `dropbridge.sandbox.rest_supplier`, which also emulates it.
"""

from .connector import RestSupplier, from_config

__all__ = ["RestSupplier", "from_config"]
