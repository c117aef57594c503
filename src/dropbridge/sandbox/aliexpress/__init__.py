"""Emulator of AliExpress dropshipping (the Open Platform gateway, IOP signing, DS methods): see emulator.py."""

from .catalog import Product, Sku, generate
from .emulator import AliExpressEmulator

__all__ = ["AliExpressEmulator", "Product", "Sku", "generate"]
