"""Collection paging (storefronts.md §2.7): `page`/`per_page` (1..100, default 10) and `offset`, with
`X-WP-Total`, `X-WP-TotalPages` and a `Link` header (first, prev, next, last). A page past the end is
200 with `[]`, as WooCommerce's collections answer (unlike WordPress posts' 400)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from .errors import WooError, as_json

API_PREFIX = "/wp-json/wc/v3"


def _int_param(params: Any, name: str, default: int | None) -> int | None:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise WooError(400, "rest_invalid_param", f"Invalid parameter(s): {name}",
                       params={name: f"{name} is not of type integer."}) from None


def paginate(request: Request, items: list[Any], base_path: str) -> Response:
    params = request.query_params
    per_page = _int_param(params, "per_page", 10)
    page = _int_param(params, "page", 1)
    offset = _int_param(params, "offset", None)
    if not 1 <= per_page <= 100:
        raise WooError(400, "rest_invalid_param", "Invalid parameter(s): per_page",
                       params={"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"})
    if page < 1:
        raise WooError(400, "rest_invalid_param", "Invalid parameter(s): page",
                       params={"page": "page must be greater than or equal to 1"})
    total = len(items)
    pages = -(-total // per_page) if total else 0
    start = offset if offset is not None else (page - 1) * per_page
    chunk = items[start: start + per_page]
    query = {k: v for k, v in params.items() if k not in ("page",) and not k.startswith("oauth_")
             and k not in ("consumer_key", "consumer_secret")}
    base = f"{str(request.base_url).rstrip('/')}{API_PREFIX}{base_path}"

    def link(n: int, rel: str) -> str:
        return f'<{base}?{urlencode({**query, "page": n})}>; rel="{rel}"'

    links = []
    if pages:
        links.append(link(1, "first"))
    if page > 1 and pages:
        links.append(link(min(page - 1, pages), "prev"))
    if page < pages:
        links.append(link(page + 1, "next"))
    if pages:
        links.append(link(pages, "last"))
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    if links:
        headers["Link"] = ", ".join(links)
    return as_json(chunk, 200, headers)
