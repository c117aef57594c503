"""The door: what every request passes before any endpoint runs or any byte of its body is read.

One pure ASGI middleware (starlette's BaseHTTPMiddleware would cost about as much CPU as storing an order):

- `/api/` requires a valid bearer token, checked from the headers: without one the answer is 401 and the
  body is never read (a 300 MB upload without a token costs nothing). The token's Principal goes into the
  request state, where the endpoints' scope checks find it.
- Every body has a limit (feed uploads a larger one): a Content-Length beyond it is answered 413 unread, and
  a body that streams past it is cut off with 413 as soon as it does.
- A body that is not multipart or declared binary must be UTF-8 (JSON is, by definition): otherwise 400.

A limit or encoding error is raised from `receive`, inside whatever endpoint is reading the body; the answer
is ours whatever the endpoint made of the exception (FastAPI turns errors while parsing a form into 400)."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Awaitable, Callable

_UTF8 = codecs.getincrementaldecoder("utf-8")


class BodyRejected(Exception):
    """A request body refused while it was read (too large, not UTF-8)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


async def send_json(send, status: int, detail: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


UNAUTHORIZED = "missing or invalid bearer token"
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})
_CHALLENGE = ((b"www-authenticate", b"Bearer"),)


class EdgeGuard:
    def __init__(self, app, *, authenticate: Callable[[bytes | None], Awaitable[object | None]], max_body: int,
                 max_upload: int, upload_path: str, protected_prefix: str = "/api/"):
        self.app = app
        self.authenticate = authenticate
        self.max_body = max_body
        self.max_upload = max_upload
        self.upload_path = re.compile(upload_path)
        self.protected_prefix = protected_prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        authorization = length = content_type = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value
        path = scope["path"]
        if path.startswith(self.protected_prefix):
            principal = await self.authenticate(authorization)
            if principal is None:
                return await send_json(send, 401, UNAUTHORIZED, _CHALLENGE)
            scope.setdefault("state", {})["principal"] = principal
        if scope["method"] in _BODILESS:
            return await self.app(scope, receive, send)  # no endpoint reads a body here: nothing more to guard
        limit = self.max_upload if path.endswith("/feeds") and self.upload_path.match(path) else self.max_body
        if length is not None:
            if not length.isdigit():
                return await send_json(send, 400, "Content-Length is not a number")
            if int(length) > limit:
                return await send_json(send, 413, too_large(limit))
        ctype = (content_type or b"").lower()
        utf8 = not (ctype.startswith(b"multipart/") or ctype.startswith(b"application/octet-stream"))
        door = _Door(receive, send, limit, utf8)
        try:
            await self.app(scope, door.receive, door.send)
        except Exception as exc:
            rejection = exc if isinstance(exc, BodyRejected) else door.refused
            if rejection is None:
                raise
            if not door.started:  # else the answer is already on its way (an endpoint that streams as it reads)
                door.started = True
                await send_json(send, rejection.status, str(rejection))


class _Door:
    """One request's body as the app reads it (counted, checked) and its answer (ours after a refusal). A slotted
    object rather than closures: this runs on every order, and cells cost more than slots."""

    __slots__ = ("_receive", "_send", "limit", "utf8", "received", "decoder", "refused", "started")

    def __init__(self, receive, send, limit: int, utf8: bool):
        self._receive, self._send, self.limit, self.utf8 = receive, send, limit, utf8
        self.received = 0
        self.decoder = None
        self.refused: BodyRejected | None = None
        self.started = False

    async def receive(self):
        message = await self._receive()
        if message["type"] != "http.request":
            return message
        body = message.get("body", b"")
        more = message.get("more_body", False)
        self.received += len(body)
        pending = 0  # bytes of a character split across messages, kept by the decoder
        try:
            if self.received > self.limit:
                raise BodyRejected(413, too_large(self.limit))
            if self.utf8:
                if self.decoder is None and not more:
                    body.decode()  # the whole body in one message: the usual case
                else:
                    self.decoder = self.decoder or _UTF8()
                    pending = len(self.decoder.getstate()[0])
                    self.decoder.decode(body, not more)
        except UnicodeDecodeError as exc:
            at = self.received - len(body) - pending + exc.start
            self.refused = BodyRejected(400, f"the request body is not valid UTF-8 (at byte {at})")
            raise self.refused from None
        except BodyRejected as exc:
            self.refused = exc
            raise
        return message

    async def send(self, message):
        if self.refused is not None:  # whatever the endpoint made of the refusal, the answer is ours
            if not self.started:
                self.started = True
                await send_json(self._send, self.refused.status, str(self.refused))
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def too_large(limit: int) -> str:
    return f"request body too large: the limit here is {limit} bytes"
