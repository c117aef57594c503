"""Suppliers that only publish feed files (CSV, TSV, XLSX, JSON, JSON Lines, EDI 846), uploaded or fetched
from a URL: stock, costs and catalog data, and no way to take an order. Their offers are never routed to;
a supplier one orders from by hand is `manual`, by EDI `edi_x12`, by email `email_po`."""

from dropbridge.connectors.config import SupplierConfig
from dropbridge.connectors.registry import ConnectorSpec
from dropbridge.services.ports import Capability


class FeedOnlySupplier:
    """Nothing to call: everything such a supplier says arrives as files."""

    kind = "feed"

    def close(self) -> None:
        pass


def from_config(base_url, credentials, config) -> FeedOnlySupplier:
    return FeedOnlySupplier()


SPEC = ConnectorSpec(
    name="feed", role="supplier", capabilities=frozenset({Capability.CATALOG, Capability.STOCK}),
    config_model=SupplierConfig, factory=from_config, needs_url=False, offers_by_feed=True,
    summary="stock, costs and catalog from feed files only (sync feed); takes no orders, so never routed to",
)

__all__ = ["SPEC", "FeedOnlySupplier", "from_config"]
