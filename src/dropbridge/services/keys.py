"""Key rotation: every stored credential (stores and suppliers) and every secret connectors obtained at run
time (access tokens) re-encrypted with the newest key in one transaction, so the older keys can be removed
afterwards. A credential that no
configured key opens, or that belongs to another record, stops the rotation with nothing changed."""

from __future__ import annotations

from .records import audit


def rotate_credentials(ctx) -> dict[str, int]:
    """Returns how many were re-encrypted: {"store": n, "supplier": m, "runtime": k}."""
    counts = {"store": 0, "supplier": 0, "runtime": 0}
    with ctx.uow() as uow:
        for what, records in (("store", uow.stores.all()), ("supplier", uow.suppliers.all())):
            for record in records:
                if record.credentials:
                    record.credentials = ctx.vault.rotate(f"{what}:{record.id}", record.credentials)
                    counts[what] += 1
        now = ctx.clock()
        for owner, name, secret in uow.connector_secrets.all_stored():
            uow.connector_secrets.put(owner, name, ctx.vault.rotate(f"{owner}/{name}", secret), now)
            counts["runtime"] += 1
        audit(uow, ctx, "keys.rotated", "credentials",
              {"stores": counts["store"], "suppliers": counts["supplier"], "runtime_secrets": counts["runtime"],
               "keys_configured": ctx.vault.key_count})
        uow.commit()
    ctx.forget_connectors()
    return counts
