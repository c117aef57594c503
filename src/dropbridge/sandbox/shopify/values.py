"""Values shared by the Shopify emulator's modules: ids, money, addresses, connections, search syntax.

Money in GraphQL is Shopify's Decimal ("199.0", trailing zeros dropped); REST-shaped bodies (webhooks)
use fixed strings in the currency's minor units ("199.00") (storefronts.md §1.2: money values are strings).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from dropbridge.domain.money import exponent

from .graphql import GraphQLError


def gid(kind: str, n: int | str) -> str:
    return f"gid://shopify/{kind}/{n}"


def gid_number(value: Any, kind: str | None = None) -> int | None:
    if not isinstance(value, str):
        return None
    m = re.fullmatch(r"gid://shopify/(\w+)/(\d+)(?:\?.*)?", value)
    if not m or (kind and m.group(1) != kind):
        return None
    return int(m.group(2))


def gql_decimal(value: Decimal) -> str:
    """Shopify's GraphQL Decimal: "199.0", "19.99", "0.0"."""
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def rest_decimal(value: Decimal, currency: str) -> str:
    places = exponent(currency)
    return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):.{places}f}"


def _q(value: Decimal, currency: str) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-exponent(currency)), rounding=ROUND_HALF_EVEN)


def _dec(value: Any, what: str) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"{what} is not a decimal: {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"{what} is not a decimal: {value!r}")
    return d


def _b64(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _unb64(text: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError):
        raise GraphQLError(f"Invalid cursor: {text!r}", "BAD_REQUEST") from None


def _iso_utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money_bag(amount: Decimal, currency: str) -> dict[str, Any]:
    money = {"__typename": "MoneyV2", "amount": gql_decimal(amount), "currencyCode": currency}
    return {"__typename": "MoneyBag", "shopMoney": money, "presentmentMoney": dict(money)}


def _mailing_address(addr: dict[str, Any] | None) -> dict[str, Any] | None:
    if not addr:
        return None
    return {
        "__typename": "MailingAddress",
        "name": addr.get("name"),
        "firstName": addr.get("first_name"),
        "lastName": addr.get("last_name"),
        "company": addr.get("company"),
        "address1": addr.get("address1"),
        "address2": addr.get("address2"),
        "city": addr.get("city"),
        "province": addr.get("province"),
        "provinceCode": addr.get("province_code"),
        "zip": addr.get("zip"),
        "country": addr.get("country"),
        "countryCodeV2": addr.get("country_code"),
        "phone": addr.get("phone"),
    }


def _connection(
    items: list[tuple[Any, dict[str, Any]]],
    args: dict[str, Any],
    of: str,
    max_page: int,
) -> dict[str, Any]:
    """A Relay connection over (sort key, node) pairs already in order."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise GraphQLError(f"you must provide one of first or last ({of})", "BAD_REQUEST")
    for name, value in (("first", first), ("last", last)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise GraphQLError(f"'{name}' must be a non-negative integer", "BAD_REQUEST")
        if value is not None and value > max_page:
            raise GraphQLError(
                f"The '{name}' argument must be at most {max_page} (got {value})", "MAX_INPUT_SIZE_EXCEEDED"
            )
    keyed = [(json.loads(json.dumps(k)), node) for k, node in items]
    positions = {json.dumps(k): i for i, (k, _) in enumerate(keyed)}
    start, end = 0, len(keyed)
    if args.get("after"):
        key = json.dumps(_unb64(args["after"]))
        if key not in positions:
            raise GraphQLError("Invalid cursor for after", "BAD_REQUEST")
        start = positions[key] + 1
    if args.get("before"):
        key = json.dumps(_unb64(args["before"]))
        if key not in positions:
            raise GraphQLError("Invalid cursor for before", "BAD_REQUEST")
        end = positions[key]
    window = keyed[start:end]
    has_next = has_prev = False
    if first is not None:
        has_next = len(window) > first or end < len(keyed)
        window = window[:first]
        has_prev = start > 0
    if last is not None:
        has_prev = len(window) > last or start > 0
        window = window[-last:] if last else []
    cursors = [_b64(k) for k, _ in window]
    return {
        "__typename": "__Connection",
        "__of": of,
        "nodes": [node for _, node in window],
        "edges": [
            {"__typename": "__Edge", "cursor": c, "node": node} for c, (_, node) in zip(cursors, window, strict=True)
        ],
        "pageInfo": {
            "__typename": "PageInfo",
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def _search_terms(query: str | None) -> list[tuple[str, str, str]]:
    """`sku:ABC updated_at:>='2026-01-01T00:00:00Z'` -> [(field, op, value)]."""
    if not query:
        return []
    terms = []
    for m in re.finditer(r"(\w+):(>=|<=|>|<)?('([^']*)'|\"([^\"]*)\"|\S+)", query):
        value = m.group(4) if m.group(4) is not None else m.group(5) if m.group(5) is not None else m.group(3)
        terms.append((m.group(1), m.group(2) or "=", value))
    return terms


def _parse_time(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _compare(left: Any, op: str, right: Any) -> bool:
    return {
        "=": left == right,
        ">=": left >= right,
        "<=": left <= right,
        ">": left > right,
        "<": left < right,
    }[op]



INVALID_TOKEN_BODY = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


class _UserErrors(Exception):
    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(errors[0]["message"] if errors else "user error")
        self.errors = errors


def _uerr(field: list | None, message: str, code: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"__typename": "UserError", "field": field, "message": message}
    err["code"] = code
    return err



def sort_keyed(items: list[Any], args: dict[str, Any], keys: dict[str, Any], field: str, ident: Any) -> list[tuple]:
    """(cursor key, item) pairs in `sortKey` order (`reverse` flips it), ties broken by id. `keys` maps each
    sortKey enum value the emulated connection accepts to a function of the item; another value is the
    error Shopify gives for an enum it does not know."""
    sort_key = str(args.get("sortKey") or "ID")
    if sort_key not in keys:
        raise GraphQLError(f"Argument 'sortKey' on Field '{field}' has an invalid value ({sort_key}). "
                           f"Expected type '{field[0].upper() + field[1:-1]}SortKeys'.", "argumentLiteralsIncompatible")
    by = keys[sort_key]
    keyed = [((by(item), ident(item)), item) for item in items]
    keyed.sort(key=lambda pair: pair[0], reverse=bool(args.get("reverse")))
    return keyed
