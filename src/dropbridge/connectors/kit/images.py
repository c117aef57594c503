"""Product images: download (streamed, size-capped), decode safely, resize, re-encode, watermark, store.

Supplier image URLs are untrusted input. A download is aborted past `max_bytes` (decoded bytes, so a
gzip bomb is capped too); Pillow's decompression-bomb guard runs with our pixel limit and its warning
raised as an error; the file is verified and fully decoded (truncation is an error, never padded);
re-encoding drops EXIF/ICC/XMP metadata. Only public addresses are fetched, redirects included, so a feed
cannot point the fetcher at the merchant's own network (addresses.py). Stored files are content-addressed:
<root>/<first 2 hex of sha256>/<sha256>.<ext>.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import ipaddress
import os
import struct
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError, features

from dropbridge.services.image_port import (
    ImagePolicy,
    ImageRejected,
    ProcessedImage,
    Watermark,
    sha256_hex,
)

from .addresses import MAX_REDIRECTS, AddressPolicy, AddressRefused, any_address, is_public_address, open_checked
from .http import build_client

# The policy, the processed image and the rejection are the service layer's (services/image_port.py).
__all__ = ["ImageFetcher", "ImagePolicy", "ImageRejected", "ImageStore", "Images", "ProcessedImage", "Watermark",
           "any_address", "is_public_address", "process_image", "sha256_hex"]

CHUNK = 64 * 1024

# MAX_IMAGE_PIXELS and the warnings filter are process-wide in Pillow: decode under one lock so two
# imports with different limits never see each other's setting.
_decode_lock = threading.Lock()


# ---- download ----------------------------------------------------------------------------------------


class ImageFetcher:
    """One HTTP client for a whole import (connection reuse); `with ImageFetcher(...) as f:`.

    `allow_address` decides which resolved addresses may be fetched (default: public ones only, see
    addresses.py, the policy every fetch steered by merchant data follows); every redirect hop is checked."""

    def __init__(self, timeout: float = 15.0, transport: httpx.BaseTransport | None = None,
                 allow_address: Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], bool] = is_public_address):
        self.client = build_client(timeout=timeout, transport=transport,
                                   headers={"User-Agent": "dropbridge-image-fetcher", "Accept": "image/*"})
        self.allow_address = allow_address
        self.policy = AddressPolicy(allow_address)

    def fetch(self, url: str, max_bytes: int) -> bytes:
        """The body of `url`, at most `max_bytes`; raises ImageRejected with the reason otherwise."""
        try:
            # Image CDNs redirect routinely: followed, each hop checked.
            with open_checked(self.client, url, self.policy, max_redirects=MAX_REDIRECTS) as response:
                return _read_capped(response, max_bytes)
        except AddressRefused as exc:
            reason = "network error" if exc.reason == "cannot resolve" else exc.reason
            raise ImageRejected(reason, exc.detail) from None
        except httpx.TimeoutException as exc:
            raise ImageRejected("timed out", type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise ImageRejected("network error", f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ImageFetcher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    if not response.is_success:
        raise ImageRejected(f"HTTP {response.status_code}")
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise ImageRejected(f"larger than {max_bytes} bytes", f"Content-Length {length}")
    body = bytearray()
    for chunk in response.iter_bytes(CHUNK):
        body += chunk
        if len(body) > max_bytes:  # abort mid-stream: never hold more than the limit
            raise ImageRejected(f"larger than {max_bytes} bytes")
    return bytes(body)


# ---- processing --------------------------------------------------------------------------------------


def _decode(data: bytes, max_pixels: int) -> Image.Image:
    with _decode_lock, warnings.catch_warnings():
        previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
                probe.verify()  # structure and checksums (PNG CRCs); the object is unusable afterwards
            if width * height > max_pixels:  # also refuses what Pillow only warns about
                raise ImageRejected(f"decompression bomb: more than {max_pixels} pixels", f"{width}x{height}")
            image = Image.open(io.BytesIO(data))
            image.load()  # full decode: a truncated file raises here instead of being padded grey
            return image
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(f"decompression bomb: more than {max_pixels} pixels", str(exc)) from exc
        except UnidentifiedImageError as exc:
            raise ImageRejected("not an image") from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            raise ImageRejected("truncated or corrupt image", str(exc) or type(exc).__name__) from exc
        finally:
            Image.MAX_IMAGE_PIXELS = previous  # the rest of the process keeps Pillow's own setting


def process_image(data: bytes, policy: ImagePolicy) -> ProcessedImage:
    """Decode under the guards, orient by EXIF, fit within max_dimension, watermark, re-encode without
    metadata. Raises ImageRejected."""
    image = _decode(data, policy.max_pixels)
    with contextlib.suppress(OSError, ValueError, SyntaxError):  # a broken EXIF block: keep the pixels as they are
        image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")
    image.thumbnail((policy.max_dimension, policy.max_dimension), Image.Resampling.LANCZOS)
    if policy.watermark:
        image = apply_watermark(image, policy.watermark)
    if policy.format == "jpeg" and image.mode == "RGBA":
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    image.info = {}  # nothing of the source's metadata travels on (EXIF, ICC, XMP, comments)
    out = io.BytesIO()
    if policy.format == "jpeg":
        image.save(out, "JPEG", quality=policy.quality, optimize=True, progressive=True)
    else:
        image.save(out, "WEBP", quality=policy.quality, lossless=policy.lossless, method=4)
    encoded = out.getvalue()
    return ProcessedImage(encoded, hashlib.sha256(encoded).hexdigest(), policy.format, policy.ext,
                          image.width, image.height)


def apply_watermark(image: Image.Image, wm: Watermark) -> Image.Image:
    """Draw text and/or a logo at the configured corner, blended at `opacity`."""
    base = image.convert("RGBA")
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    short = min(base.size)
    margin = max(2, short // 50)
    alpha = round(255 * wm.opacity)
    if wm.image:
        with Image.open(io.BytesIO(wm.image)) as logo_file:
            logo = logo_file.convert("RGBA")
        target_w = max(1, round(short * wm.scale * 3))
        logo = logo.resize((target_w, max(1, round(logo.height * target_w / logo.width))),
                           Image.Resampling.LANCZOS)
        logo.putalpha(logo.getchannel("A").point(lambda a: a * alpha // 255))
        overlay.alpha_composite(logo, _place(base.size, logo.size, wm.position, margin))
    if wm.text:
        size = max(10, round(short * wm.scale))
        font = (ImageFont.load_default(size=size) if features.check("freetype2") else ImageFont.load_default())
        draw = ImageDraw.Draw(overlay)
        stroke = max(1, size // 12)
        left, top, right, bottom = draw.textbbox((0, 0), wm.text, font=font, stroke_width=stroke)
        x, y = _place(base.size, (right - left, bottom - top), wm.position, margin)
        draw.text((x - left, y - top), wm.text, font=font, fill=(255, 255, 255, alpha),
                  stroke_width=stroke, stroke_fill=(0, 0, 0, alpha))
    out = Image.alpha_composite(base, overlay)
    return out if image.mode == "RGBA" else out.convert("RGB")


def _place(size: tuple[int, int], item: tuple[int, int], position: str, margin: int) -> tuple[int, int]:
    (w, h), (iw, ih) = size, item
    if position == "center":
        return max(0, (w - iw) // 2), max(0, (h - ih) // 2)
    x = margin if position.endswith("left") else max(0, w - iw - margin)
    y = margin if position.startswith("top") else max(0, h - ih - margin)
    return x, y


# ---- storage -------------------------------------------------------------------------------------------


class ImageStore:
    """Content-addressed files under `root`; writing the same content twice is a no-op."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @staticmethod
    def relative_path(sha256: str, ext: str) -> str:
        return f"{sha256[:2]}/{sha256}.{ext}"

    def path(self, relative: str) -> Path:
        return self.root / relative

    def get(self, relative: str) -> bytes:
        """A stored file by its relative path (never outside the store)."""
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise FileNotFoundError(relative)
        return target.read_bytes()

    def put(self, image: ProcessedImage) -> str:
        relative = self.relative_path(image.sha256, image.ext)
        target = self.root / relative
        if target.exists():
            return relative
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write aside and rename: a reader (or a crash) never sees half a file under the final name.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(image.data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return relative


# ---- the service layer's ImageKit ----------------------------------------------------------------------


class Images:
    """Product images for catalog import (services/image_port.py ImageKit): downloads under the address
    policy, processing, and the store under `<data_dir>/images`. The settings are read when a session opens
    and when a file is stored, so a changed setting applies to the next import."""

    def __init__(self, settings: Any, transport: httpx.BaseTransport | None = None):
        self.settings = settings
        self.transport = transport

    def fetcher(self) -> ImageFetcher:
        private_ok = getattr(self.settings, "private_hosts_allowed", False)
        return ImageFetcher(timeout=float(getattr(self.settings, "http_timeout_seconds", 15.0)),
                            transport=self.transport, allow_address=any_address if private_ok else is_public_address)

    def process(self, data: bytes, policy: ImagePolicy) -> ProcessedImage:
        return process_image(data, policy)

    def store(self, image: ProcessedImage) -> str:
        return ImageStore(self.settings.data_dir / "images").put(image)

    def read(self, relative: str) -> bytes:
        return ImageStore(self.settings.data_dir / "images").get(relative)

    def read_named(self, sha256: str, ext: str) -> bytes:
        return self.read(ImageStore.relative_path(sha256, ext))
