"""The Printful emulator's traffic checked against Printful's OpenAPI documents (the trimmed copies in spec/):
every request it receives, every response it sends and every webhook it delivers.

openapi-core checks what JSON Schema can (types, required fields, enums); `undefined_fields` adds what JSON
Schema lets through: a field the documents do not define (a body key, a query parameter) is a violation, so
a connector that sends something Printful never documented fails its tests. Errors a route answers with a
status its operation does not list (429, 5xx faults, 4xx refusals) must still use a documented error shape."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPEC_DIR = Path(__file__).resolve().parent / "spec"
HOST = "https://api.printful.com"
# Statuses any operation may answer beyond those it lists: documented in the Errors and Rate Limiting sections.
GENERAL_STATUSES = {400, 401, 403, 404, 409, 429, 500, 502, 503, 504}
IGNORED_HEADERS = {"authorization", "host", "content-length", "content-type", "accept", "accept-encoding",
                   "connection", "user-agent"}


def load(version: str) -> dict:
    return json.loads((SPEC_DIR / f"openapi-{version}.json").read_text())


def _with_webhook_paths(doc: dict) -> dict:
    """x-webhooks as ordinary POST operations under /_webhooks/{type}, so openapi-core can check a delivery
    like a request."""
    out = dict(doc)
    out["paths"] = {**doc["paths"], **{
        f"/_webhooks/{name}": {"post": {**hook["post"], "responses": {"200": {"description": ""}}}}
        for name, hook in doc.get("x-webhooks", {}).items()}}  # their "2xx" key is not valid in paths
    return out


class Spec:
    def __init__(self, version: str):
        self.version = version
        self.doc = _with_webhook_paths(load(version))
        self.api = OpenAPI.from_dict(self.doc)
        self.routes = [(re.compile("^" + re.sub(r"\{([^/]+)\}", r"(?P<\1>[^/]+)", path) + "$"), path)
                       for path in self.doc["paths"]]

    def resolve(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            _, _, kind, name = node["$ref"].split("/", 3)
            node = self.doc["components"][kind][name]
            seen += 1
            if seen > 50:
                raise RuntimeError("reference loop")
        return node

    def operation(self, method: str, path: str) -> tuple[str, dict, dict] | None:
        """(path template, operation, path parameters) of a request, or None when the documents have none."""
        for pattern, template in self.routes:
            match = pattern.match(path)
            if match:
                op = self.doc["paths"][template].get(method.lower())
                return (template, op, match.groupdict()) if op else None
        return None

    def parameters(self, template: str, op: dict, where: str) -> set[str]:
        params = list(self.doc["paths"][template].get("parameters", [])) + list(op.get("parameters", []))
        return {p["name"] for p in map(self.resolve, params) if p.get("in") == where}

    def body_schema(self, op: dict) -> dict | None:
        body = self.resolve(op.get("requestBody"))
        return ((body or {}).get("content") or {}).get("application/json", {}).get("schema")

    def response_schema(self, op: dict, status: int) -> tuple[bool, dict | None]:
        """(documented, its JSON schema) for a status: exact, then 5XX-style ranges, then default."""
        responses = op.get("responses", {})
        for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
            if key in responses:
                response = self.resolve(responses[key])
                content = (response.get("content") or {})
                media = content.get("application/json") or next(iter(content.values()), {})
                return True, media.get("schema")
        return False, None


def _properties(spec: Spec, schema: Any, value: dict) -> tuple[dict[str, Any], bool]:
    """The properties a schema defines for an object value (through allOf, and the branch of oneOf/anyOf
    that fits), and whether it is open (free-form, or additionalProperties allowed)."""
    schema = spec.resolve(schema)
    if not isinstance(schema, dict):
        return {}, True
    props = dict(schema.get("properties") or {})
    extra = schema.get("additionalProperties")
    is_open = bool(extra) and extra is not False
    composed = False
    for member in schema.get("allOf") or []:
        composed = True
        more, member_open = _properties(spec, member, value)
        props.update({k: v for k, v in more.items() if k not in props})
        member = spec.resolve(member)
        is_open = is_open or (member_open and bool(member.get("additionalProperties")))
    branches = schema.get("oneOf") or schema.get("anyOf")
    if branches:
        composed = True
        chosen = _branch(spec, schema, branches, value)
        more, branch_open = _properties(spec, chosen, value)
        props.update(more)
        is_open = is_open or branch_open
    if not props and not composed:
        is_open = True  # a free-form object (no properties named)
    return props, is_open


def _branch(spec: Spec, schema: dict, branches: list, value: dict) -> Any:
    disc = schema.get("discriminator")
    if disc and isinstance(value, dict) and value.get(disc["propertyName"]) in (disc.get("mapping") or {}):
        return {"$ref": disc["mapping"][value[disc["propertyName"]]]}
    best, fewest = branches[0], None
    for branch in branches:
        props, is_open = _properties(spec, branch, value)
        unknown = 0 if is_open else sum(1 for k in value if k not in props)
        if fewest is None or unknown < fewest:
            best, fewest = branch, unknown
    return best


def undefined_fields(spec: Spec, schema: Any, value: Any, where: str = "") -> list[str]:
    """Every key in `value` the schema does not define, as a JSON path."""
    schema = spec.resolve(schema)
    if schema is None or not isinstance(schema, dict):
        return []
    if isinstance(value, dict):
        props, is_open = _properties(spec, schema, value)
        out = [] if is_open else [f"{where}.{key}" for key in value if key not in props]
        for key, item in value.items():
            if key in props:
                out += undefined_fields(spec, props[key], item, f"{where}.{key}")
        return out
    if isinstance(value, list):
        items = schema.get("items")
        if items is None:
            for member in schema.get("allOf") or []:
                items = spec.resolve(member).get("items") or items
        return [p for i, item in enumerate(value) for p in undefined_fields(spec, items, item, f"{where}[{i}]")] \
            if items is not None else []
    return []


def _error_text(exc: Exception) -> str:
    parts = [f"{type(exc).__name__}: {exc}"]
    for attr in ("schema_errors",):
        for err in getattr(exc, attr, None) or []:
            parts.append(f"  {'/'.join(map(str, err.absolute_path))}: {err.message}")
    cause = exc.__cause__
    while cause is not None:
        parts.append(f"  caused by {type(cause).__name__}: {cause}")
        for err in getattr(cause, "schema_errors", None) or []:
            parts.append(f"    {'/'.join(map(str, err.absolute_path))}: {err.message}")
        cause = cause.__cause__
    return "\n".join(parts)


class SpecCheck:
    """Collects violations; a test asserts `violations == []` at the end (see `assert_clean`)."""

    def __init__(self):
        self.specs = {"v1": Spec("v1"), "v2": Spec("v2")}
        self.violations: list[str] = []
        self.checked = 0
        self._lock = threading.Lock()

    def _fail(self, message: str) -> None:
        with self._lock:
            self.violations.append(message)

    def spec_for(self, path: str) -> Spec:
        return self.specs["v2" if path.startswith("/v2/") else "v1"]

    def exchange(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes, status: int,
                 response_headers: dict[str, str], response_body: bytes) -> None:
        with self._lock:
            self.checked += 1
        spec = self.spec_for(path)
        found = spec.operation(method, path)
        what = f"{method} {path}"
        if found is None:
            self._fail(f"{what}: not an operation of Printful's {spec.version} documents")
            return
        template, op, path_params = found
        args = parse_qsl(query, keep_blank_values=True)
        unknown_params = sorted({k for k, _ in args} - spec.parameters(template, op, "query"))
        if unknown_params:
            self._fail(f"{what}: query parameters the documents do not define: {unknown_params}")
        content_type = headers.get("content-type", "application/json").split(";")[0] or "application/json"
        request = MockRequest(HOST, method.lower(), path, path_pattern=template, args=args, view_args=path_params,
                              headers={k: v for k, v in headers.items() if k.lower() not in IGNORED_HEADERS},
                              data=body or None, content_type=content_type)
        try:
            spec.api.validate_request(request)
        except Exception as exc:  # noqa: BLE001 - every kind of validation failure is a finding
            self._fail(f"{what}: request does not match the documents:\n{_error_text(exc)}")
        schema = spec.body_schema(op)
        if body and schema is not None:
            try:
                sent = json.loads(body)
            except ValueError:
                sent = None
            for field in undefined_fields(spec, schema, sent, "body") if sent is not None else []:
                self._fail(f"{what}: request field {field} is not defined by the documents")
        self._response(spec, what, request, op, status, response_headers, response_body)

    def _response(self, spec: Spec, what: str, request, op: dict, status: int, headers: dict[str, str],
                  body: bytes) -> None:
        documented, schema = spec.response_schema(op, status)
        content_type = headers.get("content-type", "application/json").split(";")[0]
        if not documented:
            if status not in GENERAL_STATUSES:
                self._fail(f"{what}: answered {status}, a status the documents do not give it")
                return
            # Undocumented for this operation but general (429, a 5xx fault, a refusal): the common error shape.
            schema = self.specs["v1"].resolve({"$ref": "#/components/responses/BadRequest"})["content"][
                "application/json"]["schema"]
            self._check_body(self.specs["v1"], what, status, schema, body)
            return
        if not body:
            return
        response = MockResponse(body, status_code=status, headers=headers, content_type=content_type)
        try:
            spec.api.validate_response(request, response)
        except Exception as exc:  # noqa: BLE001
            self._fail(f"{what}: {status} response does not match the documents:\n{_error_text(exc)}")
        if schema is not None:
            self._check_body(spec, what, status, schema, body)

    def _check_body(self, spec: Spec, what: str, status: int, schema: dict, body: bytes) -> None:
        try:
            value = json.loads(body) if body else None
        except ValueError:
            self._fail(f"{what}: {status} response is not JSON")
            return
        for field in undefined_fields(spec, schema, value, "body"):
            self._fail(f"{what}: {status} response field {field} is not defined by the documents")

    def webhook(self, raw_body: bytes) -> None:
        """A delivery the emulator sent, against its event's schema in x-webhooks."""
        with self._lock:
            self.checked += 1
        spec = self.specs["v2"]
        try:
            event = json.loads(raw_body)["type"]
        except (ValueError, KeyError, TypeError):
            self._fail("webhook: body is not a Printful event")
            return
        found = spec.operation("post", f"/_webhooks/{event}")
        if found is None:
            self._fail(f"webhook {event}: not an event of the documents (or not kept by trim.py)")
            return
        template, op, _ = found
        request = MockRequest(HOST, "post", f"/_webhooks/{event}", path_pattern=template, data=raw_body)
        try:
            spec.api.validate_request(request)
        except Exception as exc:  # noqa: BLE001
            self._fail(f"webhook {event}: does not match the documents:\n{_error_text(exc)}")
        for field in undefined_fields(spec, spec.body_schema(op), json.loads(raw_body), "body"):
            self._fail(f"webhook {event}: field {field} is not defined by the documents")

    def assert_clean(self) -> None:
        assert self.checked > 0, "nothing was checked"
        assert self.violations == [], "\n\n".join(self.violations[:20])


class CheckedApp:
    """ASGI middleware: passes traffic through unchanged, then checks the exchange (controls excepted)."""

    def __init__(self, app, check: SpecCheck):
        self.app = app
        self.check = check

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/_control"):
            await self.app(scope, receive, send)
            return
        chunks = []
        more, gone = True, False
        while more:
            message = await receive()
            gone = message["type"] == "http.disconnect"  # the client died mid-request (a killed worker)
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False) and not gone
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        held: list[dict] = []

        async def capture(message):
            held.append(message)  # answered once checked, so a test reading the findings sees this one

        await self.app(scope, replay, capture)
        start = next((m for m in held if m["type"] == "http.response.start"), None)
        if not gone and start is not None:
            headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
            request_headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            out = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
            self.check.exchange(scope["method"], scope["path"], scope.get("query_string", b"").decode(),
                                request_headers, body, start["status"], headers, out)
        for message in held:
            await send(message)


def checked(emulator, check: SpecCheck):
    """Wrap an emulator (before it starts) so its traffic and its webhooks are checked."""
    emulator.app = CheckedApp(emulator.app, check)
    sender_attempt = emulator.sender._attempt

    def attempt(delivery):
        rebuild = delivery.get("rebuild")
        if rebuild is not None:
            delivery["body"] = rebuild(len(delivery["attempts"]))
        check.webhook(delivery["body"])
        sender_attempt(delivery)
    emulator.sender._attempt = attempt
    return emulator
