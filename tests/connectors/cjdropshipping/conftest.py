"""CJ payloads from the published docs (fixtures/SOURCES.md names each) and a connector over MockTransport."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from dropbridge.connectors.kit.budget import RateBudget
from dropbridge.connectors.kit.secrets import MemorySecretStore
from dropbridge.connectors.suppliers.cjdropshipping.connector import CjSupplier

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://developers.cjdropshipping.com/api2.0/v1"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def envelope(data, code: int = 200, message: str = "Success") -> dict:
    return {"code": code, "result": code == 200, "message": message, "data": data, "requestId": "r-1"}


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


class FakeCJ:
    """Routes of a scripted CJ: `routes[(method, path)]` is a list of (status, body) answered in turn (the last
    one repeated); every request is recorded."""

    def __init__(self):
        self.routes: dict[tuple[str, str], list] = {}
        self.requests: list[httpx.Request] = []
        token = fixture("get_access_token.json")
        token["data"]["accessTokenExpiryDate"] = "2031-01-01T00:00:00+08:00"
        token["data"]["refreshTokenExpiryDate"] = "2031-06-01T00:00:00+08:00"
        self.on("POST", "/authentication/getAccessToken", token)

    def on(self, method: str, path: str, *answers) -> None:
        self.routes[(method, path)] = [a if isinstance(a, tuple) else (200, a) for a in answers]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/api2.0/v1")
        answers = self.routes.get((request.method, path))
        if not answers:
            return httpx.Response(404, json={"code": 404, "result": False, "message": "Not Found", "data": None})
        status, body = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(body, Exception):
            raise body
        return httpx.Response(status, json=body)

    def paths(self) -> list[str]:
        return [r.url.path.removeprefix("/api2.0/v1") for r in self.requests]

    def bodies(self, path: str) -> list:
        return [json.loads(r.content) for r in self.requests if r.url.path.endswith(path)]


@pytest.fixture
def cj():
    return FakeCJ()


@pytest.fixture
def clock():
    return Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def make(cj, clock):
    RateBudget._accounts.clear()  # a fresh budget per test: nothing waits on another test's calls

    def build(store=None, *, api_key: str = "CJ123@api@abc", config: dict | None = None,
              webhook_secret: str | None = "s3cret") -> CjSupplier:
        supplier = CjSupplier(BASE, api_key, secrets=store if store is not None else MemorySecretStore(),
                              webhook_secret=webhook_secret, config={"qps": 6, **(config or {})}, clock=clock,
                              transport=httpx.MockTransport(cj.handler))
        supplier.client._budget = RateBudget(1000, 1000)  # no real CJ behind: nothing to pace
        return supplier
    return build
