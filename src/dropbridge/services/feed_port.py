"""The feed boundary: what a feed reader yields (batches of parsed rows and row errors with line numbers),
the codec the sync engine reads files through, and the downloader that fetches a feed URL. The readers live
in `connectors/formats/feeds`, the downloader in `connectors/kit/feed_download.py`; services see only these.

Rows are NamedTuples rather than dataclasses because a 1M-row feed makes a million of them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, NamedTuple, Protocol


class ParsedRow(NamedTuple):
    line: int  # 1-based line (CSV), row (XLSX), index+1 (JSON), LIN ordinal (846), position (API pages)
    sku: str  # the supplier's key
    stock: int  # >= 0
    cost_minor: int | None  # None when the feed carries no cost (stock-only feeds, 846)
    currency: str
    lead_time_days: int | None = None
    gtin: str | None = None  # normalised GTIN-14/UPC-A/EAN-13 digits, check digit verified
    catalog: dict[str, Any] | None = None  # title, parent_sku, options, images, description, ...


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    field: str | None
    reason: str
    raw: str = ""  # the offending row as text, truncated


@dataclass(slots=True)
class FeedBatch:
    rows: Any = field(default_factory=list)  # list[ParsedRow], or a bulk-loadable run of plain lines
    errors: list[RowError] = field(default_factory=list)
    plain: bool = False  # rows are plain sku/qty/cost lines: no catalog data to import


class FeedFormatError(Exception):
    """The file as a whole cannot be read (wrong format, missing required column, bad envelope).

    `message` says what is wrong without quoting the file; `detail`, when given, quotes what the file held
    (headers seen, keys found): shown for files a merchant handed us, left out for files fetched from a URL."""

    def __init__(self, message: str, line: int | None = None, detail: str | None = None):
        self.message = message if line is None else f"line {line}: {message}"
        super().__init__(self.message if not detail else f"{self.message}; {detail}")
        self.line = line
        self.detail = detail


class FeedTooLarge(FeedFormatError):
    """The file is bigger than the configured limit (decompressed), or holds a cell beyond the cell limit."""


class FeedCodec(Protocol):
    """Reads supplier feed files (CSV, TSV, XLSX, JSON, JSON Lines, X12 846) into batches."""

    def spec(self, config: dict[str, Any]) -> Any:
        """A feed spec from a supplier's `feed` config (raises ValidationError naming a wrong key)."""

    def read(self, stream: BinaryIO, name: str, spec: Any, *, max_bytes: int | None = None) -> Iterator[FeedBatch]:
        """Batches streamed from the file (refused beyond `max_bytes` decompressed); duplicate SKUs of plain
        batches are left to the stage."""

    def is_fatal(self, error: RowError) -> bool:
        """Whether the error dropped its row (rather than a lesser field problem on a kept row)."""


@dataclass(frozen=True, slots=True)
class Downloaded:
    """What a conditional GET of a feed URL came to: `not_modified` (a 304: nothing written), or the body
    written out with the validators to send next time."""

    not_modified: bool
    etag: str | None = None
    last_modified: str | None = None
    size: int = 0


class FeedDownloader(Protocol):
    """Fetches feed URLs (merchant data steers them: the deployment's address policy, timeout and size limit
    apply, read at each download)."""

    def download(self, url: str, dest: BinaryIO, *, what: str, etag: str | None = None,
                 last_modified: str | None = None) -> Downloaded:
        """GET `url` (conditionally, given the validators) and stream its body into `dest`, every redirect hop
        checked against the address policy.

        Errors start with `what` (a label safe to show: the URL with its secrets redacted) and never quote
        what the remote server answered: ConfigurationError for an address the policy refuses or a body over
        the size limit, RetryableError for a timeout or a network failure, the ExternalError of the HTTP
        status otherwise (RetryableError for 5xx, RateLimited for 429, ...)."""
