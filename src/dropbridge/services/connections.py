"""Stores and suppliers: add (or update) with credentials encrypted at rest, list without secrets."""

from __future__ import annotations

from dropbridge.domain.errors import ValidationError
from dropbridge.domain.model import Store, Supplier

from .records import audit

STORE_PLATFORMS = {"headless", "shopify", "woocommerce", "bigcommerce"}
SUPPLIER_KINDS = {"rest", "csv", "printful", "cjdropshipping", "aliexpress", "edi", "email_po"}


def add_store(ctx, name: str, platform: str, base_url: str, credentials: dict, config: dict | None = None) -> int:
    if platform not in STORE_PLATFORMS:
        raise ValidationError(f"unknown platform {platform!r}; one of {sorted(STORE_PLATFORMS)}", "platform")
    with ctx.uow() as uow:
        store = uow.stores.by_name(name)
        action = "store.updated" if store else "store.added"
        if store is None:
            store = uow.add(Store(name=name, platform=platform, created_at=ctx.clock()))
        store.platform = platform
        store.base_url = base_url
        store.config = {**(store.config or {}), **(config or {})}
        uow.flush()
        if credentials:
            store.credentials = ctx.vault.encrypt(f"store:{store.id}", credentials)
        audit(uow, ctx, action, f"store:{name}", {"platform": platform, "base_url": base_url,
                                                  "credential_fields": sorted(credentials)}, store_id=store.id)
        uow.commit()
        ctx.forget_connectors()
        return store.id


def add_supplier(ctx, name: str, kind: str, base_url: str, credentials: dict, config: dict | None = None) -> int:
    if kind not in SUPPLIER_KINDS:
        raise ValidationError(f"unknown supplier kind {kind!r}; one of {sorted(SUPPLIER_KINDS)}", "kind")
    with ctx.uow() as uow:
        supplier = uow.suppliers.by_name(name)
        action = "supplier.updated" if supplier else "supplier.added"
        if supplier is None:
            supplier = uow.add(Supplier(name=name, kind=kind, created_at=ctx.clock()))
        supplier.kind = kind
        supplier.base_url = base_url
        supplier.config = {**(supplier.config or {}), **(config or {})}
        uow.flush()
        if credentials:
            supplier.credentials = ctx.vault.encrypt(f"supplier:{supplier.id}", credentials)
        audit(uow, ctx, action, f"supplier:{name}", {"kind": kind, "base_url": base_url,
                                                     "credential_fields": sorted(credentials)},
              supplier_id=supplier.id)
        uow.commit()
        ctx.forget_connectors()
        return supplier.id


def describe(record) -> dict:
    """A store or supplier as shown to people: never the credentials."""
    out = {"id": record.id, "name": record.name, "base_url": record.base_url, "config": record.config,
           "has_credentials": bool(record.credentials)}
    out["platform" if isinstance(record, Store) else "kind"] = getattr(record, "platform", None) or record.kind
    return out


def subscribe_store_webhooks(ctx, store_name: str, public_url: str) -> list[str]:
    """Ask the store platform to send its order webhooks to us, at `{public_url}/webhooks/{platform}/{name}`.
    Platforms that cannot be subscribed through their API (headless stores call our API) return []."""
    with ctx.uow(read_only=True) as uow:
        store = uow.stores.by_name(store_name)
    if store is None:
        raise ValidationError(f"no store named {store_name!r}", "store")
    connector = ctx.store_connector(store)
    subscribe = getattr(connector, "subscribe_webhooks", None)
    if subscribe is None:
        return []
    uri = f"{public_url.rstrip('/')}/webhooks/{store.platform}/{store.name}"
    ids = list(subscribe(uri))
    with ctx.uow() as uow:
        audit(uow, ctx, "store.webhooks_subscribed", f"store:{store.name}", {"uri": uri, "subscriptions": ids},
              store_id=store.id)
        uow.commit()
    return ids
