"""Sessions and CSRF for the dashboard.

Session: a random id from services/users.py, stored hashed; the cookie carries it signed (itsdangerous),
HttpOnly, SameSite=Lax, Secure when the request came over https. CSRF: asgi-csrf's signed double-submit
cookie, checked on every form post (the token travels as the first form field); the API (bearer tokens)
and platform webhooks (signatures) carry no session cookie and are not checked.

File uploads (multipart) are the exception: asgi-csrf 0.11 parses them with an argument python-multipart
no longer takes, so it lets them through (`skip_if_scope`) and the upload endpoint applies the same rule
itself (`check_form_token`: the form's token must equal the signed cookie) before it acts on anything."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from asgi_csrf import Errors, asgi_csrf_decorator
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from dropbridge.secrets import load_keys

SESSION_COOKIE = "dropbridge_session"
CSRF_COOKIE = "dropbridge_csrf"
CSRF_FIELD = "csrftoken"
NOT_DASHBOARD = ("/api/", "/webhooks/", "/healthz", "/metrics")


def derive_secret(settings, purpose: str) -> str:
    """A signing key per purpose from the instance's secret keys (newest first), never the key itself."""
    key = load_keys(settings.secret_keys, settings.secret_keys_file)[0]
    return hmac.new(key.encode(), f"dropbridge-{purpose}".encode(), hashlib.sha256).hexdigest()


class SessionCookie:
    def __init__(self, settings):
        self.max_age = int(settings.session_hours * 3600)
        self._serializer = URLSafeTimedSerializer(derive_secret(settings, "session"), salt="session")

    def dump(self, session_id: str) -> str:
        return self._serializer.dumps(session_id)

    def load(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return self._serializer.loads(value, max_age=self.max_age)
        except BadSignature:
            return None

    def set(self, response, request, session_id: str) -> None:
        response.set_cookie(SESSION_COOKIE, self.dump(session_id), max_age=self.max_age, httponly=True,
                            samesite="lax", secure=request.url.scheme == "https", path="/")

    @staticmethod
    def clear(response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")


_CSRF_PAGE = (b"<!doctype html><meta charset=utf-8><title>Refused</title><body style='font-family:sans-serif;"
              b"padding:2rem'><h1>Form refused</h1><p>This form was sent without its security token (CSRF), or "
              b"with a stale one. Go back, reload the page and try again.</p>")


def refusal_page() -> bytes:
    return _CSRF_PAGE


async def _refuse(scope, send, error: Errors) -> None:
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                            (b"x-csrf-error", error.name.encode())]})
    await send({"type": "http.response.body", "body": _CSRF_PAGE})


def _multipart(scope) -> bool:
    return any(k == b"content-type" and v.startswith(b"multipart/form-data") for k, v in scope.get("headers", []))


def _skip(scope) -> bool:
    return scope["path"].startswith(NOT_DASHBOARD) or _multipart(scope)


def check_form_token(secret: str, cookie: str | None, submitted: str | None) -> bool:
    """The double-submit rule asgi-csrf applies: a cookie we signed, and the same value in the form."""
    if not cookie or not submitted:
        return False
    try:
        URLSafeSerializer(secret).loads(cookie, "csrftoken")
    except BadSignature:
        return False
    return secrets.compare_digest(cookie, submitted)


class CsrfMiddleware:
    """asgi-csrf as a Starlette middleware class. The login form is protected even before any cookie."""

    def __init__(self, app, secret: str):
        self.app = asgi_csrf_decorator(
            signing_secret=secret, cookie_name=CSRF_COOKIE, form_input=CSRF_FIELD, always_protect={"/login"},
            send_csrf_failed=_refuse, skip_if_scope=_skip)(app)

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)
