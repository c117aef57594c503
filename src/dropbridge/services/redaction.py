"""Credentials out of anything we log or show: URLs lose their userinfo and the values of query keys that
carry secrets (WooCommerce's consumer_key/consumer_secret, access tokens, signatures, API keys)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_QUERY_KEYS = frozenset({
    "consumer_key", "consumer_secret", "access_token", "token", "key", "api_key", "apikey", "secret",
    "client_secret", "signature", "sig", "password", "auth", "hmac", "oauth_signature", "oauth_token",
    "x-amz-signature", "x-amz-credential", "x-amz-security-token",
})
MASK = "***"
_URL = re.compile(r"""\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'"<>]+""")


def _secret_key(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_QUERY_KEYS or lowered.endswith(("_secret", "_token", "_key", "password"))


def redact_url(url: str) -> str:
    """`url` with its userinfo and secret query values masked; anything unparsable comes back unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret_key(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _secret_key(k) else v) for k, v in pairs], safe="*")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Every URL inside `text` redacted (log lines, error messages)."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: redact_url(m.group(0)), text)
