"""A SecretStore (services/ports.py) in this process only, for a connector built outside a deployment (tests,
the contract suite), where nothing it obtains outlives the process anyway."""

from __future__ import annotations

import threading
from collections.abc import Callable


class MemorySecretStore:
    def __init__(self, data: dict | None = None):
        self._data = dict(data or {})
        self._lock = threading.Lock()

    def load(self) -> dict:
        with self._lock:
            return dict(self._data)

    def update(self, change: Callable[[dict], dict | None]) -> dict:
        with self._lock:
            new = change(dict(self._data))
            if new is not None:
                self._data = dict(new)
            return dict(self._data)
