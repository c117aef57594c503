"""AliExpress's own error words, as our error classes (the one table for this platform; convention 4).

The gateway answers errors with HTTP 200 and an envelope (shared/contracts/suppliers.md 3.2):
`{"error_response": {"type": "ISV|ISP|SYSTEM", "code", "msg", "sub_code", "sub_msg", "request_id"}}` on
/sync, `{"type", "code", "message", "request_id"}` on the /rest system paths. `sub_code`/`sub_msg` say more
than `msg` ("Remote service error"), so both reach the message. Order refusals come inside a successful
envelope instead (`result.is_success: false`, `error_code`): see ORDER_REFUSALS."""

from __future__ import annotations

import re
from typing import Any

from dropbridge.domain.errors import (
    AlreadyPlaced,
    AuthExpired,
    ExternalError,
    OutOfStock,
    PermanentError,
    RateLimited,
    RetryableError,
)

# "Api access frequency exceeds the limit. this ban will last 1 seconds" (ds.product.get docs, FAQ)
BAN = re.compile(r"ban will last\s+(\d+)\s*second", re.I)
THROTTLE_CODES = {"ApiCallLimit", "AppCallLimit", "SessionCallLimit", "AccessFrequencyLimit"}  # [C]
TOKEN_CODES = {"IllegalAccessToken", "InvalidAccessToken", "AccessTokenExpired", "isv.invalid-access-token"}  # [C]
REFRESH_CODES = {"IllegalRefreshToken", "InvalidRefreshToken", "RefreshTokenExpired"}  # [C]
AUTH_CODES = {"IncompleteSignature", "InvalidSignature", "InvalidAppKey", "AppKeyNotExist", "InvalidTimestamp",
              "InvalidSignMethod", "isv.invalid-authorization"}  # [C]

# ds.order.create refusals (`result.error_code`; the method's docs, ERROR CODE table)
ORDER_OUT_OF_STOCK = {"INVENTORY_HOLD_ERROR"}
ORDER_REPEATED = {"REPEATED_ORDER_ERROR"}  # out_order_id seen within its 24 h: the first attempt landed
ORDER_UNKNOWN = {"ERROR_WHEN_BUILD_FOR_PLACE_ORDER"}  # "System error": whether it was created is not said
# Everything else (address, delivery method, currency, blacklisted or disabled account, A001..A006) is a
# refusal of this order by this supplier.


class TokenRejected(AuthExpired):
    """The access token was refused (expired or revoked): renew it and ask again."""


class RefreshRejected(AuthExpired):
    """The refresh token was refused: the merchant authorizes the app again."""


def ban_seconds(*texts: Any) -> float | None:
    for text in texts:
        found = BAN.search(str(text or ""))
        if found:
            return float(max(1, int(found.group(1))))
    return None


def from_error(error: dict[str, Any], what: str, status: int = 200) -> ExternalError:
    """The error class for one error envelope (its inner object)."""
    code = str(error.get("code") or "")
    sub_code = str(error.get("sub_code") or "")
    kind = str(error.get("type") or "")
    msg = str(error.get("msg") or error.get("message") or "")
    sub_msg = str(error.get("sub_msg") or "")
    detail = f"{code}{f' ({sub_code})' if sub_code else ''}: {sub_msg or msg}"
    if msg and sub_msg and msg != sub_msg:
        detail += f" [{msg}]"
    if error.get("request_id"):
        detail += f" request_id={error['request_id']}"
    text = f"{what}: {detail}"
    wait = ban_seconds(msg, sub_msg)
    if code in THROTTLE_CODES or sub_code in THROTTLE_CODES or wait is not None \
            or "frequency exceeds" in (msg + sub_msg).lower():
        return RateLimited(text, status=status, retry_after=wait or 1.0)
    if code in TOKEN_CODES or sub_code in TOKEN_CODES:
        return TokenRejected(text, status=status)
    if code in REFRESH_CODES or sub_code in REFRESH_CODES:
        return RefreshRejected(text + ": authorize the app again and give dropbridge the new tokens",
                               status=status)
    if code in AUTH_CODES or sub_code in AUTH_CODES:
        return AuthExpired(text, status=status)
    if sub_code.startswith("isv."):
        return PermanentError(text, status=status)  # the request was wrong (the order is not ours, a bad field)
    if sub_code.startswith("isp.") or kind in ("ISP", "SYSTEM") or code in ("InternalError", "ServiceUnavailable"):
        return RetryableError(text, status=status)
    return PermanentError(text, status=status)


def order_refusal(code: str, message: str, reference: str) -> ExternalError:
    """The error for a ds.order.create answer with `is_success: false`."""
    text = f"aliexpress refused {reference}: {code}: {message}".rstrip(": ")
    if code in ORDER_OUT_OF_STOCK:
        return OutOfStock(text)
    if code in ORDER_REPEATED:
        return AlreadyPlaced(text)
    if code in ORDER_UNKNOWN:
        return RetryableError(text)
    return PermanentError(text)
