"""The image boundary of catalog import: what services ask of product images (download under the address
policy, process, store) and the plain data that crosses it (the processing policy, the processed image, the
rejection). The adapter is `Images` in connectors/kit/images.py; services see only these."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

DEFAULT_MAX_BYTES = 15 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000  # 40 MP: above any real product photo, far below a bomb
DEFAULT_MAX_DIMENSION = 2048
FORMATS = {"jpeg": "jpg", "webp": "webp"}
POSITIONS = ("bottom-right", "bottom-left", "top-right", "top-left", "center")


class ImageRejected(Exception):
    """An image we will not use. `reason` is short and stable; `detail` says more when there is more."""

    def __init__(self, reason: str, detail: str | None = None):
        super().__init__(reason if not detail else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Watermark:
    text: str | None = None
    image: bytes | None = None  # PNG/WebP bytes of a logo, alpha respected
    position: str = "bottom-right"
    opacity: float = 0.5  # 0..1
    scale: float = 0.06  # text height, or logo width / 3, as a share of the image's shorter side


@dataclass(frozen=True)
class ImagePolicy:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_dimension: int = DEFAULT_MAX_DIMENSION
    format: str = "webp"  # webp | jpeg
    quality: int = 85
    lossless: bool = False  # webp only
    watermark: Watermark | None = None

    @property
    def ext(self) -> str:
        return FORMATS[self.format]

    @property
    def profile(self) -> str:
        """What processing produced a stored file; a different profile is a different file."""
        spec = {"d": self.max_dimension, "f": self.format, "q": self.quality, "l": self.lossless}
        if self.watermark:
            wm = self.watermark
            spec["w"] = [wm.text, hashlib.sha256(wm.image).hexdigest() if wm.image else None, wm.position,
                         wm.opacity, wm.scale]
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
        return f"{self.format}-{self.max_dimension}-{digest}"

    @classmethod
    def from_config(cls, cfg: dict[str, Any] | None, **defaults: Any) -> ImagePolicy:
        """A supplier's `images` config over the deployment's defaults. Raises ValueError naming the key."""
        values = {k: v for k, v in defaults.items() if v is not None}
        cfg = dict(cfg or {})
        for key in ("max_bytes", "max_pixels", "max_dimension", "quality"):
            if key in cfg:
                value = cfg[key]
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    raise ValueError(f"images.{key} must be a positive integer, not {value!r}")
                values[key] = value
        if "format" in cfg:
            fmt = str(cfg["format"]).lower().replace("jpg", "jpeg")
            if fmt not in FORMATS:
                raise ValueError(f"images.format must be jpeg or webp, not {cfg['format']!r}")
            values["format"] = fmt
        if "lossless" in cfg:
            values["lossless"] = bool(cfg["lossless"])
        wm = cfg.get("watermark")
        if wm:
            values["watermark"] = _watermark_from_config(wm)
        return cls(**values)


def _watermark_from_config(wm: Any) -> Watermark:
    if isinstance(wm, str):
        wm = {"text": wm}
    if not isinstance(wm, dict) or not (wm.get("text") or wm.get("image")):
        raise ValueError("images.watermark needs text or image (a path to a PNG)")
    image = None
    if wm.get("image"):
        try:
            image = Path(wm["image"]).read_bytes()
        except OSError as exc:
            raise ValueError(f"images.watermark.image: cannot read {wm['image']!r}: {exc.strerror}") from exc
    position = wm.get("position", "bottom-right")
    if position not in POSITIONS:
        raise ValueError(f"images.watermark.position must be one of {', '.join(POSITIONS)}")
    opacity = float(wm.get("opacity", 0.5))
    scale = float(wm.get("scale", 0.06))
    if not (0 < opacity <= 1 and 0 < scale <= 1):
        raise ValueError("images.watermark opacity and scale are between 0 and 1")
    return Watermark(text=wm.get("text") or None, image=image, position=position, opacity=opacity, scale=scale)


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes
    sha256: str
    format: str
    ext: str
    width: int
    height: int


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ImageFetch(Protocol):
    """One download session (connection reuse across an import); `close()` when done."""

    def fetch(self, url: str, max_bytes: int) -> bytes:
        """The body of `url`, at most `max_bytes` (redirects followed, every hop under the address policy);
        raises ImageRejected with the reason otherwise."""

    def close(self) -> None: ...


class ImageKit(Protocol):
    """Product images for catalog import. The deployment's settings (address policy, timeout, data
    directory) are read when a session opens and when a file is stored."""

    def fetcher(self) -> ImageFetch:
        """A download session for one import."""

    def process(self, data: bytes, policy: ImagePolicy) -> ProcessedImage:
        """Decode under the policy's guards, orient, fit, watermark and re-encode without metadata; raises
        ImageRejected."""

    def store(self, image: ProcessedImage) -> str:
        """Keep the file (content-addressed; the same content twice is one file) and return its path
        relative to the image store."""

    def read(self, relative: str) -> bytes:
        """A stored file's bytes, by the path `store` returned; raises FileNotFoundError."""

    def read_named(self, sha256: str, ext: str) -> bytes:
        """A stored file's bytes by its content hash and extension (how dropbridge serves it publicly);
        raises FileNotFoundError."""
