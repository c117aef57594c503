"""Supplier presets: the kind (how orders reach the supplier), the feed spec (how its stock file reads) and
what a merchant still has to give, for the wholesalers and marketplaces merchants meet most often.
`dropbridge supplier add NAME --preset P` starts from one; `--kind` and `--config` given as well win.

Each preset says whether its feed mapping is verified (every column it relies on appears in the vendor's
published spec) or guessed, and where its order path comes from (../shared/contracts/suppliers.md sections
4 and 6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dropbridge.domain.errors import ValidationError

from .formats.feeds.presets import STATUS


@dataclass(frozen=True)
class SupplierPreset:
    name: str
    kind: str  # the order path: manual, email_po, edi_x12, feed
    mapping: str  # a feed mapping preset (formats/feeds/presets.py)
    note: str
    feed: dict[str, Any] = field(default_factory=dict)  # other feed spec keys (format, delimiter)
    needs: str = ""  # what `--config` / `--credentials` must still add

    @property
    def mapping_status(self) -> str:
        if not self.mapping:
            return "-"  # an X12 feed is read by its segments, not a column mapping
        return STATUS.get(self.mapping, ("guessed", ""))[0]

    def config(self) -> dict[str, Any]:
        feed = {**self.feed}
        if self.mapping:
            feed["mapping"] = {"preset": self.mapping}
        return {"feed": feed} if feed else {}


PRESETS: dict[str, SupplierPreset] = {p.name: p for p in (
    SupplierPreset("doba", "manual", "doba", "Doba export files; orders placed in Doba by hand (its buyer API is "
                   "not public)", {"format": "csv"}),
    SupplierPreset("hublogix", "manual", "hublogix", "HubLogix inventory_mmddyy.csv; order path unknown: by hand "
                   "until the merchant knows better", {"format": "csv"}),
    SupplierPreset("duoplane", "manual", "duoplane", "Duoplane product import file", {"format": "csv"}),
    SupplierPreset("syncee", "manual", "syncee", "Syncee data feed; orders placed in Syncee by hand",
                   {"format": "csv"}),
    SupplierPreset("fabric", "manual", "fabric", "fabric Dropship offers file", {"format": "csv"}),
    SupplierPreset("dhgate", "manual", "generic", "DHgate has no buyer-side ordering API (contracts section 4): "
                   "ordered by hand on its site; stock from any export the merchant keeps", {"format": "auto"}),
    SupplierPreset("spocket", "manual", "generic", "Spocket has no public API (contracts section 4): ordered by "
                   "hand", {"format": "auto"}),
    SupplierPreset("modalyst", "manual", "generic", "Modalyst has no public API (contracts section 4): ordered by "
                   "hand", {"format": "auto"}),
    SupplierPreset("email-wholesaler", "email_po", "generic", "a wholesaler that takes purchase orders by email",
                   {"format": "auto"}, needs="config: order_email, from_email, smtp, imap; credentials: "
                   "smtp_username, smtp_password, imap_username, imap_password"),
    SupplierPreset("logicbroker", "edi_x12", "logicbroker", "a Logicbroker trading partner: orders by EDI 850, "
                   "stock as 846 or its inventory CSV", {"format": "auto"},
                   needs="the EDI partner profile and SFTP settings"),
    SupplierPreset("edi-846", "edi_x12", "", "an EDI trading partner whose stock arrives as X12 846",
                   {"format": "x12"}, needs="the EDI partner profile and SFTP settings"),
    SupplierPreset("feed-only", "feed", "generic", "stock and costs from files only; never routed to",
                   {"format": "auto"}),
)}


def supplier_preset(name: str) -> SupplierPreset:
    preset = PRESETS.get(name)
    if preset is None:
        raise ValidationError(f"unknown supplier preset {name!r}; one of {', '.join(sorted(PRESETS))}", "preset")
    return preset


def merge_preset(preset: SupplierPreset, kind: str | None, config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The kind and config a preset gives, with what the merchant typed on top (a `feed` given merges into
    the preset's feed key by key)."""
    base = preset.config()
    merged = {**base, **config}
    if "feed" in config and isinstance(config["feed"], dict) and "feed" in base:
        merged["feed"] = {**base["feed"], **config["feed"]}
    return kind or preset.kind, merged
