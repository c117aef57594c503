"""dropbridge: self-hosted dropshipping integration."""

__version__ = "0.1.0"
