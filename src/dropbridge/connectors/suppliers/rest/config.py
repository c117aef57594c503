"""`supplier add --kind rest` configuration."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dropbridge.connectors.config import SupplierConfig


class RestConfig(SupplierConfig):
    webhook_tolerance: Annotated[float, Field(gt=0)] | None = None
