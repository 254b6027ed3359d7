"""Image actor (Pillow): a metadata-free web copy and a thumbnail of each uploaded result image.

The original stays byte-for-byte (appointments.md §3.2: result images are medical records).
The derivatives sit beside it under STORAGE_DIR, `{stem}.web.jpg` and `{stem}.thumbnail.jpg`;
re-encoding them from pixels drops EXIF (GPS, device, timestamps), ICC and text chunks.

Decompression bombs are refused before any pixel is decoded: Pillow only *warns* between its
default limit and twice that (BASELINE §6 pitfall 12), so the limit is lowered and the warning is
treated as the error it is; the job then fails permanently with a clear message.
"""

from __future__ import annotations

import asyncio
import os
import uuid
import warnings
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from actors.contracts.messages import ProcessResultImage
from actors.errors import PermanentError
from actors.policy import ActorPolicy, RateLimit, register
from actors.settings import WorkerSettings

#: Largest image decoded, in pixels (a 40 Mpx photo is far beyond any scan we expect).
MAX_IMAGE_PIXELS = 40_000_000
#: Longest side of the web copy.
WEB_MAX_SIDE = 2048
#: Longest side of the thumbnail.
THUMBNAIL_SIDE = 320
#: JPEG quality of both derivatives.
JPEG_QUALITY = 85
#: Content types this actor processes; anything else (PDF, Word) is stored as it is.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})

# Pillow raises DecompressionBombError above twice this and warns above it; see the module doc.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

IMAGES_POLICY = ActorPolicy(
    max_retries=3,
    min_backoff_ms=5_000,
    max_backoff_ms=300_000,
    time_limit_ms=120_000,
    rate_limit=RateLimit("concurrent", 2, ttl_ms=150_000, retry_delay_ms=500),
    notes="derivatives are rewritten atomically, so a retry or a duplicate is harmless",
)


class ImageRejectedError(PermanentError):
    """The upload cannot be processed as an image (decompression bomb, corrupt data)."""


def variant_key(key: str, variant: str) -> str:
    """`results/a/f.png` -> `results/a/f.{variant}.jpg` (the edge serves the same keys)."""
    stem, dot, _ = key.rpartition(".")
    return f"{stem if dot else key}.{variant}.jpg"


def _safe_path(root: Path, key: str) -> Path:
    relative = PurePosixPath(key)
    if relative.is_absolute() or any(part in {"", ".", ".."} for part in relative.parts):
        raise ImageRejectedError(f"unsafe storage key {key!r}")
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ImageRejectedError(f"unsafe storage key {key!r}")
    return path


def _flatten(image: Image.Image) -> Image.Image:
    """RGB pixels only: transparency composed onto white, palettes expanded."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _save_jpeg(image: Image.Image, target: Path) -> None:
    # A fresh image carries no `info` (EXIF, ICC, comments); write next to the target, then
    # rename, so readers never see half a file.
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        clean.save(partial, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def make_derivatives(source: Path, web: Path, thumbnail: Path) -> dict[str, Any]:
    """Writes the web copy and the thumbnail of `source`; raises `ImageRejectedError`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as opened:
                width, height = opened.size
                # Checked here too: warning filters are process-wide and not thread-safe.
                if width * height > MAX_IMAGE_PIXELS:
                    raise ImageRejectedError(
                        f"image of {width}x{height} pixels exceeds the limit of "
                        f"{MAX_IMAGE_PIXELS} pixels (possible decompression bomb)"
                    )
                opened.load()
                upright = ImageOps.exif_transpose(opened)
                pixels = _flatten(upright)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejectedError(f"image refused as a possible decompression bomb: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ImageRejectedError(f"not a readable image: {exc}") from exc
    web_copy = pixels.copy()
    web_copy.thumbnail((WEB_MAX_SIDE, WEB_MAX_SIDE), Image.Resampling.LANCZOS)
    _save_jpeg(web_copy, web)
    small = pixels.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    _save_jpeg(small, thumbnail)
    return {
        "width": width,
        "height": height,
        "webSize": list(web_copy.size),
        "thumbnailSize": list(small.size),
    }


def storage_root() -> Path:
    return WorkerSettings.from_env().storage_dir


@register(ProcessResultImage, IMAGES_POLICY)
async def process_result_image(file_id: str, storage_key: str, content_type: str) -> dict[str, Any]:
    """Web copy and thumbnail of one stored result image (PDF and Word files are skipped)."""
    if content_type not in IMAGE_TYPES:
        return {"fileId": file_id, "skipped": True, "reason": f"{content_type} is not an image"}
    root = storage_root()
    source = _safe_path(root, storage_key)
    web_key = variant_key(storage_key, "web")
    thumbnail_key = variant_key(storage_key, "thumbnail")
    if not source.is_file():
        # Upload rolled back after the job row committed cannot happen (same transaction), so
        # missing bytes mean someone purged them: nothing to do, and retrying cannot help.
        raise ImageRejectedError(f"stored file {storage_key!r} is missing")
    details = await asyncio.to_thread(
        make_derivatives, source, _safe_path(root, web_key), _safe_path(root, thumbnail_key)
    )
    return {"fileId": file_id, "web": web_key, "thumbnail": thumbnail_key, **details}
