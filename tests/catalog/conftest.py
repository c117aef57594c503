"""Images served by a real local HTTP server, and helpers that make image bytes and feed rows."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from dropbridge.connectors.formats.feeds.types import ParsedRow
from dropbridge.sandbox.kit.server import start_server


def image_bytes(size=(64, 48), color=(200, 30, 30), fmt="PNG", **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt, **save)
    return out.getvalue()


def noise_png(size=(256, 256)) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", size, bytes((i * 7919) % 251 for i in range(size[0] * size[1] * 3))).save(out, "PNG")
    return out.getvalue()


def jpeg_with_exif(size=(3000, 1500)) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "edited-by-supplier"  # Software
    return image_bytes(size, (20, 120, 220), "JPEG", exif=exif.tobytes(), quality=90)


def bomb_png(width=20000, height=20000) -> bytes:
    """A valid 1-bit PNG that declares width x height pixels but compresses to ~50 KB."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    comp = zlib.compressobj(9)
    line = b"\x00" * (1 + (width + 7) // 8)
    idat = b"".join(comp.compress(line) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


class ImageHost:
    """`files[path] = bytes` serves them; `hits[path]` counts requests; /endless streams forever."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        self.endless_chunks = 0

        async def serve(request: Request):
            path = request.path_params["path"]
            self.hits[path] = self.hits.get(path, 0) + 1
            if path == "endless":
                async def forever():
                    # Ends only when the client goes away (or after 64 MiB, so a broken client still ends).
                    for _ in range(1024):
                        if await request.is_disconnected():
                            return
                        self.endless_chunks += 1
                        yield b"\xff" * 65536
                return StreamingResponse(forever(), media_type="image/jpeg")
            if path == "redirect":  # /img/redirect?to=URL
                return Response(status_code=302, headers={"Location": request.query_params["to"]})
            if path == "loop":  # redirects to itself, forever
                return Response(status_code=302, headers={"Location": str(request.url)})
            if path not in self.files:
                return Response("not found", status_code=404)
            return Response(self.files[path], media_type="image/png")

        self.server = start_server(Starlette(routes=[Route("/img/{path:path}", serve)]))
        self.base = self.server.url + "/img/"

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="module")
def host():
    h = ImageHost()
    yield h
    h.server.stop()


@pytest.fixture(autouse=True)
def private_image_hosts(monkeypatch):
    """The image host here listens on 127.0.0.1, which dropbridge refuses by default."""
    monkeypatch.setenv("DROPBRIDGE_IMAGES_ALLOW_PRIVATE_HOSTS", "true")


@pytest.fixture
def images(host):
    host.files.clear()
    host.hits.clear()
    return host


def prow(line, sku, *, parent=None, gtin=None, title=None, options=None, images=(), description=None,
         category=None, brand=None, currency="USD", **extra) -> ParsedRow:
    catalog = {"title": title, "description": description, "parent_sku": parent, "options": options or {},
               "images": list(images), "brand": brand, "mpn": None, "msrp_minor": None, "map_minor": None,
               "weight": None, "weight_unit": None, "category": category, "status": None}
    catalog.update(extra)
    return ParsedRow(line, sku, 5, 1000, currency, None, gtin, catalog)
