"""Trim Printful's published OpenAPI documents to the operations dropbridge's Printful connector and emulator
use, plus every component those reference, so the tests can validate against them without ../shared.

Vendor data, not code. Sources (see README.md beside this file):
- v1: Printful API v1, https://developers.printful.com/docs/ (as published in the public repository
  reisr3/printful-demo, file printfulapi.json);
- v2: Printful API v2 beta, https://developers.printful.com/docs/v2-beta/ (from spencerlepine/printful-sdk-js-v2,
  file openapi.json).

Run from the repository root: `python tests/connectors/printful/spec/trim.py [SOURCE_DIR]` (default
../shared/contracts/printful). Prose (descriptions, examples) is dropped; schemas are kept as published,
except the supplements listed in SUPPLEMENTS (each with its reason), which are marked `x-dropbridge-supplement`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
METHODS = ("get", "post", "put", "patch", "delete")

KEEP = {
    "v1": {
        "/orders": ("get", "post"),
        "/orders/{id}": ("get", "delete"),
        "/orders/{id}/confirm": ("post",),
        "/store/products": ("get",),
        "/store/products/{id}": ("get",),
        "/shipping/rates": ("post",),
    },
    "v2": {
        "/v2/catalog-products": ("get",),
        "/v2/catalog-products/{id}": ("get",),
        "/v2/catalog-products/{id}/catalog-variants": ("get",),
        "/v2/catalog-products/{id}/prices": ("get",),
        "/v2/catalog-products/{id}/availability": ("get",),
        "/v2/orders": ("get", "post"),
        "/v2/orders/{order_id}": ("get", "delete"),
        "/v2/orders/{order_id}/confirmation": ("post",),
        "/v2/orders/{order_id}/shipments": ("get",),
        "/v2/orders/{order_id}/invoices": ("get",),
        "/v2/shipping-rates": ("post",),
        "/v2/webhooks": ("get", "post", "delete"),
    },
}
KEEP_WEBHOOKS = {"v2": ("shipment_sent", "order_created", "order_updated", "order_failed", "order_canceled",
                        "order_put_hold", "catalog_stock_updated")}

# Where the published snapshot lacks what the live API is seen to do. Each: (version, JSON path, value, why).
SUPPLEMENTS = [
    ("v1", ["paths", "/store/products", "get", "parameters"], [
        {"$ref": "#/components/parameters/Offset"}, {"$ref": "#/components/parameters/Limit"}],
     "the snapshot's GET /store/products answers a paginated list (Response200Paginated) but declares no offset/"
     "limit; independent community clients page it with offset and limit=100"),
]

PROSE = ("example", "examples", "summary", "externalDocs", "x-codeSamples", "tags")


def strip_prose(node, in_properties: bool = False):
    """Drop prose keys, but never a property that happens to be named like one. Descriptions become empty
    (a response object must have one)."""
    if isinstance(node, dict):
        return {k: "" if k == "description" and not in_properties and isinstance(v, str)
                else strip_prose(v, in_properties=(k == "properties"))
                for k, v in node.items() if in_properties or k not in PROSE}
    if isinstance(node, list):
        return [strip_prose(v) for v in node]
    return node


def refs(node) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                found.add(v)
            else:
                found |= refs(v)
    elif isinstance(node, list):
        for v in node:
            found |= refs(v)
    return found


def trim(doc: dict, version: str) -> dict:
    paths = {}
    for path, methods in KEEP[version].items():
        item = doc["paths"][path]
        paths[path] = {m: item[m] for m in methods} | ({"parameters": item["parameters"]} if "parameters" in item
                                                       else {})
    out = {"openapi": doc["openapi"], "info": {"title": doc["info"]["title"], "version": doc["info"]["version"]},
           "servers": [{"url": "https://api.printful.com"}], "paths": paths}
    hooks = doc.get("x-webhooks", {})
    if version in KEEP_WEBHOOKS:
        out["x-webhooks"] = {name: hooks[name] for name in KEEP_WEBHOOKS[version]}
    for ver, where, value, why in SUPPLEMENTS:
        if ver != version:
            continue
        node = out
        for key in where[:-1]:
            node = node[key]
        existing = node.get(where[-1], [])
        node[where[-1]] = existing + [v for v in value if v not in existing]
        node.setdefault("x-dropbridge-supplement", []).append(why)
    components: dict[str, dict] = {}
    todo = refs(out)
    seen: set[str] = set()
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        node = doc["components"][kind][name]
        components.setdefault(kind, {})[name] = node
        todo |= refs(node) - seen
    out["components"] = {kind: dict(sorted(items.items())) for kind, items in sorted(components.items())}
    return strip_prose(out)


def main(argv: list[str]) -> None:
    source = Path(argv[1]) if len(argv) > 1 else Path("../shared/contracts/printful")
    for version in ("v1", "v2"):
        doc = json.loads((source / f"openapi-{version}.json").read_text())
        trimmed = trim(doc, version)
        target = HERE / f"openapi-{version}.json"
        target.write_text(json.dumps(trimmed, indent=1, sort_keys=False) + "\n")
        print(f"{target.name}: {len(trimmed['paths'])} paths, "
              f"{sum(len(v) for v in trimmed['components'].values())} components, {target.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv)
