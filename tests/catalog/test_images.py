"""Image download and processing against a real local HTTP server: limits, guards, resize, watermark."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from dropbridge.connectors.kit.images import (
    ImageFetcher,
    ImagePolicy,
    ImageRejected,
    ImageStore,
    any_address,
    process_image,
)

from .conftest import bomb_png, image_bytes, jpeg_with_exif, noise_png


def rejected(fn, *args) -> tuple[str, str | None]:
    with pytest.raises(ImageRejected) as exc:
        fn(*args)
    return exc.value.reason, exc.value.detail


def test_fetch_reports_http_errors_and_aborts_oversized_downloads(images):
    images.files["ok.png"] = ok = image_bytes()
    images.files["big.png"] = b"\x00" * 200_000
    with ImageFetcher(timeout=5, allow_address=any_address) as f:
        assert f.fetch(images.url("ok.png"), 10_000) == ok
        assert rejected(f.fetch, images.url("missing.png"), 10_000) == ("HTTP 404", None)
        assert rejected(f.fetch, images.url("big.png"), 50_000) == ("larger than 50000 bytes", "Content-Length 200000")
        # No Content-Length and a body that never ends: only aborting mid-stream lets this return.
        assert rejected(f.fetch, images.url("endless"), 100_000) == ("larger than 100000 bytes", None)
        assert images.endless_chunks < 1024
        assert rejected(f.fetch, "ftp://example.com/a.png", 10_000) == ("not an http(s) URL", None)
        reason, _ = rejected(f.fetch, "http://127.0.0.1:9/nothing-listens-here.png", 10_000)
        assert reason == "network error"


def test_only_public_addresses_are_fetched_redirects_included(images):
    images.files["ok.png"] = ok = image_bytes()
    with ImageFetcher(timeout=5) as f:  # the default: public addresses only
        assert rejected(f.fetch, images.url("ok.png"), 10_000) == ("not a public address", "127.0.0.1 is 127.0.0.1")
        assert rejected(f.fetch, "http://169.254.169.254/latest/meta-data", 10_000)[0] == "not a public address"
        assert rejected(f.fetch, "http://[::1]/a.png", 10_000) == ("not a public address", "::1 is ::1")
    assert images.hits == {}
    port = images.base.split(":")[2].split("/")[0]
    only_this_host = ImageFetcher(timeout=5, allow_address=lambda ip: str(ip) == "127.0.0.1")
    with only_this_host as f:
        assert f.fetch(images.url(f"redirect?to={images.url('ok.png')}"), 10_000) == ok
        # A permitted host that redirects somewhere else on the machine's network is refused at the hop.
        elsewhere = f"http://127.0.0.2:{port}/img/ok.png"
        assert rejected(f.fetch, images.url(f"redirect?to={elsewhere}"), 10_000) == (
            "not a public address", "127.0.0.2 is 127.0.0.2")
        assert rejected(f.fetch, images.url("loop"), 10_000) == ("too many redirects", "more than 5")
    assert (images.hits["ok.png"], images.hits["loop"]) == (1, 6)


def test_not_an_image_bomb_and_truncated_files_are_rejected():
    pillow_default = Image.MAX_IMAGE_PIXELS
    policy = ImagePolicy()
    assert rejected(process_image, b"<html>sorry</html>", policy) == ("not an image", None)
    assert rejected(process_image, bomb_png(), policy)[0] == "decompression bomb: more than 40000000 pixels"
    # Between the limit and twice it Pillow only warns; the warning is an error here.
    assert rejected(process_image, image_bytes((100, 60)), ImagePolicy(max_pixels=5000))[0] == (
        "decompression bomb: more than 5000 pixels")
    assert pillow_default == Image.MAX_IMAGE_PIXELS  # our limit never leaks into the rest of the process
    png = noise_png()
    assert rejected(process_image, png[: len(png) // 2], policy)[0] == "truncated or corrupt image"
    noisy = io.BytesIO()
    Image.frombytes("RGB", (400, 300), bytes((i * 31) % 256 for i in range(400 * 300 * 3))).save(noisy, "JPEG")
    data = noisy.getvalue()
    assert rejected(process_image, data[: len(data) // 2], policy)[0] == "truncated or corrupt image"


@pytest.mark.parametrize("fmt,pil_format", [("webp", "WEBP"), ("jpeg", "JPEG")])
def test_resize_and_reencode_strip_metadata(tmp_path, fmt, pil_format):
    source = jpeg_with_exif((3000, 1500))
    assert Image.open(io.BytesIO(source)).getexif()[0x010F] == "SecretCam"
    out = process_image(source, ImagePolicy(max_dimension=800, format=fmt))
    path = ImageStore(tmp_path).put(out)
    assert path == f"{out.sha256[:2]}/{out.sha256}.{'jpg' if fmt == 'jpeg' else 'webp'}"
    with Image.open(tmp_path / path) as stored:
        assert (stored.format, stored.size, (out.width, out.height)) == (pil_format, (800, 400), (800, 400))
        assert dict(stored.getexif()) == {}
        assert "exif" not in stored.info and "icc_profile" not in stored.info
        r, g, b = stored.convert("RGB").getpixel((400, 200))
        assert abs(r - 20) <= 3 and abs(g - 120) <= 3 and abs(b - 220) <= 3
    assert ImageStore(tmp_path).put(out) == path  # same content, same file


def test_small_images_are_not_enlarged_and_transparency_survives_webp():
    rgba = io.BytesIO()
    Image.new("RGBA", (40, 30), (10, 20, 30, 0)).save(rgba, "PNG")
    out = process_image(rgba.getvalue(), ImagePolicy(max_dimension=800, lossless=True))
    with Image.open(io.BytesIO(out.data)) as im:
        assert (im.size, im.mode, im.getpixel((5, 5))[3]) == ((40, 30), "RGBA", 0)


def lossless(**wm) -> ImagePolicy:
    return ImagePolicy.from_config({"format": "webp", "lossless": True, **({"watermark": wm} if wm else {})})


def test_text_watermark_changes_only_its_corner():
    source = image_bytes((200, 100), (200, 30, 30))
    plain = Image.open(io.BytesIO(process_image(source, lossless()).data)).convert("RGB")
    marked = Image.open(io.BytesIO(process_image(source, lossless(text="DB", opacity=1.0, scale=0.3)).data))
    marked = marked.convert("RGB")
    assert plain.getcolors() == [(200 * 100, (200, 30, 30))]
    corner = [marked.getpixel((x, y)) for x in range(100, 200) for y in range(50, 100)]
    assert sum(1 for p in corner if p != (200, 30, 30)) > 50
    rest = [marked.getpixel((x, y)) for x in range(0, 100) for y in range(0, 100)]
    assert set(rest) == {(200, 30, 30)}


def test_logo_watermark_lands_bottom_right(tmp_path):
    logo = tmp_path / "logo.png"
    logo.write_bytes(image_bytes((10, 10), (0, 0, 255)))
    policy = lossless(image=str(logo), opacity=1.0, scale=0.1)
    marked = Image.open(io.BytesIO(process_image(image_bytes((200, 100), (200, 30, 30)), policy).data))
    marked = marked.convert("RGB")
    # 100 px short side: logo 30 px wide, 2 px margin -> x 168..197, y 68..97
    assert marked.getpixel((180, 80)) == (0, 0, 255)
    assert marked.getpixel((165, 80)) == (200, 30, 30)
    assert marked.getpixel((10, 10)) == (200, 30, 30)
    assert policy.profile != lossless().profile


@pytest.mark.parametrize("cfg,message", [
    ({"format": "gif"}, "images.format must be jpeg or webp, not 'gif'"),
    ({"max_bytes": 0}, "images.max_bytes must be a positive integer, not 0"),
    ({"watermark": {"position": "middle"}}, "images.watermark needs text or image (a path to a PNG)"),
    ({"watermark": {"text": "x", "position": "middle"}},
     "images.watermark.position must be one of bottom-right, bottom-left, top-right, top-left, center"),
    ({"watermark": {"image": "/nonexistent/logo.png"}},
     "images.watermark.image: cannot read '/nonexistent/logo.png': No such file or directory"),
])
def test_bad_image_config_is_refused(cfg, message):
    with pytest.raises(ValueError) as exc:
        ImagePolicy.from_config(cfg)
    assert str(exc.value) == message
