"""Emulator of the Shopify Admin GraphQL API, OAuth client-credentials grant and order webhooks.

Follows `../shared/contracts/storefronts.md` section 1 and the section 4 checklist. Points marked [U]
there are constructor options here.

HTTP surface:
- `POST /admin/oauth/access_token` (form-encoded client-credentials grant) -> `{"access_token",
  "scope", "expires_in"}`; tokens expire after `token_lifetime` seconds; `static_tokens` never do.
  An unknown or expired token on the Admin API -> 401 `{"errors": "[API] Invalid API key or access
  token (unrecognized login or wrong password)"}`.
- `POST /admin/api/{version}/graphql.json` with `X-Shopify-Access-Token`: a GraphQL subset (below).
  Only `api_version` is served; other versions -> 404 `{"errors": "Not Found"}`.
- `/_control/*` (no auth, tests only): `POST orders` (create an order as a shopper would),
  `POST orders/{id}/cancel`, `POST throttle {"calls"}`, `POST faults {"status", "calls"}`,
  `POST tokens/expire`, `GET inventory`, `GET fulfillments`, `GET stats`, `GET deliveries`,
  `GET products`, `GET subscriptions`. The same operations exist in-process.

GraphQL subset. A real parser (operations, variables with defaults, aliases, arguments of every literal
kind, lists, input objects, directives, inline fragments `... on T`; no named fragments, no
introspection) and a small executor: only requested fields are returned, and asking for a field the
emulated type lacks is the same top-level error Shopify gives. Roots:
- query: `products(first|last, after|before, query: "sku:X"|"handle:X"|"title:X")`,
  `product(id)`, `productVariants(first, after, query: "sku:X")`, `productVariant(id)`,
  `orders(first, after, query: "created_at:>=ISO"|"updated_at:>=ISO", sortKey: ID|CREATED_AT|UPDATED_AT,
  reverse)`, `order(id)`, `nodes(ids)`, `node(id)`, `locations(first)`, `location(id)`,
  `inventoryItem(id)`, `fulfillmentOrder(id)`, `productOperation(id)`, `webhookSubscriptions(first)`,
  `shop`.
- mutation: `productSet(input|productSet, identifier{id|handle}, synchronous)`,
  `inventorySetQuantities(input) @idempotent(key)`, `fulfillmentCreate(fulfillment, message)`,
  `webhookSubscriptionCreate(topic, webhookSubscription{uri|callbackUrl, format})`,
  `webhookSubscriptionDelete(id)`. (`productCreate` + `productVariantsBulkCreate` are not emulated;
  the connector publishes with `productSet`.)

Cost (approximation of https://shopify.dev/docs/api/usage/rate-limits#cost-calculation): a scalar
costs 0, an object 1, a connection 2 + first x (its node's cost, the node itself 1), `pageInfo` 0;
a plain list of objects is counted once when requested and per element when actual; every mutation
costs a flat 10. `requestedQueryCost` is computed from the query before it runs and must be in the
bucket (else THROTTLED, HTTP `throttle_status`, 200 by default); `actualQueryCost` is counted from
what was returned and is what the bucket loses. Over `max_query_cost` -> MAX_COST_EXCEEDED.

Money in GraphQL is Shopify's Decimal ("199.0", trailing zeros dropped); REST webhook bodies use fixed
minor-unit strings ("199.00").
"""

from __future__ import annotations

import base64
import copy
import hashlib
import heapq
import hmac
import itertools
import json
import math
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from dropbridge.connectors.kit.http import build_client
from dropbridge.domain.money import exponent

# --------------------------------------------------------------------------------------------------
# GraphQL: lexer, parser
# --------------------------------------------------------------------------------------------------


class GraphQLError(Exception):
    """A top-level GraphQL error (HTTP 200, `errors[]`)."""

    def __init__(self, message: str, code: str | None = None, path: list | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.path = path

    def as_json(self) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message}
        if self.path:
            err["path"] = self.path
        if self.code:
            err["extensions"] = {"code": self.code}
        return err


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[\s,\ufeff]+|\#[^\n]*)
  | (?P<spread>\.\.\.)
  | (?P<punct>[!$&()\[\]{}:=@|])
  | (?P<block>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\")
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
    """,
    re.VERBOSE,
)


def _lex(source: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN_RE.match(source, pos)
        if not m:
            raise GraphQLError(f"Parse error on {source[pos:pos + 10]!r} at offset {pos}", "PARSE_ERROR")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append((kind, m.group(), pos))
        pos = m.end()
    tokens.append(("eof", "", pos))
    return tokens


class Var:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class Enum(str):
    """An enum literal in a query (kept distinct from strings only for clarity)."""


class Field:
    __slots__ = ("alias", "name", "args", "directives", "selections")

    def __init__(self, alias, name, args, directives, selections):
        self.alias: str | None = alias
        self.name: str = name
        self.args: dict[str, Any] = args
        self.directives: dict[str, dict[str, Any]] = directives
        self.selections: list | None = selections

    @property
    def key(self) -> str:
        return self.alias or self.name


class InlineFragment:
    __slots__ = ("type_condition", "selections")

    def __init__(self, type_condition: str | None, selections: list):
        self.type_condition = type_condition
        self.selections = selections


class Operation:
    def __init__(self, kind: str, name: str | None, var_defaults: dict[str, Any], selections: list):
        self.kind = kind
        self.name = name
        self.var_defaults = var_defaults
        self.selections = selections


class _Parser:
    def __init__(self, source: str):
        self.tokens = _lex(source)
        self.i = 0

    def peek(self, value: str | None = None, kind: str | None = None) -> bool:
        k, v, _ = self.tokens[self.i]
        return (value is None or v == value) and (kind is None or k == kind)

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        k, v, pos = self.tokens[self.i]
        if (value is not None and v != value) or (kind is not None and k != kind):
            want = value or kind
            raise GraphQLError(f"Parse error on {v or 'end of query'!r} at offset {pos}: expected {want}",
                               "PARSE_ERROR")
        self.i += 1
        return v

    def document(self) -> list[Operation]:
        ops = []
        while not self.peek(kind="eof"):
            if self.peek("{"):
                ops.append(Operation("query", None, {}, self.selection_set()))
                continue
            kind = self.take(kind="name")
            if kind == "fragment":
                raise GraphQLError("Named fragments are not supported by this emulator", "PARSE_ERROR")
            if kind not in ("query", "mutation", "subscription"):
                raise GraphQLError(f"Parse error on {kind!r}", "PARSE_ERROR")
            name = self.take(kind="name") if self.peek(kind="name") else None
            defaults: dict[str, Any] = {}
            if self.peek("("):
                self.take("(")
                while not self.peek(")"):
                    self.take("$")
                    var = self.take(kind="name")
                    self.take(":")
                    self.type_ref()
                    if self.peek("="):
                        self.take("=")
                        defaults[var] = self.value(const=True)
                    self.directives()
                self.take(")")
            self.directives()
            ops.append(Operation(kind, name, defaults, self.selection_set()))
        return ops

    def type_ref(self) -> None:
        if self.peek("["):
            self.take("[")
            self.type_ref()
            self.take("]")
        else:
            self.take(kind="name")
        if self.peek("!"):
            self.take("!")

    def selection_set(self) -> list:
        self.take("{")
        out: list = []
        while not self.peek("}"):
            if self.peek(kind="spread"):
                self.take(kind="spread")
                cond = None
                if self.peek("on"):
                    self.take("on")
                    cond = self.take(kind="name")
                elif self.peek(kind="name"):
                    raise GraphQLError("Named fragments are not supported by this emulator", "PARSE_ERROR")
                self.directives()
                out.append(InlineFragment(cond, self.selection_set()))
                continue
            name = self.take(kind="name")
            alias = None
            if self.peek(":"):
                self.take(":")
                alias, name = name, self.take(kind="name")
            args = self.arguments()
            directives = self.directives()
            sels = self.selection_set() if self.peek("{") else None
            out.append(Field(alias, name, args, directives, sels))
        self.take("}")
        if not out:
            raise GraphQLError("Parse error: empty selection set", "PARSE_ERROR")
        return out

    def arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.peek("("):
            self.take("(")
            while not self.peek(")"):
                name = self.take(kind="name")
                self.take(":")
                args[name] = self.value()
            self.take(")")
        return args

    def directives(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        while self.peek("@"):
            self.take("@")
            name = self.take(kind="name")
            out[name] = self.arguments()
        return out

    def value(self, const: bool = False) -> Any:
        k, v, _ = self.tokens[self.i]
        if v == "$" and not const:
            self.take("$")
            return Var(self.take(kind="name"))
        if v == "[":
            self.take("[")
            items = []
            while not self.peek("]"):
                items.append(self.value(const))
            self.take("]")
            return items
        if v == "{":
            self.take("{")
            obj = {}
            while not self.peek("}"):
                key = self.take(kind="name")
                self.take(":")
                obj[key] = self.value(const)
            self.take("}")
            return obj
        self.i += 1
        if k == "string":
            return json.loads(v)
        if k == "block":
            return v[3:-3].replace('\\"""', '"""').strip("\n")
        if k == "number":
            return float(v) if any(c in v for c in ".eE") else int(v)
        if k == "name":
            if v == "true":
                return True
            if v == "false":
                return False
            if v == "null":
                return None
            return Enum(v)
        raise GraphQLError(f"Parse error on {v!r}", "PARSE_ERROR")


def parse(source: str, operation_name: str | None = None) -> Operation:
    ops = _Parser(source).document()
    if not ops:
        raise GraphQLError("No operations in the document", "PARSE_ERROR")
    if operation_name:
        for op in ops:
            if op.name == operation_name:
                return op
        raise GraphQLError(f"No operation named {operation_name!r}", "PARSE_ERROR")
    if len(ops) > 1:
        raise GraphQLError("An operation name is required when the document has several", "PARSE_ERROR")
    return ops[0]


def resolve_value(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, Var):
        return variables.get(value.name)
    if isinstance(value, list):
        return [resolve_value(v, variables) for v in value]
    if isinstance(value, dict):
        # An input-object field given as an unset variable is absent, not null.
        return {
            k: resolve_value(v, variables)
            for k, v in value.items()
            if not (isinstance(v, Var) and v.name not in variables)
        }
    return value


# --------------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------------

MUTATION_COST = 10
_STRUCTURAL = {"pageInfo"}


def _page_size(field: Field, variables: dict[str, Any]) -> int | None:
    for name in ("first", "last"):
        if name in field.args:
            value = resolve_value(field.args[name], variables)
            if isinstance(value, int):
                return value
    return None


def _node_cost(selections: list, variables: dict[str, Any]) -> int:
    """Cost of one node of a connection, from the connection's own selection."""
    cost = 0
    for sel in selections:
        if isinstance(sel, InlineFragment):
            cost += _node_cost(sel.selections, variables)
        elif sel.name == "nodes" and sel.selections:
            cost += 1 + _selection_cost(sel.selections, variables)
        elif sel.name == "edges" and sel.selections:
            for sub in sel.selections:
                if isinstance(sub, Field) and sub.name == "node" and sub.selections:
                    cost += 1 + _selection_cost(sub.selections, variables)
    return cost


def _selection_cost(selections: list, variables: dict[str, Any]) -> int:
    cost = 0
    for sel in selections:
        if isinstance(sel, InlineFragment):
            cost += _selection_cost(sel.selections, variables)
            continue
        if not sel.selections or sel.name in _STRUCTURAL:
            continue
        size = _page_size(sel, variables)
        if size is not None:
            cost += 2 + size * _node_cost(sel.selections, variables)
        elif sel.name == "nodes" and "ids" in sel.args:
            ids = resolve_value(sel.args["ids"], variables) or []
            cost += len(ids) * (1 + _selection_cost(sel.selections, variables))
        else:
            cost += 1 + _selection_cost(sel.selections, variables)
    return cost


def requested_cost(op: Operation, variables: dict[str, Any]) -> int:
    if op.kind == "mutation":
        return MUTATION_COST * sum(1 for s in op.selections if isinstance(s, Field))
    return _selection_cost(op.selections, variables)


# --------------------------------------------------------------------------------------------------
# Executor: objects are dicts with "__typename"; a callable value is a field with arguments.
# --------------------------------------------------------------------------------------------------

_UNCOUNTED_TYPES = {"PageInfo", "__Edge"}


class _Projector:
    def __init__(self, variables: dict[str, Any]):
        self.variables = variables
        self.actual = 0

    def project(self, obj: dict[str, Any], selections: list, path: list) -> dict[str, Any]:
        typename = obj.get("__typename", "Object")
        if typename == "__Connection":
            self.actual += 2
        elif typename not in _UNCOUNTED_TYPES:
            self.actual += 1
        out: dict[str, Any] = {}
        for sel in selections:
            if isinstance(sel, InlineFragment):
                if sel.type_condition is None or sel.type_condition == typename or (
                    sel.type_condition in obj.get("__implements", ())
                ):
                    out.update(self.project(obj, sel.selections, path))
                continue
            out[sel.key] = self.field(obj, sel, path + [sel.key])
        return out

    def field(self, obj: dict[str, Any], sel: Field, path: list) -> Any:
        if sel.name == "__typename":
            return obj.get("__typename")
        if sel.name not in obj:
            shown = obj.get("__typename", "Object")
            if shown == "__Connection":
                shown = obj.get("__of", "Connection")
            raise GraphQLError(f"Field '{sel.name}' doesn't exist on type '{shown}'", "undefinedField", path)
        value = obj[sel.name]
        if callable(value):
            value = value(resolve_value(sel.args, self.variables))
        return self.shape(value, sel, path)

    def shape(self, value: Any, sel: Field, path: list) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [self.shape(v, sel, path + [i]) for i, v in enumerate(value)]
        if isinstance(value, dict):
            if not sel.selections:
                raise GraphQLError(f"Field '{sel.name}' of type object must have a selection of subfields",
                                   "selectionMismatch", path)
            return self.project(value, sel.selections, path)
        if sel.selections:
            raise GraphQLError(f"Selections can't be made on scalars (field '{sel.name}')",
                               "selectionMismatch", path)
        return value


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


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


def sign_webhook(secret: str, raw_body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body, keyed by the app client secret."""
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


INVALID_TOKEN_BODY = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
INVENTORY_REASONS = {
    "correction", "cycle_count_available", "damaged", "movement_created", "movement_updated",
    "movement_received", "movement_canceled", "other", "promotion", "quality_control", "received",
    "reservation_created", "reservation_deleted", "reservation_updated", "restock", "safety_stock",
    "shrinkage",
}
IDEMPOTENT_MUTATIONS = {
    "inventorySetQuantities", "inventoryAdjustQuantities", "inventoryMoveQuantities",
    "inventorySetOnHandQuantities", "refundCreate", "inventoryShipmentReceive",
}
TOPICS = {
    "ORDERS_CREATE": "orders/create",
    "ORDERS_PAID": "orders/paid",
    "ORDERS_UPDATED": "orders/updated",
    "ORDERS_CANCELLED": "orders/cancelled",
    "ORDERS_FULFILLED": "orders/fulfilled",
    "ORDERS_PARTIALLY_FULFILLED": "orders/partially_fulfilled",
    "APP_UNINSTALLED": "app/uninstalled",
    "INVENTORY_LEVELS_UPDATE": "inventory_levels/update",
}


class _UserErrors(Exception):
    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(errors[0]["message"] if errors else "user error")
        self.errors = errors


def _uerr(field: list | None, message: str, code: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"__typename": "UserError", "field": field, "message": message}
    err["code"] = code
    return err


# --------------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------------


class ShopifyEmulator:
    """A Shopify store with one app installed. State lives in memory; every method is thread-safe."""

    def __init__(
        self,
        shop: str = "demo",
        api_version: str = "2026-01",
        *,
        client_id: str = "emu-client-id",
        client_secret: str = "emu-client-secret",
        static_tokens: list[str] | tuple[str, ...] = ("shpat_static_emulator_token",),
        token_lifetime: float = 86399.0,  # [S] 24 h
        report_expires_in: bool = True,  # [U] whether expires_in is in the grant response
        scopes: str = "read_products,write_products,read_orders,write_inventory,read_inventory,"
        "write_merchant_managed_fulfillment_orders,read_merchant_managed_fulfillment_orders",
        bucket_size: float = 1000.0,
        restore_rate: float = 50.0,
        max_query_cost: int = 1000,
        throttle_status: int = 200,  # [S] 200 usual; some report 429
        max_array: int = 250,  # [U] binding for inventorySetQuantities.quantities
        max_page: int = 250,  # [U] cap on first/last
        require_idempotency: bool | None = None,  # None: by version (mandatory from 2026-04)
        inventory_all_or_nothing: bool = True,  # [U]
        stock_new_items_at_primary: bool = True,  # [U] new variants stocked at the primary location
        currency: str = "USD",
        shop_utc_offset_minutes: int = -300,  # order REST timestamps carry the shop's offset
        webhook_retry_delays: tuple[float, ...] = (60, 120, 240, 480, 960, 1920, 3840, 7680),  # ~8 over 4 h
        webhook_timeout: float = 5.0,
        webhook_duplicates: int = 0,  # extra identical deliveries of each (subscription, event)
        webhook_id_stable_across_retries: bool = True,  # [U]
        clock: Callable[[], float] = time.time,
        first_id: int = 1001,  # a real shop never reuses ids; a restarted emulator can start past old ones
    ):
        self.first_id = first_id
        self.shop = shop
        self.domain = f"{shop}.myshopify.com"
        self.api_version = api_version
        self.client_id = client_id
        self.client_secret = client_secret
        self.static_tokens = set(static_tokens)
        self.token_lifetime = token_lifetime
        self.report_expires_in = report_expires_in
        self.scopes = scopes
        self.bucket_size = float(bucket_size)
        self.restore_rate = float(restore_rate)
        self.max_query_cost = max_query_cost
        self.throttle_status = throttle_status
        self.max_array = max_array
        self.max_page = max_page
        if require_idempotency is None:
            require_idempotency = api_version >= "2026-04"
        self.require_idempotency = require_idempotency
        self.inventory_all_or_nothing = inventory_all_or_nothing
        self.stock_new_items_at_primary = stock_new_items_at_primary
        self.currency = currency
        self.shop_tz = timezone(timedelta(minutes=shop_utc_offset_minutes))
        self.webhook_retry_delays = tuple(webhook_retry_delays)
        self.webhook_timeout = webhook_timeout
        self.webhook_duplicates = webhook_duplicates
        self.webhook_id_stable_across_retries = webhook_id_stable_across_retries
        self.clock = clock
        self._lock = threading.RLock()
        self._server = None
        self._deliverer: _Deliverer | None = None
        self.reset()
        self.app = self._build_app()

    # -- lifecycle -------------------------------------------------------------------------------

    def reset(self) -> None:
        with getattr(self, "_lock", threading.RLock()):
            self._ids = itertools.count(self.first_id)
            self._order_numbers = itertools.count(1001)
            self.tokens: dict[str, float] = {}  # token -> expires at (clock)
            self.products: dict[str, dict[str, Any]] = {}
            self.variants: dict[str, dict[str, Any]] = {}
            self.items: dict[str, dict[str, Any]] = {}  # inventory items
            self.primary_location = gid("Location", 124656943)
            self.locations: dict[str, dict[str, Any]] = {
                self.primary_location: {"id": self.primary_location, "name": "Warehouse", "isActive": True}
            }
            self.orders: dict[str, dict[str, Any]] = {}  # gid -> REST-shaped order
            self.fulfillment_orders: dict[str, dict[str, Any]] = {}
            self.fulfillments: dict[str, dict[str, Any]] = {}
            self.subscriptions: dict[str, dict[str, Any]] = {}
            self.operations: dict[str, dict[str, Any]] = {}
            self.adjustment_groups: list[dict[str, Any]] = []
            self.idempotency: dict[str, tuple[str, dict[str, Any]]] = {}
            self._bucket = self.bucket_size
            self._bucket_at = time.monotonic()
            self._forced_throttles = 0
            self._forced_faults: list[int] = []
            self.stats = {"calls": 0, "throttled": 0, "faults": 0, "unauthorized": 0, "token_grants": 0}
            self.call_log: list[dict[str, Any]] = []
            self.deliveries: list[dict[str, Any]] = []

    def start(self):
        from dropbridge.sandbox.kit.server import start_server

        if self._server is None:
            self._deliverer = _Deliverer(self)
            self._deliverer.start()
            self._server = start_server(self.app)
        return self._server

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("emulator not started")
        return self._server.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._deliverer is not None:
            self._deliverer.stop()
            self._deliverer = None

    def __enter__(self) -> ShopifyEmulator:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _new_id(self) -> int:
        return next(self._ids)

    # -- auth --------------------------------------------------------------------------------------

    def grant_token(self) -> str:
        with self._lock:
            token = "shpat_" + secrets.token_hex(16)
            self.tokens[token] = self.clock() + self.token_lifetime
            self.stats["token_grants"] += 1
            return token

    def expire_tokens(self) -> None:
        """Make every issued (non-static) token expired, as if its lifetime had passed."""
        with self._lock:
            for token in self.tokens:
                self.tokens[token] = self.clock() - 1

    def _token_ok(self, token: str | None) -> bool:
        if not token:
            return False
        if token in self.static_tokens:
            return True
        expires = self.tokens.get(token)
        return expires is not None and self.clock() < expires

    # -- throttle ----------------------------------------------------------------------------------

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

    # -- GraphQL endpoint --------------------------------------------------------------------------

    def graphql(self, body: Any) -> tuple[int, dict[str, Any]]:
        """Answer one GraphQL request body (already authenticated); returns (HTTP status, JSON)."""
        with self._lock:
            self.stats["calls"] += 1
            if self._forced_faults:
                status = self._forced_faults.pop(0)
                self.stats["faults"] += 1
                return status, {"errors": "Internal Server Error"}
            if not isinstance(body, dict) or not isinstance(body.get("query"), str):
                return 400, {"errors": {"query": "Required parameter missing or invalid"}}
            variables = body.get("variables") or {}
            try:
                op = parse(body["query"], body.get("operationName"))
                variables = {**op.var_defaults, **variables}
                requested = requested_cost(op, variables)
            except GraphQLError as exc:
                return 200, {"errors": [exc.as_json()]}
            self._refill()
            # A query the bucket could never hold would be throttled forever: refuse it outright.
            max_cost = min(self.max_query_cost, int(self.bucket_size))
            if requested > max_cost:
                return 200, {
                    "errors": [{
                        "message": f"Query cost is {requested}, which exceeds the single query max cost "
                        f"limit ({max_cost}).",
                        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": max_cost},
                    }],
                    "extensions": self._cost_ext(requested, None),
                }
            if self._forced_throttles > 0 or self._bucket < requested:
                if self._forced_throttles > 0:
                    self._forced_throttles -= 1
                    self._bucket = 0.0
                self.stats["throttled"] += 1
                self.call_log.append({"root": [s.name for s in op.selections if isinstance(s, Field)],
                                      "throttled": True})
                return self.throttle_status, {
                    "errors": [{
                        "message": "Throttled",
                        "extensions": {"code": "THROTTLED",
                                       "documentation": "https://shopify.dev/api/usage/rate-limits"},
                    }],
                    "extensions": self._cost_ext(requested, None),
                }
            projector = _Projector(variables)
            try:
                data = self._execute(op, variables, projector)
            except GraphQLError as exc:
                actual = 0
                self._bucket -= actual
                return 200, {"errors": [exc.as_json()], "extensions": self._cost_ext(requested, actual)}
            actual = requested if op.kind == "mutation" else min(projector.actual, requested)
            self._bucket = max(0.0, self._bucket - actual)
            self.call_log.append({"root": list(data), "throttled": False})
            return 200, {"data": data, "extensions": self._cost_ext(requested, actual)}

    def _execute(self, op: Operation, variables: dict[str, Any], projector: _Projector) -> dict[str, Any]:
        if op.kind == "subscription":
            raise GraphQLError("Subscriptions are not supported", "BAD_REQUEST")
        data: dict[str, Any] = {}
        for sel in op.selections:
            if isinstance(sel, InlineFragment):
                raise GraphQLError("Fragments on the root are not supported by this emulator", "BAD_REQUEST")
            if sel.name == "__typename":
                data[sel.key] = "QueryRoot" if op.kind == "query" else "Mutation"
                continue
            args = resolve_value(sel.args, variables)
            if op.kind == "mutation":
                resolver = self._mutations().get(sel.name)
                if resolver is None:
                    raise GraphQLError(f"Field '{sel.name}' doesn't exist on type 'Mutation'", "undefinedField",
                                       [sel.key])
                payload = self._run_mutation(sel, args, resolver, variables)
                data[sel.key] = projector.shape(payload, sel, [sel.key])
            else:
                resolver = self._queries().get(sel.name)
                if resolver is None:
                    raise GraphQLError(f"Field '{sel.name}' doesn't exist on type 'QueryRoot'",
                                       "undefinedField", [sel.key])
                data[sel.key] = projector.shape(resolver(args), sel, [sel.key])
        return data

    def _run_mutation(self, sel: Field, args: dict[str, Any], resolver: Callable, variables: dict) -> Any:
        directive = sel.directives.get("idempotent")
        key = None
        if directive is not None:
            if sel.name not in IDEMPOTENT_MUTATIONS:
                raise GraphQLError(f"Directive 'idempotent' is not supported on '{sel.name}'", "BAD_REQUEST",
                                   [sel.key])
            key = resolve_value(directive.get("key"), variables)
            if not isinstance(key, str) or not key:
                raise GraphQLError("The idempotency key must be a non-empty string", "BAD_REQUEST", [sel.key])
        elif sel.name in IDEMPOTENT_MUTATIONS and self.require_idempotency:
            # [U] exact wording/code: the changelog only says "an error at runtime".
            raise GraphQLError(
                f"The @idempotent directive is required for {sel.name} in API version {self.api_version}",
                "BAD_REQUEST", [sel.key])
        if key is None:
            return resolver(args)
        fingerprint = sel.name + ":" + json.dumps(args, sort_keys=True, default=str)
        known = self.idempotency.get(key)
        if known is not None:
            if known[0] != fingerprint:
                raise GraphQLError(
                    "The same idempotency key was used with different parameters",
                    "IDEMPOTENCY_KEY_PARAMETER_MISMATCH", [sel.key])
            return copy.deepcopy(known[1])
        payload = resolver(args)
        self.idempotency[key] = (fingerprint, copy.deepcopy(payload))
        return payload

    def _queries(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "shop": lambda a: {
                "__typename": "Shop", "name": self.shop, "myshopifyDomain": self.domain,
                "currencyCode": self.currency,
            },
            "products": self._q_products,
            "product": lambda a: self._product_obj(a.get("id")),
            "productVariants": self._q_variants,
            "productVariant": lambda a: self._variant_obj(a.get("id")),
            "orders": self._q_orders,
            "order": lambda a: self._order_obj(a.get("id")),
            "nodes": lambda a: [self._node(i) for i in (a.get("ids") or [])],
            "node": lambda a: self._node(a.get("id")),
            "locations": lambda a: _connection(
                [((n,), self._location_obj(k)) for n, k in enumerate(self.locations)], a, "LocationConnection",
                self.max_page),
            # Without an id: the shop's primary location.
            "location": lambda a: self._location_obj(a.get("id") or self.primary_location),
            "inventoryItem": lambda a: self._item_obj(a.get("id")),
            "fulfillmentOrder": lambda a: self._fo_obj(a.get("id")),
            "productOperation": lambda a: self._operation_obj(a.get("id")),
            "webhookSubscriptions": lambda a: _connection(
                [((gid_number(k),), self._subscription_obj(k)) for k in self.subscriptions], a,
                "WebhookSubscriptionConnection", self.max_page),
        }

    def _mutations(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "productSet": self._m_product_set,
            "inventorySetQuantities": self._m_inventory_set,
            "fulfillmentCreate": self._m_fulfillment_create,
            "webhookSubscriptionCreate": self._m_webhook_create,
            "webhookSubscriptionDelete": self._m_webhook_delete,
        }

    def _node(self, ident: Any) -> dict[str, Any] | None:
        kind = ident.split("/")[3] if isinstance(ident, str) and ident.startswith("gid://shopify/") else None
        builder = {
            "Product": self._product_obj,
            "ProductVariant": self._variant_obj,
            "Order": self._order_obj,
            "InventoryItem": self._item_obj,
            "Location": self._location_obj,
            "FulfillmentOrder": self._fo_obj,
            "Fulfillment": self._fulfillment_obj,
        }.get(kind or "")
        return builder(ident) if builder else None

    # -- catalog objects ---------------------------------------------------------------------------

    def _product_obj(self, ident: Any) -> dict[str, Any] | None:
        p = self.products.get(ident)
        if p is None:
            return None
        return {
            "__typename": "Product",
            "__implements": ("Node",),
            "id": p["id"],
            "legacyResourceId": str(gid_number(p["id"])),
            "title": p["title"],
            "handle": p["handle"],
            "descriptionHtml": p["descriptionHtml"],
            "vendor": p["vendor"],
            "status": p["status"],
            "createdAt": p["createdAt"],
            "updatedAt": p["updatedAt"],
            "options": lambda a: [
                {"__typename": "ProductOption", "name": o["name"], "position": i + 1,
                 "values": list(o["values"]),
                 "optionValues": [{"__typename": "ProductOptionValue", "name": v} for v in o["values"]]}
                for i, o in enumerate(p["options"])
            ][: a.get("first") or None],
            "variants": lambda a: _connection(
                [((gid_number(v),), self._variant_obj(v)) for v in p["variants"]], a,
                "ProductVariantConnection", self.max_page),
            "media": lambda a: _connection(
                [((i,), self._media_obj(m)) for i, m in enumerate(p["media"])], a, "MediaConnection",
                self.max_page),
            "images": lambda a: _connection(
                [((i,), {"__typename": "Image", "id": m["imageId"], "url": m["url"], "altText": m["alt"]})
                 for i, m in enumerate(p["media"])], a, "ImageConnection", self.max_page),
        }

    @staticmethod
    def _media_obj(m: dict[str, Any]) -> dict[str, Any]:
        return {
            "__typename": "MediaImage",
            "__implements": ("Media", "Node"),
            "id": m["id"],
            "alt": m["alt"],
            "mediaContentType": "IMAGE",
            "status": "READY",
            "image": {"__typename": "Image", "id": m["imageId"], "url": m["url"], "altText": m["alt"]},
        }

    def _variant_obj(self, ident: Any) -> dict[str, Any] | None:
        v = self.variants.get(ident)
        if v is None:
            return None
        return {
            "__typename": "ProductVariant",
            "__implements": ("Node",),
            "id": v["id"],
            "legacyResourceId": str(gid_number(v["id"])),
            "sku": v["sku"],
            "title": " / ".join(o["value"] for o in v["selectedOptions"]) or "Default Title",
            "price": gql_decimal(v["price"]),
            "compareAtPrice": gql_decimal(v["compareAtPrice"]) if v["compareAtPrice"] is not None else None,
            "barcode": v["barcode"],
            "inventoryPolicy": v["inventoryPolicy"],
            "inventoryQuantity": self._total_available(v["inventoryItemId"]),
            "selectedOptions": [{"__typename": "SelectedOption", **o} for o in v["selectedOptions"]],
            "product": lambda a: self._product_obj(v["productId"]),
            "inventoryItem": lambda a: self._item_obj(v["inventoryItemId"]),
        }

    def _total_available(self, item_id: str) -> int:
        item = self.items.get(item_id)
        return sum(level["available"] for level in item["levels"].values()) if item else 0

    def _item_obj(self, ident: Any) -> dict[str, Any] | None:
        item = self.items.get(ident)
        if item is None:
            return None

        def level_obj(loc: str) -> dict[str, Any] | None:
            level = item["levels"].get(loc)
            if level is None:
                return None
            return {
                "__typename": "InventoryLevel",
                "id": f"gid://shopify/InventoryLevel/{gid_number(item['id'])}?inventory_item_id="
                f"{gid_number(item['id'])}&location_id={gid_number(loc)}",
                "location": self._location_obj(loc),
                "quantities": lambda a: [
                    {"__typename": "InventoryQuantity", "name": n, "quantity": level.get(n, 0)}
                    for n in (a.get("names") or ["available"])
                ],
            }

        return {
            "__typename": "InventoryItem",
            "__implements": ("Node",),
            "id": item["id"],
            "sku": item["sku"],
            "tracked": item["tracked"],
            "variant": lambda a: self._variant_obj(item["variantId"]),
            "inventoryLevel": lambda a: level_obj(a.get("locationId")),
            "inventoryLevels": lambda a: _connection(
                [((gid_number(loc),), level_obj(loc)) for loc in item["levels"]], a, "InventoryLevelConnection",
                self.max_page),
        }

    def _location_obj(self, ident: Any) -> dict[str, Any] | None:
        loc = self.locations.get(ident)
        if loc is None:
            return None
        return {"__typename": "Location", "__implements": ("Node",), **loc}

    def _q_products(self, a: dict[str, Any]) -> dict[str, Any]:
        products = list(self.products.values())
        for field, _op, value in _search_terms(a.get("query")):
            if field == "sku":
                products = [p for p in products if any(self.variants[v]["sku"] == value for v in p["variants"])]
            elif field in ("handle", "title", "vendor", "status"):
                products = [p for p in products if str(p[field]).lower() == value.lower()]
        return _connection([((gid_number(p["id"]),), self._product_obj(p["id"])) for p in products], a,
                           "ProductConnection", self.max_page)

    def _q_variants(self, a: dict[str, Any]) -> dict[str, Any]:
        variants = list(self.variants.values())
        for field, _op, value in _search_terms(a.get("query")):
            if field == "sku":
                variants = [v for v in variants if v["sku"] == value]
            elif field == "product_id":
                variants = [v for v in variants if str(gid_number(v["productId"])) == value]
        return _connection([((gid_number(v["id"]),), self._variant_obj(v["id"])) for v in variants], a,
                           "ProductVariantConnection", self.max_page)

    # -- productSet --------------------------------------------------------------------------------
    # https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/productSet

    def _m_product_set(self, a: dict[str, Any]) -> dict[str, Any]:
        data = a.get("productSet") if a.get("productSet") is not None else a.get("input")
        result: dict[str, Any] = {"__typename": "ProductSetPayload", "product": None,
                                  "productSetOperation": None, "userErrors": []}
        if not isinstance(data, dict):
            raise GraphQLError("Argument 'productSet' (ProductSetInput!) is required", "missingRequiredArguments")
        try:
            product_id = self._product_set(data, a.get("identifier") or {})
        except _UserErrors as exc:
            result["userErrors"] = exc.errors
            return result
        if a.get("synchronous"):
            result["product"] = self._product_obj(product_id)
        else:
            op_id = gid("ProductSetOperation", self._new_id())
            self.operations[op_id] = {"id": op_id, "productId": product_id}
            result["productSetOperation"] = {"__typename": "ProductSetOperation", "id": op_id,
                                             "status": "CREATED", "product": None, "userErrors": []}
        return result

    def _operation_obj(self, ident: Any) -> dict[str, Any] | None:
        op = self.operations.get(ident)
        if op is None:
            return None
        return {"__typename": "ProductSetOperation", "id": op["id"], "status": "COMPLETE",
                "product": self._product_obj(op["productId"]), "userErrors": []}

    def _product_set(self, data: dict[str, Any], identifier: dict[str, Any]) -> str:
        now = _iso_utc(datetime.now(UTC))
        errors: list[dict[str, Any]] = []
        existing = None
        if identifier.get("id") or data.get("id"):
            existing = self.products.get(identifier.get("id") or data.get("id"))
            if existing is None:
                raise _UserErrors([_uerr(["identifier", "id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")])
        elif identifier.get("handle"):
            existing = next((p for p in self.products.values() if p["handle"] == identifier["handle"]), None)
        if existing is None and not data.get("title"):
            errors.append(_uerr(["input", "title"], "Title can't be blank", "BLANK"))
        options = data.get("productOptions")
        if options is None and existing is not None:
            option_list = [{"name": o["name"], "values": list(o["values"])} for o in existing["options"]]
        else:
            option_list = [
                {"name": o.get("name"), "values": [v.get("name") for v in (o.get("values") or [])]}
                for o in (options or [])
            ]
        if len(option_list) > 3:
            errors.append(_uerr(["input", "productOptions"], "Products can have at most 3 options",
                                "OPTIONS_OVER_LIMIT"))
        option_names = [o["name"] for o in option_list]
        variants_in = data.get("variants")
        if variants_in is not None and len(variants_in) > 2048:
            errors.append(_uerr(["input", "variants"], "Too many variants", "VARIANTS_OVER_LIMIT"))
        parsed_variants = []
        seen_combos: set[tuple] = set()
        for i, vin in enumerate(variants_in or []):
            combo = {ov.get("optionName"): ov.get("name") for ov in (vin.get("optionValues") or [])}
            if option_names and set(combo) != set(option_names):
                errors.append(_uerr(["input", "variants", str(i), "optionValues"],
                                    "Option values must be given for every product option",
                                    "INVALID_VARIANT"))
                continue
            for name, value in combo.items():
                option = next((o for o in option_list if o["name"] == name), None)
                if option is not None and value not in option["values"]:
                    errors.append(_uerr(["input", "variants", str(i), "optionValues"],
                                        f"Option value '{value}' does not exist for option '{name}'",
                                        "OPTION_VALUE_DOES_NOT_EXIST"))
            key = tuple(combo.get(n) for n in option_names)
            if key in seen_combos:
                errors.append(_uerr(["input", "variants", str(i)], f"The variant '{' / '.join(map(str, key))}' "
                                    "already exists.", "DUPLICATE_VARIANT"))
            seen_combos.add(key)
            try:
                price = _dec(vin.get("price", "0"), "price")
                compare = _dec(vin["compareAtPrice"], "compareAtPrice") if vin.get("compareAtPrice") is not None \
                    else None
            except ValueError as exc:
                errors.append(_uerr(["input", "variants", str(i), "price"], str(exc), "INVALID"))
                continue
            if price < 0:
                errors.append(_uerr(["input", "variants", str(i), "price"], "Price must be >= 0", "INVALID"))
            sku = vin.get("sku")
            if sku is None and isinstance(vin.get("inventoryItem"), dict):
                sku = vin["inventoryItem"].get("sku")
            parsed_variants.append((vin, [{"name": n, "value": combo[n]} for n in option_names] if option_names
                                    else [], price, compare, sku))
        if errors:
            raise _UserErrors(errors)
        media = [
            {"id": gid("MediaImage", self._new_id()), "imageId": gid("ProductImage", self._new_id()),
             "url": f.get("originalSource"), "alt": f.get("alt") or ""}
            for f in (data.get("files") or [])
            if f.get("originalSource")
        ]
        if existing is None:
            pid = gid("Product", self._new_id())
            handle = identifier.get("handle") or data.get("handle") or re.sub(
                r"[^a-z0-9]+", "-", str(data.get("title", "product")).lower()).strip("-")
            base, n = handle, 1
            while any(p["handle"] == handle for p in self.products.values()):
                handle = f"{base}-{n}"
                n += 1
            existing = {"id": pid, "handle": handle, "title": "", "descriptionHtml": "", "vendor": "",
                        "status": "ACTIVE", "options": [], "variants": [], "media": [], "createdAt": now}
            self.products[pid] = existing
        p = existing
        for src, dst in (("title", "title"), ("descriptionHtml", "descriptionHtml"), ("vendor", "vendor"),
                         ("status", "status"), ("handle", "handle")):
            if data.get(src) is not None:
                p[dst] = data[src]
        p["options"] = option_list
        p["updatedAt"] = now
        if data.get("files") is not None:
            p["media"] = media
        if variants_in is not None:
            # List fields are replaced: variants not given are deleted. A given variant matches an existing
            # one by id, else by its option combination ([U]), so re-publishing keeps ids stable.
            old = {v: self.variants[v] for v in p["variants"]}
            by_combo = {tuple(o["value"] for o in v["selectedOptions"]): v["id"] for v in old.values()}
            keep: list[str] = []
            for vin, selected, price, compare, sku in parsed_variants:
                vid = vin.get("id") if vin.get("id") in old else by_combo.get(tuple(o["value"] for o in selected))
                if vid is None:
                    vid = gid("ProductVariant", self._new_id())
                    item_id = gid("InventoryItem", self._new_id())
                    levels: dict[str, dict[str, int]] = {}
                    if self.stock_new_items_at_primary:
                        levels[self.primary_location] = {"available": 0, "on_hand": 0, "committed": 0}
                    for q in vin.get("inventoryQuantities") or []:
                        loc = q.get("locationId")
                        if loc not in self.locations:
                            raise _UserErrors([_uerr(["input", "variants", "inventoryQuantities"],
                                                     "Location does not exist", "INVALID_LOCATION")])
                        level = levels.setdefault(loc, {"available": 0, "on_hand": 0, "committed": 0})
                        qty = int(q.get("quantity") or 0)
                        if q.get("name", "available") == "on_hand":
                            level["on_hand"] = qty
                            level["available"] = qty - level["committed"]
                        else:
                            level["available"] = qty
                            level["on_hand"] = qty + level["committed"]
                    tracked = True
                    if isinstance(vin.get("inventoryItem"), dict) and vin["inventoryItem"].get("tracked") is not None:
                        tracked = bool(vin["inventoryItem"]["tracked"])
                    self.items[item_id] = {"id": item_id, "sku": sku, "tracked": tracked, "variantId": vid,
                                           "levels": levels}
                    self.variants[vid] = {"id": vid, "productId": p["id"], "inventoryItemId": item_id}
                v = self.variants[vid]
                v.update({"sku": sku, "price": price, "compareAtPrice": compare, "barcode": vin.get("barcode"),
                          "inventoryPolicy": vin.get("inventoryPolicy") or "DENY", "selectedOptions": selected})
                self.items[v["inventoryItemId"]]["sku"] = sku
                keep.append(vid)
            for vid in set(old) - set(keep):
                self.items.pop(self.variants[vid]["inventoryItemId"], None)
                self.variants.pop(vid, None)
            p["variants"] = keep
        return p["id"]

    # -- inventorySetQuantities --------------------------------------------------------------------
    # https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/inventorySetQuantities

    def _m_inventory_set(self, a: dict[str, Any]) -> dict[str, Any]:
        data = a.get("input")
        if not isinstance(data, dict):
            raise GraphQLError("Argument 'input' (InventorySetQuantitiesInput!) is required",
                               "missingRequiredArguments")
        v2026_04 = self.api_version >= "2026-04"
        if v2026_04 and "ignoreCompareQuantity" in data:
            raise GraphQLError("InputObject 'InventorySetQuantitiesInput' doesn't accept argument "
                               "'ignoreCompareQuantity'", "argumentNotAccepted", ["inventorySetQuantities"])
        quantities = data.get("quantities") or []
        if len(quantities) > self.max_array:
            raise GraphQLError(
                f"The input array size of {len(quantities)} is greater than the maximum allowed of "
                f"{self.max_array}.", "MAX_INPUT_SIZE_EXCEEDED", ["inventorySetQuantities", "input", "quantities"])
        payload: dict[str, Any] = {"__typename": "InventorySetQuantitiesPayload",
                                   "inventoryAdjustmentGroup": None, "userErrors": []}
        errors: list[dict[str, Any]] = []
        name = data.get("name")
        if name not in ("available", "on_hand"):
            errors.append(_uerr(["input", "name"], "The quantity name must be available or on_hand", "INVALID_NAME"))
        if data.get("reason") not in INVENTORY_REASONS:
            errors.append(_uerr(["input", "reason"], "The reason is not valid", "INVALID_REASON"))
        ref = data.get("referenceDocumentUri")
        if ref is not None and not re.fullmatch(r"[a-z][a-z0-9+.-]*://\S+", str(ref)):
            errors.append(_uerr(["input", "referenceDocumentUri"], "The reference document URI is not valid",
                                "INVALID_REFERENCE_DOCUMENT"))
        seen: set[tuple[str, str]] = set()
        valid: list[tuple[int, dict[str, Any], dict[str, int], int]] = []
        for i, q in enumerate(quantities):
            path = ["input", "quantities", str(i)]
            if v2026_04 and "compareQuantity" in q:
                raise GraphQLError("InputObject 'InventoryQuantityInput' doesn't accept argument 'compareQuantity'",
                                   "argumentNotAccepted", ["inventorySetQuantities"])
            item = self.items.get(q.get("inventoryItemId"))
            loc = q.get("locationId")
            qty = q.get("quantity")
            pair = (q.get("inventoryItemId"), loc)
            if pair in seen:
                errors.append(_uerr(path, "The combination of inventoryItemId and locationId must be unique",
                                    "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR"))
                continue
            seen.add(pair)
            if item is None:
                errors.append(_uerr(path + ["inventoryItemId"], "The specified inventory item could not be found.",
                                    "INVALID_INVENTORY_ITEM"))
                continue
            if loc not in self.locations:
                errors.append(_uerr(path + ["locationId"], "The specified location could not be found.",
                                    "INVALID_LOCATION"))
                continue
            level = item["levels"].get(loc)
            if level is None:
                errors.append(_uerr(path + ["locationId"], "The specified inventory item is not stocked at the "
                                    "location.", "ITEM_NOT_STOCKED_AT_LOCATION"))
                continue
            if not isinstance(qty, int) or isinstance(qty, bool):
                errors.append(_uerr(path + ["quantity"], "The quantity must be an integer", "INVALID_QUANTITY"))
                continue
            if qty < 0 and name == "on_hand":
                errors.append(_uerr(path + ["quantity"], "The quantity can't be negative.",
                                    "INVALID_QUANTITY_NEGATIVE"))
                continue
            if qty > 1_000_000_000:
                errors.append(_uerr(path + ["quantity"], "The quantity can't be higher than 1,000,000,000.",
                                    "INVALID_QUANTITY_TOO_HIGH"))
                continue
            if qty < -1_000_000_000:
                errors.append(_uerr(path + ["quantity"], "The quantity can't be lower than -1,000,000,000.",
                                    "INVALID_QUANTITY_TOO_LOW"))
                continue
            current = level.get(name or "available", 0)
            # Compare-and-set, by version: see the contract's table in section 1.3.
            if v2026_04 and "changeFromQuantity" not in q:
                # [U] code: the changelog says omitting it "is an error".
                errors.append(_uerr(path + ["changeFromQuantity"], "changeFromQuantity is required; pass null "
                                    "to opt out of the compare check", "CHANGE_FROM_QUANTITY_REQUIRED"))
                continue
            if q.get("changeFromQuantity") is not None and q["changeFromQuantity"] != current:
                errors.append(_uerr(path + ["changeFromQuantity"], "The changeFromQuantity is stale: the current "
                                    f"quantity is {current}.", "CHANGE_FROM_QUANTITY_STALE"))
                continue
            if (not v2026_04 and not data.get("ignoreCompareQuantity") and q.get("compareQuantity") is not None
                    and q["compareQuantity"] != current):
                errors.append(_uerr(path + ["compareQuantity"], "The compareQuantity value does not match the "
                                    "stored quantity.", "COMPARE_QUANTITY_STALE"))
                continue
            if (self.api_version < "2026-01" and not data.get("ignoreCompareQuantity")
                    and q.get("compareQuantity") is None):
                errors.append(_uerr(path + ["compareQuantity"], "The compareQuantity argument must be given to "
                                    "each quantity or ignored using ignoreCompareQuantity.",
                                    "COMPARE_QUANTITY_REQUIRED"))
                continue
            valid.append((i, item, level, qty))
        if errors and (self.inventory_all_or_nothing or not valid):
            payload["userErrors"] = errors
            return payload
        changes = []
        for _i, item, level, qty in valid:
            key = name or "available"
            delta = qty - level.get(key, 0)
            if key == "available":
                level["available"] = qty
                level["on_hand"] = level.get("on_hand", 0) + delta
            else:
                level["on_hand"] = qty
                level["available"] = level.get("available", 0) + delta
            loc = next(k for k, v in item["levels"].items() if v is level)
            changes.append({"__typename": "InventoryChange", "name": key, "delta": delta,
                            "quantityAfterChange": qty, "item": {"__typename": "InventoryItem", "id": item["id"],
                                                                 "sku": item["sku"]},
                            "location": {"__typename": "Location", "id": loc}})
        group = {"__typename": "InventoryAdjustmentGroup", "id": gid("InventoryAdjustmentGroup", self._new_id()),
                 "reason": data.get("reason"), "referenceDocumentUri": ref, "createdAt": _iso_utc(datetime.now(UTC)),
                 "changes": changes}
        self.adjustment_groups.append(group)
        payload["inventoryAdjustmentGroup"] = group
        payload["userErrors"] = errors
        return copy.deepcopy(payload)

    # -- orders ------------------------------------------------------------------------------------

    def create_order(
        self,
        lines: list[dict[str, Any]],
        *,
        currency: str | None = None,
        email: str | None = "bob@example.com",
        shipping_address: dict[str, Any] | None = None,
        shipping_price: str = "0.00",
        shipping_title: str = "Standard Shipping",
        tax_rate: str = "0",
        financial_status: str = "paid",
    ) -> dict[str, Any]:
        """Place an order as a shopper would; `lines` are {"sku" | "variant_id", "quantity", "price"?,
        "discount"?, "title"?}. Taxes are exclusive: tax_rate x (line total - line discount), rounded
        half-even per line. Delivers orders/create (and orders/paid when paid). Returns the REST order."""
        with self._lock:
            currency = (currency or self.currency).upper()
            now = datetime.now(UTC).replace(microsecond=0)
            oid = self._new_id()
            number = next(self._order_numbers)
            rate = _dec(tax_rate, "tax_rate")
            line_items = []
            subtotal = Decimal(0)
            total_tax = Decimal(0)
            total_disc = Decimal(0)
            for spec in lines:
                variant = None
                if spec.get("variant_id"):
                    variant = self.variants.get(spec["variant_id"])
                elif spec.get("sku"):
                    variant = next((v for v in self.variants.values() if v["sku"] == spec["sku"]), None)
                qty = int(spec.get("quantity", 1))
                if qty <= 0:
                    raise ValueError("quantity must be positive")
                price = _dec(spec["price"], "price") if spec.get("price") is not None else (
                    variant["price"] if variant else None)
                if price is None:
                    raise ValueError(f"line {spec!r} needs a price or a known variant")
                price = _q(price, currency)
                discount = _q(_dec(spec.get("discount", "0"), "discount"), currency)
                tax = _q((price * qty - discount) * rate, currency)
                product = self.products.get(variant["productId"]) if variant else None
                lid = self._new_id()
                line_items.append({
                    "id": lid,
                    "admin_graphql_api_id": gid("LineItem", lid),
                    "product_id": gid_number(product["id"]) if product else None,
                    "variant_id": gid_number(variant["id"]) if variant else None,
                    "sku": spec.get("sku") or (variant["sku"] if variant else None),
                    "title": spec.get("title") or (product["title"] if product else spec.get("sku") or "Item"),
                    "variant_title": " / ".join(o["value"] for o in variant["selectedOptions"]) if variant
                    else None,
                    "name": spec.get("title") or (product["title"] if product else spec.get("sku") or "Item"),
                    "quantity": qty,
                    "current_quantity": qty,
                    "fulfillable_quantity": qty,
                    "price": rest_decimal(price, currency),
                    "total_discount": rest_decimal(discount, currency),
                    "discount_allocations": [
                        {"amount": rest_decimal(discount, currency), "discount_application_index": 0}
                    ] if discount else [],
                    "tax_lines": [
                        {"title": "Tax", "price": rest_decimal(tax, currency), "rate": float(rate)}
                    ] if rate else [],
                    "requires_shipping": True,
                    "taxable": bool(rate),
                    "fulfillment_service": "manual",
                    "fulfillment_status": None,
                    "vendor": product["vendor"] if product else None,
                    "gift_card": False,
                })
                subtotal += price * qty - discount
                total_tax += tax
                total_disc += discount
                if variant:
                    level = self.items[variant["inventoryItemId"]]["levels"].get(self.primary_location)
                    if level is not None:
                        level["available"] -= qty
                        level["committed"] = level.get("committed", 0) + qty
            ship = _q(_dec(shipping_price, "shipping_price"), currency)
            addr = dict(shipping_address or DEFAULT_ADDRESS)
            addr.setdefault("name", f"{addr.get('first_name', '')} {addr.get('last_name', '')}".strip())
            created = now.astimezone(self.shop_tz).isoformat()
            order = {
                "id": oid,
                "admin_graphql_api_id": gid("Order", oid),
                "name": f"#{number}",
                "order_number": number,
                "number": number - 1000,
                "email": email,
                "contact_email": email,
                "created_at": created,
                "updated_at": created,
                "processed_at": created,
                "currency": currency,
                "presentment_currency": currency,
                "financial_status": financial_status,
                "fulfillment_status": None,
                "cancelled_at": None,
                "cancel_reason": None,
                "taxes_included": False,
                "test": False,
                "subtotal_price": rest_decimal(subtotal, currency),
                "total_line_items_price": rest_decimal(subtotal + total_disc, currency),
                "total_tax": rest_decimal(total_tax, currency),
                "total_discounts": rest_decimal(total_disc, currency),
                "total_shipping_price_set": {
                    "shop_money": {"amount": rest_decimal(ship, currency), "currency_code": currency},
                    "presentment_money": {"amount": rest_decimal(ship, currency), "currency_code": currency},
                },
                "total_price": rest_decimal(subtotal + ship + total_tax, currency),
                "tax_lines": [{"title": "Tax", "price": rest_decimal(total_tax, currency), "rate": float(rate)}]
                if rate else [],
                "line_items": line_items,
                "shipping_lines": [{
                    "id": self._new_id(), "code": shipping_title, "title": shipping_title,
                    "price": rest_decimal(ship, currency), "discounted_price": rest_decimal(ship, currency),
                    "source": "shopify",
                }],
                "shipping_address": addr,
                "billing_address": dict(addr),
            }
            self.orders[order["admin_graphql_api_id"]] = order
            fo_id = gid("FulfillmentOrder", self._new_id())
            self.fulfillment_orders[fo_id] = {
                "id": fo_id, "orderId": order["admin_graphql_api_id"], "status": "OPEN",
                "locationId": self.primary_location,
                "lineItems": [
                    {"id": gid("FulfillmentOrderLineItem", self._new_id()), "lineItemId": li["admin_graphql_api_id"],
                     "totalQuantity": li["quantity"], "remainingQuantity": li["quantity"]}
                    for li in line_items
                ],
            }
            self._emit("ORDERS_CREATE", order)
            if financial_status == "paid":
                self._emit("ORDERS_PAID", order)
            return copy.deepcopy(order)

    def cancel_order(self, order_id: str | int, reason: str = "customer") -> dict[str, Any]:
        with self._lock:
            order = self.orders[order_id if isinstance(order_id, str) else gid("Order", order_id)]
            if order["cancelled_at"] is None:
                now = datetime.now(UTC).replace(microsecond=0).astimezone(self.shop_tz).isoformat()
                order["cancelled_at"] = now
                order["updated_at"] = now
                order["cancel_reason"] = reason
                for fo in self.fulfillment_orders.values():
                    if fo["orderId"] == order["admin_graphql_api_id"] and fo["status"] in ("OPEN", "IN_PROGRESS"):
                        fo["status"] = "CANCELLED"
                self._emit("ORDERS_CANCELLED", order)
                self._emit("ORDERS_UPDATED", order)
            return copy.deepcopy(order)

    def _q_orders(self, a: dict[str, Any]) -> dict[str, Any]:
        sort_key = str(a.get("sortKey") or "ID")
        field = {"ID": None, "CREATED_AT": "created_at", "UPDATED_AT": "updated_at",
                 "PROCESSED_AT": "processed_at"}.get(sort_key, "__bad__")
        if field == "__bad__":
            raise GraphQLError(f"Argument 'sortKey' on Field 'orders' has an invalid value ({sort_key})",
                               "argumentLiteralsIncompatible")
        orders = list(self.orders.values())
        for term, op, value in _search_terms(a.get("query")):
            if term in ("created_at", "updated_at", "processed_at"):
                bound = _parse_time(value)
                orders = [o for o in orders if _compare(_parse_time(o[term]), op, bound)]
            elif term == "name":
                orders = [o for o in orders if o["name"].lstrip("#") == value.lstrip("#")]
            elif term == "financial_status":
                orders = [o for o in orders if o["financial_status"] == value]

        def key(o: dict[str, Any]) -> tuple:
            when = _parse_time(o[field]).timestamp() if field else 0
            return (when, o["id"])

        orders.sort(key=key, reverse=bool(a.get("reverse")))
        return _connection([(key(o), self._order_obj(o["admin_graphql_api_id"])) for o in orders], a,
                           "OrderConnection", self.max_page)

    def _order_obj(self, ident: Any) -> dict[str, Any] | None:
        o = self.orders.get(ident)
        if o is None:
            return None
        cur = o["currency"]
        ship = sum((_dec(s["price"], "price") for s in o["shipping_lines"]), Decimal(0))
        fos = [fo for fo in self.fulfillment_orders.values() if fo["orderId"] == o["admin_graphql_api_id"]]
        fuls = [f for f in self.fulfillments.values() if f["orderId"] == o["admin_graphql_api_id"]]

        def line_obj(li: dict[str, Any]) -> dict[str, Any]:
            price = _dec(li["price"], "price")
            return {
                "__typename": "LineItem",
                "id": li["admin_graphql_api_id"],
                "sku": li["sku"],
                "title": li["title"],
                "name": li["name"],
                "variantTitle": li["variant_title"],
                "quantity": li["quantity"],
                "currentQuantity": li["current_quantity"],
                "requiresShipping": li["requires_shipping"],
                "vendor": li["vendor"],
                "variant": self._variant_obj(gid("ProductVariant", li["variant_id"])) if li["variant_id"] else None,
                "product": self._product_obj(gid("Product", li["product_id"])) if li["product_id"] else None,
                "originalUnitPriceSet": _money_bag(price, cur),
                "discountedUnitPriceSet": _money_bag(
                    price - _dec(li["total_discount"], "d") / li["quantity"], cur),
                "originalTotalSet": _money_bag(price * li["quantity"], cur),
                "totalDiscountSet": _money_bag(_dec(li["total_discount"], "d"), cur),
                "discountAllocations": [
                    {"__typename": "DiscountAllocation",
                     "allocatedAmountSet": _money_bag(_dec(d["amount"], "d"), cur)}
                    for d in li["discount_allocations"]
                ],
                "taxLines": [
                    {"__typename": "TaxLine", "title": t["title"], "rate": t["rate"],
                     "priceSet": _money_bag(_dec(t["price"], "t"), cur)}
                    for t in li["tax_lines"]
                ],
            }

        return {
            "__typename": "Order",
            "__implements": ("Node",),
            "id": o["admin_graphql_api_id"],
            "legacyResourceId": str(o["id"]),
            "name": o["name"],
            "email": o["email"],
            "createdAt": _iso_utc(_parse_time(o["created_at"])),
            "updatedAt": _iso_utc(_parse_time(o["updated_at"])),
            "processedAt": _iso_utc(_parse_time(o["processed_at"])),
            "cancelledAt": _iso_utc(_parse_time(o["cancelled_at"])) if o["cancelled_at"] else None,
            "cancelReason": o["cancel_reason"].upper() if o["cancel_reason"] else None,
            "closed": False,
            "test": o["test"],
            "currencyCode": cur,
            "presentmentCurrencyCode": o["presentment_currency"],
            "displayFinancialStatus": o["financial_status"].upper() if o["financial_status"] else None,
            "displayFulfillmentStatus": (o["fulfillment_status"] or "unfulfilled").upper(),
            "taxesIncluded": o["taxes_included"],
            "subtotalPriceSet": _money_bag(_dec(o["subtotal_price"], "p"), cur),
            "totalPriceSet": _money_bag(_dec(o["total_price"], "p"), cur),
            "totalTaxSet": _money_bag(_dec(o["total_tax"], "p"), cur),
            "totalDiscountsSet": _money_bag(_dec(o["total_discounts"], "p"), cur),
            "totalShippingPriceSet": _money_bag(ship, cur),
            "shippingAddress": _mailing_address(o["shipping_address"]),
            "billingAddress": _mailing_address(o["billing_address"]),
            "taxLines": [
                {"__typename": "TaxLine", "title": t["title"], "rate": t["rate"],
                 "priceSet": _money_bag(_dec(t["price"], "t"), cur)}
                for t in o["tax_lines"]
            ],
            "lineItems": lambda a: _connection(
                [((li["id"],), line_obj(li)) for li in o["line_items"]], a, "LineItemConnection", self.max_page),
            "shippingLines": lambda a: _connection(
                [((s["id"],), {"__typename": "ShippingLine", "id": gid("ShippingLine", s["id"]),
                               "title": s["title"], "code": s["code"], "source": s["source"],
                               "originalPriceSet": _money_bag(_dec(s["price"], "p"), cur),
                               "discountedPriceSet": _money_bag(_dec(s["discounted_price"], "p"), cur)})
                 for s in o["shipping_lines"]], a, "ShippingLineConnection", self.max_page),
            "fulfillmentOrders": lambda a: _connection(
                [((gid_number(fo["id"]),), self._fo_obj(fo["id"])) for fo in fos], a,
                "FulfillmentOrderConnection", self.max_page),
            "fulfillments": lambda a: [self._fulfillment_obj(f["id"]) for f in fuls][: a.get("first") or None],
        }

    def _fo_obj(self, ident: Any) -> dict[str, Any] | None:
        fo = self.fulfillment_orders.get(ident)
        if fo is None:
            return None
        order = self.orders[fo["orderId"]]
        by_id = {li["admin_graphql_api_id"]: li for li in order["line_items"]}

        def fo_line(fl: dict[str, Any]) -> dict[str, Any]:
            li = by_id[fl["lineItemId"]]
            return {
                "__typename": "FulfillmentOrderLineItem",
                "id": fl["id"],
                "totalQuantity": fl["totalQuantity"],
                "remainingQuantity": fl["remainingQuantity"],
                "sku": li["sku"],
                "lineItem": {
                    "__typename": "LineItem", "id": li["admin_graphql_api_id"], "sku": li["sku"],
                    "quantity": li["quantity"], "title": li["title"],
                    "variant": self._variant_obj(gid("ProductVariant", li["variant_id"])) if li["variant_id"]
                    else None,
                },
            }

        return {
            "__typename": "FulfillmentOrder",
            "__implements": ("Node",),
            "id": fo["id"],
            "status": fo["status"],
            "requestStatus": "UNSUBMITTED",
            "orderId": fo["orderId"],
            "order": lambda a: self._order_obj(fo["orderId"]),
            "assignedLocation": {"__typename": "FulfillmentOrderAssignedLocation",
                                 "name": self.locations[fo["locationId"]]["name"],
                                 "location": self._location_obj(fo["locationId"])},
            "lineItems": lambda a: _connection(
                [((gid_number(fl["id"]),), fo_line(fl)) for fl in fo["lineItems"]], a,
                "FulfillmentOrderLineItemConnection", self.max_page),
        }

    def _fulfillment_obj(self, ident: Any) -> dict[str, Any] | None:
        f = self.fulfillments.get(ident)
        if f is None:
            return None
        return {
            "__typename": "Fulfillment",
            "__implements": ("Node",),
            "id": f["id"],
            "status": f["status"],
            "createdAt": f["createdAt"],
            "trackingInfo": lambda a: [{"__typename": "FulfillmentTrackingInfo", **t} for t in f["trackingInfo"]]
            [: a.get("first") or None],
            "order": lambda a: self._order_obj(f["orderId"]),
        }

    # -- fulfillmentCreate -------------------------------------------------------------------------
    # https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/fulfillmentCreate

    def _m_fulfillment_create(self, a: dict[str, Any]) -> dict[str, Any]:
        data = a.get("fulfillment")
        payload: dict[str, Any] = {"__typename": "FulfillmentCreatePayload", "fulfillment": None, "userErrors": []}
        if not isinstance(data, dict) or not data.get("lineItemsByFulfillmentOrder"):
            raise GraphQLError("Argument 'fulfillment' (FulfillmentInput!) needs lineItemsByFulfillmentOrder",
                               "missingRequiredArguments")
        plan: list[tuple[dict[str, Any], dict[str, Any], int]] = []
        order_ids = set()
        for i, group in enumerate(data["lineItemsByFulfillmentOrder"]):
            fo = self.fulfillment_orders.get(group.get("fulfillmentOrderId"))
            path = ["fulfillment", "lineItemsByFulfillmentOrder", str(i)]
            if fo is None:
                payload["userErrors"] = [_uerr(path + ["fulfillmentOrderId"], "Fulfillment order does not exist.")]
                return payload
            if fo["status"] not in ("OPEN", "IN_PROGRESS"):
                payload["userErrors"] = [_uerr(path, "The fulfillment order is not in an open state.")]
                return payload
            order_ids.add(fo["orderId"])
            wanted = group.get("fulfillmentOrderLineItems") or []
            if not wanted:
                plan.extend((fo, fl, fl["remainingQuantity"]) for fl in fo["lineItems"] if fl["remainingQuantity"])
            for j, w in enumerate(wanted):
                fl = next((x for x in fo["lineItems"] if x["id"] == w.get("id")), None)
                qty = w.get("quantity")
                if fl is None:
                    payload["userErrors"] = [_uerr(path + ["fulfillmentOrderLineItems", str(j), "id"],
                                                   "Fulfillment order line item does not exist.")]
                    return payload
                if not isinstance(qty, int) or qty <= 0 or qty > fl["remainingQuantity"]:
                    payload["userErrors"] = [_uerr(path + ["fulfillmentOrderLineItems", str(j), "quantity"],
                                                   "Invalid fulfillment order line item quantity requested.")]
                    return payload
                plan.append((fo, fl, qty))
        if len(order_ids) != 1:
            payload["userErrors"] = [_uerr(["fulfillment"], "All fulfillment orders must belong to the same order.")]
            return payload
        if not plan:
            payload["userErrors"] = [_uerr(["fulfillment"], "Nothing left to fulfill.")]
            return payload
        tracking = data.get("trackingInfo") or {}
        numbers = tracking.get("numbers") or ([tracking["number"]] if tracking.get("number") else [])
        urls = tracking.get("urls") or ([tracking["url"]] if tracking.get("url") else [])
        infos = [{"company": tracking.get("company"), "number": n, "url": urls[k] if k < len(urls) else None}
                 for k, n in enumerate(numbers)]
        order_id = order_ids.pop()
        for fo, fl, qty in plan:
            fl["remainingQuantity"] -= qty
            fo["status"] = "CLOSED" if all(x["remainingQuantity"] == 0 for x in fo["lineItems"]) else "IN_PROGRESS"
        fid = gid("Fulfillment", self._new_id())
        self.fulfillments[fid] = {
            "id": fid, "orderId": order_id, "status": "SUCCESS", "createdAt": _iso_utc(datetime.now(UTC)),
            "trackingInfo": infos, "notifyCustomer": bool(data.get("notifyCustomer", False)),
            "message": a.get("message"),
            "lineItems": [{"fulfillmentOrderLineItemId": fl["id"], "lineItemId": fl["lineItemId"], "quantity": q}
                          for _fo, fl, q in plan],
        }
        order = self.orders[order_id]
        remaining = sum(fl["remainingQuantity"] for fo in self.fulfillment_orders.values()
                        if fo["orderId"] == order_id for fl in fo["lineItems"])
        order["fulfillment_status"] = "fulfilled" if remaining == 0 else "partial"
        order["updated_at"] = datetime.now(UTC).replace(microsecond=0).astimezone(self.shop_tz).isoformat()
        self._emit("ORDERS_FULFILLED" if remaining == 0 else "ORDERS_PARTIALLY_FULFILLED", order)
        self._emit("ORDERS_UPDATED", order)
        payload["fulfillment"] = self._fulfillment_obj(fid)
        return payload

    # -- webhooks ----------------------------------------------------------------------------------
    # https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/webhookSubscriptionCreate

    def _m_webhook_create(self, a: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {"__typename": "WebhookSubscriptionCreatePayload", "webhookSubscription": None,
                                   "userErrors": []}
        topic = a.get("topic")
        sub = a.get("webhookSubscription") or {}
        if topic not in TOPICS:
            raise GraphQLError(f"Argument 'topic' on Field 'webhookSubscriptionCreate' has an invalid value "
                               f"({topic}). Expected type 'WebhookSubscriptionTopic!'.", "argumentLiteralsIncompatible")
        if "uri" in sub and self.api_version < "2025-10":
            raise GraphQLError("InputObject 'WebhookSubscriptionInput' doesn't accept argument 'uri'",
                               "argumentNotAccepted")
        uri = sub.get("uri") or sub.get("callbackUrl")
        if not uri or not re.match(r"^(https?://|pubsub://|arn:aws:events:)", str(uri)):
            payload["userErrors"] = [_uerr(["webhookSubscription", "callbackUrl"], "Address is invalid")]
            return payload
        if any(s["topic"] == topic and s["uri"] == uri for s in self.subscriptions.values()):
            payload["userErrors"] = [_uerr(["webhookSubscription", "callbackUrl"],
                                           "Address for this topic has already been taken")]
            return payload
        sid = gid("WebhookSubscription", self._new_id())
        self.subscriptions[sid] = {"id": sid, "topic": topic, "uri": uri, "format": sub.get("format", "JSON"),
                                   "createdAt": _iso_utc(datetime.now(UTC))}
        payload["webhookSubscription"] = self._subscription_obj(sid)
        return payload

    def _m_webhook_delete(self, a: dict[str, Any]) -> dict[str, Any]:
        sid = a.get("id")
        if self.subscriptions.pop(sid, None) is None:
            return {"__typename": "WebhookSubscriptionDeletePayload", "deletedWebhookSubscriptionId": None,
                    "userErrors": [_uerr(["id"], "Webhook subscription does not exist")]}
        return {"__typename": "WebhookSubscriptionDeletePayload", "deletedWebhookSubscriptionId": sid,
                "userErrors": []}

    def _subscription_obj(self, sid: str) -> dict[str, Any] | None:
        s = self.subscriptions.get(sid)
        if s is None:
            return None
        return {"__typename": "WebhookSubscription", "id": s["id"], "topic": s["topic"], "uri": s["uri"],
                "callbackUrl": s["uri"], "format": s["format"], "createdAt": s["createdAt"],
                "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": s["uri"]}}

    def subscribe(self, topic: str, uri: str) -> str:
        """In-process subscription (as if made through the API)."""
        with self._lock:
            sid = gid("WebhookSubscription", self._new_id())
            self.subscriptions[sid] = {"id": sid, "topic": topic, "uri": uri, "format": "JSON",
                                       "createdAt": _iso_utc(datetime.now(UTC))}
            return sid

    def _emit(self, topic: str, resource: dict[str, Any]) -> None:
        """Queue one event's deliveries: one per subscription, all with the same Event-Id."""
        subs = [s for s in self.subscriptions.values() if s["topic"] == topic and s["uri"].startswith("http")]
        if not subs:
            return
        event_id = str(uuid.uuid4())
        triggered = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        body = json.dumps(resource, separators=(",", ":")).encode()  # serialized once: retries resend it
        for sub in subs:
            for copy_no in range(1 + self.webhook_duplicates):
                delivery = {
                    "subscription": sub["id"], "uri": sub["uri"], "topic": TOPICS[topic], "event_id": event_id,
                    "webhook_id": str(uuid.uuid4()), "triggered_at": triggered, "body": body, "attempts": [],
                    "copy": copy_no, "done": False,
                }
                self.deliveries.append(delivery)
                if self._deliverer is not None:
                    self._deliverer.schedule(delivery, 0.0)

    def delivery_headers(self, delivery: dict[str, Any], attempt: int) -> dict[str, str]:
        webhook_id = delivery["webhook_id"] if (attempt == 0 or self.webhook_id_stable_across_retries) \
            else str(uuid.uuid4())
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": delivery["topic"],
            "X-Shopify-Hmac-Sha256": sign_webhook(self.client_secret, delivery["body"]),
            "X-Shopify-Shop-Domain": self.domain,
            "X-Shopify-API-Version": self.api_version,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Event-Id": delivery["event_id"],
            "X-Shopify-Triggered-At": delivery["triggered_at"],
        }

    # -- inspection (control surface) --------------------------------------------------------------

    def inventory_levels(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"inventory_item_id": item["id"], "variant_id": item["variantId"], "sku": item["sku"],
                 "location_id": loc, **level}
                for item in self.items.values() for loc, level in item["levels"].items()
            ]

    def available(self, variant_id: str, location_id: str | None = None) -> int:
        with self._lock:
            item = self.items[self.variants[variant_id]["inventoryItemId"]]
            return item["levels"][location_id or self.primary_location]["available"]

    def fulfillments_for(self, order_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(f) for f in self.fulfillments.values() if f["orderId"] == order_id]

    def product(self, product_id: str) -> dict[str, Any]:
        """A plain view of a product: options, variants (price/compareAtPrice as decimal strings), images."""
        with self._lock:
            p = self.products[product_id]
            return {
                "id": p["id"], "title": p["title"], "handle": p["handle"], "vendor": p["vendor"],
                "descriptionHtml": p["descriptionHtml"], "status": p["status"],
                "options": copy.deepcopy(p["options"]),
                "images": [m["url"] for m in p["media"]],
                "variants": [
                    {"id": v["id"], "sku": v["sku"], "price": str(v["price"]),
                     "compareAtPrice": str(v["compareAtPrice"]) if v["compareAtPrice"] is not None else None,
                     "barcode": v["barcode"], "inventoryItemId": v["inventoryItemId"],
                     "options": {o["name"]: o["value"] for o in v["selectedOptions"]}}
                    for v in (self.variants[x] for x in p["variants"])
                ],
            }

    def seed_product(self, title: str, variants: list[dict[str, Any]], options: list[str] | None = None,
                     quantity_location: str | None = None) -> dict[str, Any]:
        """In-process product creation (as the merchant would in the admin): variants are
        {"sku", "price", "compareAtPrice"?, "options"?: {name: value}, "quantity"?}."""
        with self._lock:
            names = options or sorted({k for v in variants for k in (v.get("options") or {})})
            data = {
                "title": title,
                "productOptions": [
                    {"name": n, "values": [{"name": x} for x in dict.fromkeys(
                        (v.get("options") or {}).get(n) for v in variants)]}
                    for n in names
                ] or None,
                "variants": [
                    {"sku": v["sku"], "price": v["price"], "compareAtPrice": v.get("compareAtPrice"),
                     "optionValues": [{"optionName": n, "name": v["options"][n]} for n in names],
                     "inventoryQuantities": [{"locationId": quantity_location or self.primary_location,
                                              "name": "available", "quantity": int(v.get("quantity", 0))}]}
                    for v in variants
                ],
            }
            if data["productOptions"] is None:
                del data["productOptions"]
            pid = self._product_set(data, {})
            return self.product(pid)

    def add_location(self, name: str) -> str:
        with self._lock:
            loc = gid("Location", self._new_id())
            self.locations[loc] = {"id": loc, "name": name, "isActive": True}
            return loc

    # -- HTTP app ----------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title=f"Shopify emulator ({self.domain})", docs_url=None, redoc_url=None,
                      openapi_url=None)
        emu = self

        @app.post("/admin/oauth/access_token")
        async def access_token(request: Request) -> Response:
            ctype = request.headers.get("content-type", "")
            raw = await request.body()
            if ctype.startswith("application/x-www-form-urlencoded"):
                from urllib.parse import parse_qs

                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            elif ctype.startswith("application/json"):
                try:
                    form = json.loads(raw or b"{}")
                except ValueError:
                    form = {}
            else:
                return JSONResponse({"error": "invalid_request",
                                     "error_description": "Unsupported content type"}, status_code=400)
            if form.get("grant_type") != "client_credentials":
                return JSONResponse({"error": "unsupported_grant_type",
                                     "error_description": "The grant type is not supported"}, status_code=400)
            if not (hmac.compare_digest(str(form.get("client_id", "")), emu.client_id)
                    and hmac.compare_digest(str(form.get("client_secret", "")), emu.client_secret)):
                return JSONResponse({"error": "invalid_client",
                                     "error_description": "Client authentication failed"}, status_code=401)
            token = emu.grant_token()
            body: dict[str, Any] = {"access_token": token, "scope": emu.scopes}
            if emu.report_expires_in:
                body["expires_in"] = int(emu.token_lifetime)
            return JSONResponse(body)

        @app.post("/admin/api/{version}/graphql.json")
        async def graphql(version: str, request: Request) -> Response:
            if version != emu.api_version:
                return JSONResponse({"errors": "Not Found"}, status_code=404)
            if not emu._token_ok(request.headers.get("x-shopify-access-token")):
                with emu._lock:
                    emu.stats["unauthorized"] += 1
                return JSONResponse(INVALID_TOKEN_BODY, status_code=401)
            try:
                body = json.loads(await request.body())
            except ValueError:
                return JSONResponse({"errors": {"query": "Required parameter missing or invalid"}}, status_code=400)
            status, out = emu.graphql(body)
            headers = {}
            if status == 429:
                cost = out.get("extensions", {}).get("cost", {})
                need = (cost.get("requestedQueryCost") or 0) - cost.get("throttleStatus", {}).get(
                    "currentlyAvailable", 0)
                headers["Retry-After"] = f"{max(0.0, need / emu.restore_rate):.2f}"
            return JSONResponse(out, status_code=status, headers=headers)

        @app.post("/_control/orders")
        async def control_create_order(request: Request) -> Response:
            spec = await request.json()
            lines = spec.pop("lines")
            return JSONResponse(emu.create_order(lines, **spec))

        @app.post("/_control/orders/{order_id}/cancel")
        def control_cancel(order_id: int, reason: str = "customer") -> Response:
            return JSONResponse(emu.cancel_order(order_id, reason))

        @app.post("/_control/throttle")
        async def control_throttle(request: Request) -> Response:
            emu.throttle_next(int((await request.json()).get("calls", 1)))
            return JSONResponse({"ok": True})

        @app.post("/_control/faults")
        async def control_faults(request: Request) -> Response:
            spec = await request.json()
            emu.fail_next(int(spec.get("calls", 1)), int(spec.get("status", 503)))
            return JSONResponse({"ok": True})

        @app.post("/_control/tokens/expire")
        def control_expire() -> Response:
            emu.expire_tokens()
            return JSONResponse({"ok": True})

        @app.get("/_control/inventory")
        def control_inventory() -> Response:
            return JSONResponse(emu.inventory_levels())

        @app.get("/_control/fulfillments")
        def control_fulfillments() -> Response:
            with emu._lock:
                return JSONResponse(list(copy.deepcopy(list(emu.fulfillments.values()))))

        @app.get("/_control/products")
        def control_products() -> Response:
            with emu._lock:
                ids = list(emu.products)
            return JSONResponse([emu.product(p) for p in ids])

        @app.get("/_control/subscriptions")
        def control_subscriptions() -> Response:
            with emu._lock:
                return JSONResponse(list(emu.subscriptions.values()))

        @app.get("/_control/stats")
        def control_stats() -> Response:
            with emu._lock:
                return JSONResponse(dict(emu.stats))

        @app.get("/_control/deliveries")
        def control_deliveries() -> Response:
            with emu._lock:
                return JSONResponse([
                    {k: (v.decode() if isinstance(v, bytes) else v) for k, v in d.items()} for d in emu.deliveries
                ])

        return app


DEFAULT_ADDRESS = {
    "first_name": "Bob", "last_name": "Norman", "name": "Bob Norman", "company": None,
    "address1": "Chestnut Street 92", "address2": "", "city": "Louisville", "province": "Kentucky",
    "province_code": "KY", "zip": "40202", "country": "United States", "country_code": "US",
    "phone": "555-625-1199",
}


class _Deliverer:
    """Sends webhook deliveries from one background thread; failed ones are retried with the same body,
    Event-Id and Triggered-At after `webhook_retry_delays`."""

    def __init__(self, emu: ShopifyEmulator):
        self.emu = emu
        self._heap: list[tuple[float, int, dict[str, Any]]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"shopify-webhooks-{emu.shop}", daemon=True)
        self._client = build_client(timeout=httpx.Timeout(emu.webhook_timeout, connect=1.0))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
        self._thread.join(5)
        self._client.close()

    def schedule(self, delivery: dict[str, Any], delay: float) -> None:
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), delivery))
            self._cv.notify_all()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cv.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._stopped:
                    return
                _, _, delivery = heapq.heappop(self._heap)
            self._attempt(delivery)

    def _attempt(self, delivery: dict[str, Any]) -> None:
        attempt = len(delivery["attempts"])
        headers = self.emu.delivery_headers(delivery, attempt)
        try:
            response = self._client.post(delivery["uri"], content=delivery["body"], headers=headers)
            outcome: int | str = response.status_code
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        with self.emu._lock:
            delivery["attempts"].append({"at": time.time(), "outcome": outcome, "headers": headers})
            ok = isinstance(outcome, int) and 200 <= outcome < 300
            delivery["done"] = ok
            retry = not ok and attempt < len(self.emu.webhook_retry_delays)
            if not ok and not retry:
                delivery["gave_up"] = True
        if retry:
            self.schedule(delivery, self.emu.webhook_retry_delays[attempt])
