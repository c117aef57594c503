"""Supplier feed readers: CSV/TSV, XLSX, JSON, JSON Lines; EDI X12 846 is routed to connectors.edi.

Entry points: `read_feed` (streaming batches of ParsedRow and RowError), `sniff_format`, `dry_run`,
`FeedSpec`, `ColumnMapping`, the presets in `presets.PRESETS`, and `is_fatal` to tell a dropped row's
error from one whose row still came through.
"""

from .convert import NON_FATAL_FIELDS, is_fatal
from .mapping import ColumnMapping, ResolvedColumns
from .reader import dry_run, read_feed, sniff_format
from .spec import FeedSpec
from .types import FeedBatch, FeedFormatError, ParsedRow, RowError

__all__ = [
    "NON_FATAL_FIELDS", "ColumnMapping", "FeedBatch", "FeedFormatError", "FeedSpec", "ParsedRow",
    "ResolvedColumns", "RowError", "dry_run", "is_fatal", "read_feed", "sniff_format",
]
