"""The feed readers as the sync engine's FeedCodec (services/feed_port.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from dropbridge.services.feed_port import FeedBatch, RowError

from .convert import is_fatal
from .reader import PlainRows, read_feed
from .spec import FeedSpec


class FeedCodec:
    def spec(self, config: dict[str, Any]) -> FeedSpec:
        return FeedSpec.from_dict(config)

    def read(self, stream: BinaryIO, name: str, spec: FeedSpec, *, max_bytes: int | None = None
             ) -> Iterator[FeedBatch]:
        for batch in read_feed(stream, name=name, spec=spec, plain=True, max_bytes=max_bytes):
            batch.plain = isinstance(batch.rows, PlainRows)  # plain lines carry no catalog data
            yield batch

    def is_fatal(self, error: RowError) -> bool:
        return is_fatal(error)
