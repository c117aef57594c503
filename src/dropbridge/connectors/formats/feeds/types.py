"""What every feed reader yields; the types are the service layer's feed boundary (services/feed_port.py)."""

from dropbridge.services.feed_port import FeedBatch, FeedFormatError, FeedTooLarge, ParsedRow, RowError

__all__ = ["FeedBatch", "FeedFormatError", "FeedTooLarge", "ParsedRow", "RowError"]
