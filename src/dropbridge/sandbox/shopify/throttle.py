"""The cost-based leaky bucket (storefronts.md §1.6): a Standard shop's bucket holds 2000 points and
restores 100 per second; every response reports `extensions.cost`; a query costing more than the bucket
holds is THROTTLED with HTTP 200 ([S]; `throttle_status` makes it 429)."""

from __future__ import annotations

import math
import time
from typing import Any


class ThrottleMixin:
    def _refill(self) -> None:
        now = time.monotonic()
        self._bucket = min(self.bucket_size, self._bucket + (now - self._bucket_at) * self.restore_rate)
        self._bucket_at = now

    def _cost_ext(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": {
                    "maximumAvailable": self.bucket_size,
                    "currentlyAvailable": int(math.floor(self._bucket)),
                    "restoreRate": self.restore_rate,
                },
            }
        }

    def throttle_next(self, calls: int) -> None:
        """The next `calls` GraphQL calls find the bucket empty (it is drained) and get THROTTLED."""
        with self._lock:
            self._forced_throttles += calls

    def fail_next(self, calls: int, status: int = 503) -> None:
        with self._lock:
            self._forced_faults.extend([status] * calls)
