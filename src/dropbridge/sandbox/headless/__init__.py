"""Emulator of a merchant's headless storefront backend, which receives dropbridge's signed events.

Modules: `events` (the event bodies it accepts), `signing`, `app` (routes and controls), `emulator`.
"""

from .emulator import FAULT_MODES, HeadlessStoreEmulator
from .events import MAX_STOCK_BATCH
from .signing import TOLERANCE_SECONDS

__all__ = ["FAULT_MODES", "MAX_STOCK_BATCH", "TOLERANCE_SECONDS", "HeadlessStoreEmulator"]
