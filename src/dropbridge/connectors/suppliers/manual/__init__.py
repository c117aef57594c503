"""Suppliers one orders from by hand, on a website with no buyer API (DHgate, most marketplaces): supplier
orders wait in dropbridge's purchase-order queue (`dropbridge po list|export|placed`) for a person, and
tracking comes back by `dropbridge shipments import|add` or `POST /api/v1/shipments`. Stock and costs come as
feed files. `supplier add NAME --kind manual` needs no URL and no credentials."""

from typing import Annotated

from pydantic import Field

from dropbridge.connectors.config import SupplierConfig
from dropbridge.connectors.registry import ConnectorSpec
from dropbridge.services.ports import Capability

from .connector import ManualSupplier, from_config


class ManualConfig(SupplierConfig):
    po_overdue_hours: Annotated[float, Field(gt=0, le=24 * 90)] | None = Field(
        None, description="hours a PO may wait in the queue for a person before an alert (default 24)")


SPEC = ConnectorSpec(
    name="manual", role="supplier", config_model=ManualConfig, factory=from_config,
    capabilities=frozenset({Capability.CATALOG, Capability.STOCK, Capability.ORDERS}),
    offers_by_feed=True, needs_url=False,
    summary="ordered by hand: orders wait in the PO queue (po list|export|placed), tracking by shipments "
            "import|add; stock by feed files",
    implementation=ManualSupplier,
)

__all__ = ["SPEC", "ManualConfig", "ManualSupplier", "from_config"]
