"""Suppliers that take purchase orders by email: each order one message through SMTP (the PO as CSV and PDF,
the packing slip), replies read from an IMAP mailbox (confirmations, tracking CSVs or tracking numbers in
the text). Stock and costs come as feed files (`sync feed`). Emulated by `dropbridge sandbox run mail`."""

from dropbridge.connectors.registry import ConnectorSpec
from dropbridge.services.ports import Capability

from .config import EmailPoConfig
from .connector import EmailPoSupplier, from_config

SPEC = ConnectorSpec(
    name="email_po", role="supplier", config_model=EmailPoConfig, factory=from_config,
    capabilities=frozenset({Capability.CATALOG, Capability.STOCK, Capability.ORDERS, Capability.WEBHOOKS}),
    offers_by_feed=True, needs_url=False, mailbox=True,
    optional_credentials=("smtp_username", "smtp_password", "imap_username", "imap_password"),
    summary="purchase orders by email (SMTP; PO as CSV and PDF, packing slip), replies read from an IMAP "
            "mailbox; stock by feed files",
    emulator="mail", implementation=EmailPoSupplier,
)

__all__ = ["SPEC", "EmailPoSupplier", "from_config"]
