"""Kept for existing imports: the headless store emulator lives in `dropbridge.sandbox.headless`."""

from dropbridge.sandbox.headless import FAULT_MODES, MAX_STOCK_BATCH, TOLERANCE_SECONDS, HeadlessStoreEmulator

__all__ = ["FAULT_MODES", "MAX_STOCK_BATCH", "TOLERANCE_SECONDS", "HeadlessStoreEmulator"]
