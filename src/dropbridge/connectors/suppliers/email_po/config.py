"""`supplier add --kind email_po` configuration."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from dropbridge.connectors.config import Model, SupplierConfig

Email = Annotated[str, Field(pattern=r"^[^@\s<>]+@[^@\s<>]+$", max_length=254)]
Port = Annotated[int, Field(ge=1, le=65535)]


class SmtpConfig(Model):
    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Port = 587
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="STARTTLS (port 587), implicit TLS (465), or none (a relay on this machine only)")
    ca_file: str | None = Field(None, description="a CA certificate file for a server with a private CA")


class ImapConfig(Model):
    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Port = 993
    security: Literal["starttls", "tls", "none"] = "tls"
    folder: Annotated[str, Field(min_length=1, max_length=200)] = "INBOX"
    ca_file: str | None = None
    mark_seen: bool = Field(True, description="flag replies \\Seen once they are stored")


class EmailPoConfig(SupplierConfig):
    order_email: Email = Field(description="the supplier's address for purchase orders")
    from_email: Email = Field(description="our sender address; replies come back to it (or reply_to)")
    reply_to: Email | None = Field(None, description="the mailbox `imap` reads, when it is not from_email")
    cc: list[Email] | None = None
    buyer_name: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="who the PO is from (default: the store's name on the packing slip)")
    smtp: SmtpConfig
    imap: ImapConfig | None = Field(None, description="the mailbox the supplier's replies arrive in, polled")
