"""Result-file storage: settings, the storage interface, local disk, allowed types, signed URLs.

Bytes live under `STORAGE_DIR` at keys such as `results/{appointmentId}/{fileId}.pdf`; the
`stored_files` table records them (appointments.md §3.2). Downloads are authorised either by a
bearer token or by a short-lived link `...?expires=&scope=&signature=` whose signature is an
HMAC-SHA256 over `{fileId}.{expires}.{scope}` (§3.4), so `<img src>` and `window.open` work.
Disk calls run in a worker thread: the edge's event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import time
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

#: Default per-file size limit (10 MiB), `RESULT_FILE_MAX_BYTES`.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
#: Default number of files one multipart request may carry, `RESULT_FILES_MAX_PER_REQUEST`.
DEFAULT_MAX_FILES = 10
#: Default lifetime of a signed download link, `FILE_URL_TTL_SECONDS`.
DEFAULT_URL_TTL = 3600
#: Extra body allowance beyond `files x limit` for multipart framing and text parts.
BODY_OVERHEAD_BYTES = 1024 * 1024

#: Scopes a signed link may carry: `active` (patients: non-deleted files) or `all`.
SCOPES = frozenset({"active", "all"})

#: Prefix of `cloudinaryId` for files whose bytes this system stores.
LOCAL_ID_PREFIX = "local:"


@dataclass(frozen=True, slots=True)
class FileType:
    extension: str
    content_type: str
    magic: bytes


#: Allowed result files: extension -> canonical type and leading bytes (appointments.md §3.2).
ALLOWED_TYPES: dict[str, FileType] = {
    "pdf": FileType("pdf", "application/pdf", b"%PDF-"),
    "jpg": FileType("jpg", "image/jpeg", b"\xff\xd8\xff"),
    "jpeg": FileType("jpeg", "image/jpeg", b"\xff\xd8\xff"),
    "png": FileType("png", "image/png", b"\x89PNG\r\n\x1a\n"),
    "doc": FileType("doc", "application/msword", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
    "docx": FileType(
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        b"PK\x03\x04",
    ),
}
ALLOWED_EXTENSIONS_TEXT = "pdf, jpg, jpeg, png, doc, docx"
#: Enough leading bytes to recognise every allowed type.
SNIFF_BYTES = max(len(kind.magic) for kind in ALLOWED_TYPES.values())
#: Types the image actor makes web/thumbnail derivatives for.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})


def extension_of(name: str) -> str:
    """Lower-case extension of a file name (`""` when it has none)."""
    base = PurePosixPath(name.replace("\\", "/")).name
    _, dot, ext = base.rpartition(".")
    return ext.lower() if dot else ""


def detect_type(name: str, head: bytes) -> FileType | None:
    """The allowed type matching both the name's extension and the leading bytes, else None."""
    kind = ALLOWED_TYPES.get(extension_of(name))
    if kind is None or not head.startswith(kind.magic):
        return None
    return kind


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_file_name(name: str, extension: str) -> str:
    """Last path component, control characters removed, at most 255 characters."""
    base = PurePosixPath(name.replace("\\", "/")).name
    base = _CONTROL.sub("", unicodedata.normalize("NFC", base)).strip()
    if base in {"", ".", ".."}:
        return f"file.{extension}"
    return base[:255]


def printable_name(name: str) -> str:
    """The client's file name as given, minus control characters (PostgreSQL refuses NUL)."""
    return _CONTROL.sub("", name)


def clean_file_path(path: str | None, file_name: str) -> str:
    """Client-supplied relative path without leading `/` and `..` segments (≤ 500), or the name."""
    if not path:
        return file_name
    text = _CONTROL.sub("", path.replace("\\", "/"))
    parts = [part for part in text.split("/") if part not in {"", ".", ".."}]
    cleaned = "/".join(parts)[:500]
    return cleaned or file_name


def result_key(appointment_id: str, file_id: str, extension: str) -> str:
    """Storage key of a result file (ids are ours, but keep them path-safe anyway)."""
    return f"results/{_segment(appointment_id)}/{_segment(file_id)}.{_segment(extension)}"


def variant_key(key: str, variant: str, extension: str = "jpg") -> str:
    """Key of a derivative (`web`, `thumbnail`) next to the original: `{stem}.{variant}.jpg`."""
    stem, _, _ = key.rpartition(".")
    return f"{stem or key}.{_segment(variant)}.{_segment(extension)}"


_SAFE_SEGMENT = re.compile(r"[^A-Za-z0-9_-]")


def _segment(value: str) -> str:
    cleaned = _SAFE_SEGMENT.sub("_", value)
    if not cleaned:
        raise ValueError("empty storage key segment")
    return cleaned


def content_disposition(file_name: str) -> str:
    """`inline; filename="<ascii>"; filename*=UTF-8''<percent-encoded>` (RFC 6266)."""
    from urllib.parse import quote

    ascii_name = unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r'["\\\x00-\x1f\x7f]', "_", ascii_name).strip() or "file"
    return f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name, safe='')}"


# ---------------------------------------------------------------------------------------------
# Settings


def _int_env(environ: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}")
    return value


def derive_signing_key(jwt_token_secret: str) -> bytes:
    """Default link-signing key: HMAC-SHA256 of the text `file-url` keyed with the JWT secret."""
    return hmac.new(jwt_token_secret.encode(), b"file-url", hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class FileSettings:
    """File-storage settings (appointments.md §3.2); the signing key is never logged."""

    storage_dir: Path
    signing_key: bytes = field(repr=False)
    max_bytes: int = DEFAULT_MAX_BYTES
    max_files: int = DEFAULT_MAX_FILES
    url_ttl: int = DEFAULT_URL_TTL
    public_base_url: str = ""
    allowed_url_hosts: frozenset[str] = frozenset()

    @property
    def max_body_bytes(self) -> int:
        """Largest multipart body accepted: `files x limit + 1 MiB`."""
        return self.max_files * self.max_bytes + BODY_OVERHEAD_BYTES

    @property
    def max_megabytes_text(self) -> str:
        megabytes = self.max_bytes / (1024 * 1024)
        return f"{megabytes:g}MB"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> FileSettings:
        explicit = environ.get("FILE_URL_SIGNING_KEY", "").strip()
        if explicit:
            key = explicit.encode()
        else:
            secret = environ.get("JWT_TOKEN_SECRET", "").strip()
            if not secret:
                # Embedded mode signs tokens with its development secret; links follow it.
                from edge.settings import EMBEDDED_JWT_SECRET

                secret = EMBEDDED_JWT_SECRET
            key = derive_signing_key(secret)
        hosts = frozenset(
            host.strip().lower()
            for host in environ.get("RESULT_FILE_URL_ALLOWED_HOSTS", "").split(",")
            if host.strip()
        )
        return cls(
            storage_dir=Path(environ.get("STORAGE_DIR", "").strip() or "./var/storage"),
            signing_key=key,
            max_bytes=_int_env(environ, "RESULT_FILE_MAX_BYTES", DEFAULT_MAX_BYTES),
            max_files=_int_env(environ, "RESULT_FILES_MAX_PER_REQUEST", DEFAULT_MAX_FILES),
            url_ttl=_int_env(environ, "FILE_URL_TTL_SECONDS", DEFAULT_URL_TTL),
            public_base_url=environ.get("PUBLIC_BASE_URL", "").strip().rstrip("/"),
            allowed_url_hosts=hosts,
        )


_settings: FileSettings | None = None


def file_settings() -> FileSettings:
    """The process's file settings, read from the environment once."""
    global _settings  # one settings object per process, read lazily
    if _settings is None:
        _settings = FileSettings.from_env(os.environ)
    return _settings


# ---------------------------------------------------------------------------------------------
# Signed download links


def sign(key: bytes, file_id: str, expires: int, scope: str) -> str:
    message = f"{file_id}.{expires}.{scope}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def content_path(file_id: str) -> str:
    """Canonical, unsigned download path stored in `cloudinaryUrl`."""
    return f"/api/v1/appointment/files/{file_id}/content"


def signed_url(
    settings: FileSettings, file_id: str, scope: str, *, now: float | None = None
) -> str:
    """`{PUBLIC_BASE_URL}/api/v1/appointment/files/{id}/content?expires=&scope=&signature=`."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    expires = int(now if now is not None else time.time()) + settings.url_ttl
    signature = sign(settings.signing_key, file_id, expires, scope)
    return (
        f"{settings.public_base_url}{content_path(file_id)}"
        f"?expires={expires}&scope={scope}&signature={signature}"
    )


def verify_signature(
    settings: FileSettings,
    file_id: str,
    expires: str,
    scope: str,
    signature: str,
    *,
    now: float | None = None,
) -> bool:
    """True when the link was signed by us for this file and scope and has not expired."""
    if scope not in SCOPES or not expires.isdigit() or len(expires) > 12:
        return False
    expected = sign(settings.signing_key, file_id, int(expires), scope)
    if not hmac.compare_digest(expected, signature.lower()):
        return False
    return int(expires) >= int(now if now is not None else time.time())


# ---------------------------------------------------------------------------------------------
# Storage


class StorageError(Exception):
    """A storage operation failed (disk full, missing bytes, unsafe key)."""


class StagedFile:
    """Bytes being received: a temporary file inside the storage root, counted and hashed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self.head = b""
        self._sha256 = hashlib.sha256()
        self._handle = path.open("xb")

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def _write(self, chunk: bytes) -> None:
        self._handle.write(chunk)

    async def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        if len(self.head) < SNIFF_BYTES:
            self.head = (self.head + chunk)[:SNIFF_BYTES]
        self.size += len(chunk)
        self._sha256.update(chunk)
        await asyncio.to_thread(self._write, chunk)

    def count(self, chunk: bytes) -> None:
        """Counts bytes that will not be kept (after a limit was passed)."""
        self.size += len(chunk)

    async def close(self) -> None:
        if not self._handle.closed:
            await asyncio.to_thread(self._handle.close)


class Storage(Protocol):
    """Where result bytes live. Keys are relative POSIX paths built by `result_key`."""

    async def stage(self) -> StagedFile: ...

    async def commit(self, staged: StagedFile, key: str) -> None: ...

    async def discard(self, staged: StagedFile) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...

    def local_path(self, key: str) -> Path: ...


class LocalStorage:
    """Files under one directory; writes go to `tmp/` then are renamed into place atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def local_path(self, key: str) -> Path:
        relative = PurePosixPath(key)
        if relative.is_absolute() or any(part in {"", ".", ".."} for part in relative.parts):
            raise StorageError("unsafe storage key")
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            raise StorageError("unsafe storage key")
        return path

    def _stage(self) -> StagedFile:
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return StagedFile(tmp / f"upload-{uuid.uuid4().hex}.part")

    async def stage(self) -> StagedFile:
        return await asyncio.to_thread(self._stage)

    def _commit(self, staged: StagedFile, key: str) -> None:
        target = self.local_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.path, target)

    async def commit(self, staged: StagedFile, key: str) -> None:
        await staged.close()
        await asyncio.to_thread(self._commit, staged, key)

    async def discard(self, staged: StagedFile) -> None:
        await staged.close()
        await asyncio.to_thread(staged.path.unlink, True)

    async def delete(self, key: str) -> None:
        path = self.local_path(key)
        await asyncio.to_thread(path.unlink, True)

    async def exists(self, key: str) -> bool:
        try:
            path = self.local_path(key)
        except StorageError:
            return False
        return await asyncio.to_thread(path.is_file)


_storage: LocalStorage | None = None


def default_storage() -> LocalStorage:
    """The process's storage (local disk under `STORAGE_DIR`)."""
    global _storage  # one storage object per process, created lazily
    if _storage is None:
        _storage = LocalStorage(file_settings().storage_dir)
    return _storage
