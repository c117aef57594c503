"""Vendor-published example payloads kept beside each platform's tests (`<platform>/fixtures/*.json`).

Each file is `{"source": {...}, "status": int, "headers"?: {...}, "body": <the vendor's example, as
published>}`; `source` names where the example was published (a docs page and/or repository, path and
commit). `serve` answers requests from these files through `httpx.MockTransport`, so the real connector
code decodes them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent


def load(platform: str, name: str) -> dict[str, Any]:
    return json.loads((HERE / platform / "fixtures" / f"{name}.json").read_text())


def all_fixtures(platform: str) -> list[Path]:
    return sorted((HERE / platform / "fixtures").glob("*.json"))


def respond(fixture: dict[str, Any]) -> httpx.Response:
    return httpx.Response(fixture["status"], content=json.dumps(fixture["body"]).encode(),
                          headers={"Content-Type": "application/json", **fixture.get("headers", {})})


def serve(platform: str, routes: dict[tuple[str, str], str], fallback: str,
          seen: list[httpx.Request] | None = None) -> httpx.MockTransport:
    """(method, path or the path's end) -> fixture name; anything else answers the `fallback` fixture."""

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        path = request.url.path
        name = next((n for (m, p), n in routes.items() if m == request.method and path.endswith(p)), fallback)
        return respond(load(platform, name))

    return httpx.MockTransport(handler)


def check_sources(platform: str, required: Callable[[dict[str, Any]], bool] | None = None) -> None:
    files = all_fixtures(platform)
    assert files, f"no fixtures for {platform}"
    for path in files:
        fixture = json.loads(path.read_text())
        source = fixture.get("source") or {}
        assert source.get("url") or (source.get("repository") and source.get("path")), f"{path.name} names no source"
        assert "body" in fixture and isinstance(fixture.get("status"), int), path.name
