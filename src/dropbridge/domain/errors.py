"""Errors classified by what the caller should do next."""

from __future__ import annotations


class DropbridgeError(Exception):
    """Base of every error we raise on purpose."""


class ValidationError(DropbridgeError):
    """Input was wrong; say which field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class IllegalTransition(DropbridgeError):
    def __init__(self, kind: str, current: str, new: str):
        super().__init__(f"{kind} cannot go from {str(current)!r} to {str(new)!r}")
        self.current = current
        self.new = new


class CurrencyError(DropbridgeError):
    """Two currencies met that we cannot combine or convert."""


class NotFound(DropbridgeError):
    pass


class Conflict(DropbridgeError):
    pass


class StorageError(DropbridgeError):
    """The database refused or failed a transaction (storage translates its own exceptions into these, so
    services never see the driver's)."""


class DuplicateKey(Conflict, StorageError):
    """A unique key was taken, typically by a concurrent transaction: read what won, or redo the work."""


class ExternalError(DropbridgeError):
    """An outside system failed. `retryable` and `retry_after` say what to do next."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RetryableError(ExternalError):
    """Timeouts, resets, 5xx: try again later. The outcome of a write may be unknown."""

    retryable = True


class RateLimited(RetryableError):
    """429 or a throttle: try again after `retry_after` seconds."""


class NotDelivered(RetryableError):
    """The request certainly did not reach the other side (connection refused, refused before it was
    handed over): trying again cannot make a second order, even where the other side cannot be asked."""


class AuthExpired(ExternalError):
    """Credentials were refused: refresh them or ask the merchant."""


class PermanentError(ExternalError):
    """The other side said no and will keep saying no (4xx, rejected order)."""


class ConfigurationError(DropbridgeError):
    """Our own settings are wrong: nothing will work until a person fixes them."""


class OutOfStock(PermanentError):
    """The supplier refused the order for lack of stock."""


class WebhookRejected(DropbridgeError):
    """An inbound webhook failed verification (bad signature, stale, malformed): keep nothing."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status
