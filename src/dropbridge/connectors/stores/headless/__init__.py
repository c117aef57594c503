"""Connector for headless stores: dropbridge pushes signed events to the merchant's backend.

The event API is documented in `dropbridge.sandbox.headless_store`, which also emulates it.
"""

from .connector import HeadlessStore, from_config

__all__ = ["HeadlessStore", "from_config"]
