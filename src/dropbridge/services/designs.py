"""Print on demand: the designs a merchant attaches to a SKU (placement, technique, file URL) travel on
every order line of that SKU to a print-on-demand supplier."""

from __future__ import annotations

from urllib.parse import urlsplit

from dropbridge.domain.errors import ValidationError
from dropbridge.domain.model import PrintFile

from .records import audit

PLACEMENT_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


def attach_design(ctx, sku: str, placement: str, url: str, technique: str | None = None) -> dict:
    """Attach (or replace) the design printed at `placement` on `sku`."""
    if not sku or len(sku) > 200 or any(ord(ch) < 32 for ch in sku):
        raise ValidationError("sku: 1 to 200 printable characters", "sku")
    placement = placement.strip().lower()
    if not placement or len(placement) > 50 or set(placement) - PLACEMENT_CHARS:
        raise ValidationError("placement: a name such as front, back, sleeve_left (a-z, 0-9, _ and -)", "placement")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise ValidationError("file: an http(s) URL the supplier can download the print file from", "file")
    if technique is not None and (not technique or len(technique) > 50 or set(technique) - PLACEMENT_CHARS):
        raise ValidationError("technique: a name such as dtg, embroidery, sublimation", "technique")
    with ctx.uow() as uow:
        existing = uow.catalog.print_files([sku]).get(sku, [])
        record = next((f for f in existing if f.placement == placement), None)
        if record is None:
            record = uow.add(PrintFile(sku=sku, placement=placement, url=url, technique=technique,
                                       created_at=ctx.clock()))
        else:
            record.url, record.technique = url, technique
        audit(uow, ctx, "design.attached", f"sku:{sku}", {"placement": placement, "url": url, "technique": technique})
        uow.commit()
        return describe_design(record)


def list_designs(ctx, sku: str | None = None) -> list[dict]:
    with ctx.uow(read_only=True) as uow:
        return [describe_design(f) for f in uow.catalog.all_print_files(sku)]


def describe_design(f: PrintFile) -> dict:
    return {"sku": f.sku, "placement": f.placement, "file": f.url, "technique": f.technique}
