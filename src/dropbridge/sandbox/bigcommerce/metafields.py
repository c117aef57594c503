"""Variant metafields (storefronts.md §3.9): `/v3/catalog/products/{pid}/variants/{vid}/metafields`, and the
batch endpoints `/v3/catalog/variants/metafields` (GET filtered by namespace and key; POST items naming their
`resource_id`, PUT items naming their `id`). A batch writes every good item and answers 422 with the written
ones in `data` and one v3 error per refused item in `errors` (partial success); all good is 200.

A metafield is {id, namespace, key, value, permission_set, description, resource_type, resource_id,
date_created, date_modified}; (namespace, key) is unique per variant: creating it twice is 409. Required on
create: namespace, key, value, permission_set; a bad field is 422 with `errors` naming it (v3 envelope)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .errors import BcError

PERMISSION_SETS = ("app_only", "read", "write", "read_and_sf_access", "write_and_sf_access")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class MetafieldsMixin:
    metafields: dict[int, dict[str, Any]]

    def _variant_of(self, pid: int, vid: int) -> dict[str, Any]:
        variant = self.variants.get(vid)
        if variant is None or variant["product_id"] != pid:
            raise BcError(404, "The requested variant was not found.")
        return variant

    def _check_metafield(self, body: Any, creating: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BcError(422, "JSON data is missing or invalid", {"body": "must be an object"})
        errors: dict[str, str] = {}
        limits = {"namespace": 64, "key": 64, "value": 65535, "description": 255}
        for name, most in limits.items():
            if name in body and (not isinstance(body[name], str) or len(body[name]) > most):
                errors[name] = f"{name} must be a string of at most {most} characters"
            elif creating and name in ("namespace", "key", "value") and not body.get(name):
                errors[name] = f"{name} is required"
        if "permission_set" in body and body["permission_set"] not in PERMISSION_SETS:
            errors["permission_set"] = f"permission_set must be one of {', '.join(PERMISSION_SETS)}"
        elif creating and "permission_set" not in body:
            errors["permission_set"] = "permission_set is required"
        if errors:
            raise BcError(422, "Input is invalid", errors)
        return body

    def _variant_metafields(self, pid: int, vid: int, namespace: str | None, key: str | None) -> list[dict]:
        self._variant_of(pid, vid)
        return [dict(m) for m in self.metafields.values()
                if m["resource_type"] == "variant" and m["resource_id"] == vid
                and (namespace is None or m["namespace"] == namespace) and (key is None or m["key"] == key)]

    def _create_variant_metafield(self, pid: int, vid: int, body: Any) -> dict[str, Any]:
        self._variant_of(pid, vid)
        body = self._check_metafield(body, creating=True)
        if self._variant_metafields(pid, vid, body["namespace"], body["key"]):
            raise BcError(409, f"Metafield with namespace {body['namespace']!r} and key {body['key']!r} already "
                          "exists for this resource.")
        mid = self._next_id()
        now = _now()
        self.metafields[mid] = {"id": mid, "namespace": body["namespace"], "key": body["key"],
                                "value": body["value"], "permission_set": body["permission_set"],
                                "description": body.get("description", ""), "resource_type": "variant",
                                "resource_id": vid, "date_created": now, "date_modified": now}
        return dict(self.metafields[mid])

    def _update_variant_metafield(self, pid: int, vid: int, mid: int, body: Any) -> dict[str, Any]:
        self._variant_of(pid, vid)
        row = self.metafields.get(mid)
        if row is None or row["resource_type"] != "variant" or row["resource_id"] != vid:
            raise BcError(404, "The requested metafield was not found.")
        body = self._check_metafield(body, creating=False)
        if (body.get("namespace", row["namespace"]), body.get("key", row["key"])) != (row["namespace"], row["key"]) \
                and self._variant_metafields(pid, vid, body.get("namespace", row["namespace"]),
                                             body.get("key", row["key"])):
            raise BcError(409, "Another metafield of this resource has that namespace and key.")
        for name in ("namespace", "key", "value", "permission_set", "description"):
            if name in body:
                row[name] = body[name]
        row["date_modified"] = _now()
        return dict(row)

    def _all_variant_metafields(self, namespace: str | None, key: str | None) -> list[dict]:
        return [dict(m) for m in self.metafields.values() if m["resource_type"] == "variant"
                and (namespace is None or m["namespace"] == namespace) and (key is None or m["key"] == key)]

    def _batch_metafields(self, body: Any, creating: bool) -> tuple[list[dict], list[dict]]:
        """(written, errors) for a batch POST (creating) or PUT; each item stands or falls alone."""
        if not isinstance(body, list) or not body:
            raise BcError(400, "The request body must be a non-empty array of metafields.")
        written, errors = [], []
        for item in body:
            try:
                if not isinstance(item, dict):
                    raise BcError(422, "Input is invalid", {"item": "must be an object"})
                if creating:
                    variant = self.variants.get(item.get("resource_id")) if isinstance(item.get("resource_id"),
                                                                                      int) else None
                    if variant is None:
                        raise BcError(422, "Input is invalid", {"resource_id": "no variant has that id"})
                    fields = {k: v for k, v in item.items() if k != "resource_id"}
                    written.append(self._create_variant_metafield(variant["product_id"], variant["id"], fields))
                else:
                    row = self.metafields.get(item.get("id")) if isinstance(item.get("id"), int) else None
                    if row is None or row["resource_type"] != "variant":
                        raise BcError(422, "Input is invalid", {"id": "no variant metafield has that id"})
                    vid = row["resource_id"]
                    fields = {k: v for k, v in item.items() if k != "id"}
                    written.append(self._update_variant_metafield(self.variants[vid]["product_id"], vid, row["id"],
                                                                  fields))
            except BcError as exc:
                errors.append({"status": exc.status, "title": exc.title, "errors": exc.errors})
        return written, errors
