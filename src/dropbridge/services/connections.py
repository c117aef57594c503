"""Stores and suppliers: add (or update) with credentials encrypted at rest, list without secrets.

What a platform or kind accepts (credential keys, config keys and their types) is the connector registry's
word: a connection it refuses is never saved."""

from __future__ import annotations

import re

from dropbridge.domain.errors import NotFound, ValidationError
from dropbridge.domain.model import Store, Supplier

from .records import audit, schedule_delivery, schedule_repricing

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def add_store(ctx, name: str, platform: str, base_url: str, credentials: dict, config: dict | None = None) -> int:
    return _save(ctx, "store", Store, name, "platform", platform, base_url, credentials, config)


def add_supplier(ctx, name: str, kind: str, base_url: str, credentials: dict, config: dict | None = None) -> int:
    if config and "feed" in config:  # refused here, naming the key, rather than at the first sync
        from types import SimpleNamespace

        from .sync_feed import feed_spec_for

        feed_spec_for(ctx, SimpleNamespace(name=name, config=config))
    return _save(ctx, "supplier", Supplier, name, "kind", kind, base_url, credentials, config)


def _save(ctx, what: str, cls, name, type_field, type_value, base_url, credentials, config) -> int:
    """Create or update a store or supplier; credentials are encrypted bound to the record's id and
    only the names of their fields reach the audit trail. An update merges the new config into the old and
    keeps the stored credentials unless new ones are given; the result is validated whole."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValidationError(f"{what} name {name!r}: letters, digits, '_', '.', '-', at most 64", "name")
    info = ctx.connectors.info(what, type_value)  # an unregistered kind is refused here, naming the known ones
    with ctx.uow() as uow:
        repo = uow.stores if what == "store" else uow.suppliers
        record = repo.by_name(name)
        kept = ctx.vault.decrypt(f"{what}:{record.id}", record.credentials) if record and not credentials else {}
        before = dict(record.config or {}) if record else {}
        merged = {**before, **(config or {})}
        config_out = ctx.connectors.validate(what, info.name, base_url, credentials or kept, merged)
        action = f"{what}.updated" if record else f"{what}.added"
        if record is None:
            record = uow.add(cls(name=name, **{type_field: type_value}, created_at=ctx.clock()))
        setattr(record, type_field, type_value)
        record.base_url = base_url
        record.config = config_out
        uow.flush()
        if credentials:
            record.credentials = ctx.vault.encrypt(f"{what}:{record.id}", credentials)
            # What the connector obtained with the old credentials (an access token) is not to be used again.
            uow.connector_secrets.clear(f"{what}:{record.id}", ctx.clock())
        if action == "store.updated" and _prices_depend(before) != _prices_depend(config_out):
            # The rules changed: every listing is re-priced after this commit (only changed prices go out).
            schedule_repricing(uow, ctx, f"rules:{ctx.clock().isoformat()}", [(record.id, name)])
        if record is not None and before and _delivery_depends(what, before) != _delivery_depends(what, config_out):
            # A supplier's lead time or transit, or the store's destination, changed: windows follow.
            schedule_delivery(uow, ctx, f"{what}:{record.id}:{ctx.clock().isoformat()}",
                              [(record.id, name)] if what == "store" else None)
        audit(uow, ctx, action, f"{what}:{name}", {type_field: type_value, "base_url": base_url,
                                                   "credential_fields": sorted(credentials)},
              **{f"{what}_id": record.id})
        uow.commit()
        ctx.forget_connectors()
        return record.id


def _delivery_depends(what: str, config: dict) -> tuple:
    """What delivery windows are computed from in a store's or supplier's config."""
    if what == "store":
        return (config.get("delivery_country"), config.get("currency"))
    return (config.get("lead_time_days"), config.get("transit_days"), config.get("shipping_rates"),
            config.get("shipping_per_order"),
            config.get("currency"))


def _prices_depend(config: dict) -> tuple:
    """What a store's prices are computed from in its config."""
    return (config.get("pricing"), config.get("currency"), (config.get("routing") or {}).get("margin_floor_percent"))


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
    uri = f"{public_url.rstrip('/')}/webhooks/{store.platform}/{store.name}"
    ids = list(ctx.store_connector(store).subscribe_webhooks(uri))
    with ctx.uow() as uow:
        audit(uow, ctx, "store.webhooks_subscribed", f"store:{store.name}", {"uri": uri, "subscriptions": ids},
              store_id=store.id)
        uow.commit()
    return ids


def supplier_by_name(ctx, name: str) -> Supplier:
    with ctx.uow(read_only=True) as uow:
        supplier = uow.suppliers.by_name(name)
    if supplier is None:
        raise NotFound(f"no supplier named {name!r}")
    return supplier


def supplier_setting(ctx, supplier, key: str):
    """The supplier's value for a config key, else its kind's default (from the config model's schema)."""
    config = supplier.config or {}
    if key in config:
        return config[key]
    schema = ctx.connectors.info("supplier", supplier.kind).config_schema
    return (schema.get("properties", {}).get(key) or {}).get("default")
