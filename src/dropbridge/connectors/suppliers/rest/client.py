"""HTTP calls to a generic REST supplier; no translation here (that is mapping.py).

The API is our own definition, documented in `dropbridge.sandbox.rest_supplier`.
"""

from __future__ import annotations

from typing import Any

import httpx

from dropbridge.connectors.kit.http import build_client, send

ORDERS = "/orders"


class RestSupplierClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self._http = build_client(
            base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        return send(self._http, "POST", ORDERS, what="rest supplier: create order", json=body).json()

    def orders_by_reference(self, reference: str) -> list[dict[str, Any]]:
        response = send(
            self._http, "GET", ORDERS, what="rest supplier: find order", params={"reference": reference}
        )
        return response.json()["orders"]

    def get_order(self, order_id: str) -> dict[str, Any]:
        return send(self._http, "GET", f"{ORDERS}/{order_id}", what="rest supplier: get order").json()

    def cancel_order(self, order_id: str) -> dict[str, Any]:
        return send(self._http, "POST", f"{ORDERS}/{order_id}/cancel", what="rest supplier: cancel").json()

    def close(self) -> None:
        self._http.close()
