"""The image actor: metadata-free web copies and thumbnails; decompression bombs refused."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from actors.errors import PermanentError
from actors.images import (
    IMAGES_POLICY,
    MAX_IMAGE_PIXELS,
    THUMBNAIL_SIDE,
    ImageRejectedError,
    make_derivatives,
    process_result_image,
    variant_key,
)

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps(size: tuple[int, int] = (1200, 800), *, orientation: int = 1) -> bytes:
    image = Image.new("RGB", size, (120, 60, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[ORIENTATION] = orientation
    exif[GPS_IFD] = {1: "N", 2: (6.0, 27.0, 0.0), 3: "E", 4: (3.0, 23.0, 0.0)}
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, comment=b"patient name here")
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width x height` pixels (no pixel data needed to refuse it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def outputs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "f.web.jpg", tmp_path / "f.thumbnail.jpg"


def test_derivatives_carry_no_exif_gps_or_comments(tmp_path: Path) -> None:
    source = tmp_path / "f.jpg"
    source.write_bytes(jpeg_with_gps())
    assert Image.open(source).getexif().get(GPS_IFD) is not None
    web, thumbnail = outputs(tmp_path)

    details = make_derivatives(source, web, thumbnail)

    for path in (web, thumbnail):
        with Image.open(path) as produced:
            assert produced.format == "JPEG"
            assert len(produced.getexif()) == 0
            assert "exif" not in produced.info
            assert "comment" not in produced.info
        assert b"PhoneMaker" not in path.read_bytes()
    assert details["width"] == 1200
    assert source.read_bytes() == jpeg_with_gps()  # the original stays byte-for-byte


def test_the_thumbnail_fits_the_box_and_keeps_the_aspect_ratio(tmp_path: Path) -> None:
    source = tmp_path / "f.jpg"
    source.write_bytes(jpeg_with_gps((1200, 800)))
    web, thumbnail = outputs(tmp_path)

    make_derivatives(source, web, thumbnail)

    assert Image.open(thumbnail).size == (THUMBNAIL_SIDE, THUMBNAIL_SIDE * 2 // 3)
    assert Image.open(web).size == (1200, 800)


def test_the_exif_orientation_is_applied_before_it_is_dropped(tmp_path: Path) -> None:
    source = tmp_path / "f.jpg"
    source.write_bytes(jpeg_with_gps((600, 300), orientation=6))  # rotate 90 degrees
    web, thumbnail = outputs(tmp_path)

    make_derivatives(source, web, thumbnail)

    assert Image.open(web).size == (300, 600)


def test_transparent_png_is_flattened_onto_white(tmp_path: Path) -> None:
    source = tmp_path / "f.png"
    Image.new("RGBA", (50, 40), (0, 0, 0, 0)).save(source)
    web, thumbnail = outputs(tmp_path)

    make_derivatives(source, web, thumbnail)

    red, green, blue = Image.open(web).convert("RGB").getpixel((10, 10))  # type: ignore[misc]
    assert min(red, green, blue) > 240


@pytest.mark.parametrize(
    "pixels",
    [
        MAX_IMAGE_PIXELS + 1_000_000,  # where Pillow would only warn
        MAX_IMAGE_PIXELS * 3,  # where Pillow raises on its own
    ],
)
def test_decompression_bombs_are_refused_permanently(tmp_path: Path, pixels: int) -> None:
    source = tmp_path / "bomb.png"
    width = 10_000
    source.write_bytes(png_header_only(width, pixels // width))
    web, thumbnail = outputs(tmp_path)

    with pytest.raises(ImageRejectedError, match="decompression bomb"):
        make_derivatives(source, web, thumbnail)

    assert not web.exists()
    assert not thumbnail.exists()
    assert issubclass(ImageRejectedError, PermanentError)
    assert PermanentError in IMAGES_POLICY.throws


def test_corrupt_images_are_refused(tmp_path: Path) -> None:
    source = tmp_path / "f.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\n garbage")

    with pytest.raises(ImageRejectedError, match="not a readable image"):
        make_derivatives(source, *outputs(tmp_path))


async def test_the_actor_writes_beside_the_original_and_skips_pdfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_DIR", str(tmp_path))
    key = "results/appt-1/file-1.jpg"
    (tmp_path / "results" / "appt-1").mkdir(parents=True)
    (tmp_path / key).write_bytes(jpeg_with_gps())

    result = await process_result_image("file-1", key, "image/jpeg")
    skipped = await process_result_image("file-2", "results/appt-1/file-2.pdf", "application/pdf")

    assert result["web"] == variant_key(key, "web") == "results/appt-1/file-1.web.jpg"
    assert result["thumbnail"] == "results/appt-1/file-1.thumbnail.jpg"
    assert (tmp_path / result["web"]).is_file()
    assert (tmp_path / result["thumbnail"]).is_file()
    assert skipped["skipped"] is True


async def test_the_actor_refuses_keys_outside_the_storage_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_DIR", str(tmp_path))

    with pytest.raises(ImageRejectedError):
        await process_result_image("f", "../outside.jpg", "image/jpeg")
