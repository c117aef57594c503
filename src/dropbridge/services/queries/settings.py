"""What the settings page shows: stores and suppliers without their credentials (only which fields are
set), users, API tokens (names and dates, never the token) and alert recipients."""

from __future__ import annotations

from dropbridge.services.alert_delivery import list_recipients
from dropbridge.services.connections import describe
from dropbridge.services.tokens import list_tokens
from dropbridge.services.users import list_users


def settings_page(ctx) -> dict:
    with ctx.uow(read_only=True) as uow:
        stores = [describe(s) for s in uow.stores.all()]
        suppliers = [describe(s) for s in uow.suppliers.all()]
    return {"stores": stores, "suppliers": suppliers, "users": list_users(ctx), "tokens": list_tokens(ctx),
            "recipients": list_recipients(ctx)}
