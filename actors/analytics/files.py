"""Report files: bytes under STORAGE_DIR, recorded in `stored_files` (one row per file).

A file is written to `tmp/` inside the storage root, then renamed into place atomically, so a
reader never sees half a file. Keys are derived from the job id, so a retried job replaces its
own file and row instead of adding one.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from actors import settings as worker_settings

#: Where analytics report files live under STORAGE_DIR (the edge serves only these).
REPORTS_PREFIX = "reports/analytics"

_UPSERT_SQL = """
INSERT INTO stored_files (id, storage_key, content_type, size_bytes, sha256, original_name,
                          created_at)
VALUES ($1::uuid, $2, $3, $4, $5, $6, now())
ON CONFLICT (storage_key) DO UPDATE
SET content_type = EXCLUDED.content_type, size_bytes = EXCLUDED.size_bytes,
    sha256 = EXCLUDED.sha256, original_name = EXCLUDED.original_name, created_at = now()
RETURNING id::text AS id
"""


@dataclass(frozen=True, slots=True)
class StoredReport:
    file_id: str
    storage_key: str
    content_type: str
    size_bytes: int
    file_name: str


def storage_root() -> Path:
    return worker_settings.current().storage_dir


def _path(root: Path, key: str) -> Path:
    relative = PurePosixPath(key)
    if relative.is_absolute() or any(part in {"", ".", ".."} for part in relative.parts):
        raise ValueError(f"unsafe storage key {key!r}")
    return root / relative


def _write(root: Path, key: str, content: bytes) -> None:
    target = _path(root, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = root / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    staged = tmp / f"report-{uuid.uuid4().hex}.part"
    staged.write_bytes(content)
    os.replace(staged, target)


async def store(content: bytes, *, key: str, content_type: str, file_name: str) -> StoredReport:
    """Writes `content` at `key` under STORAGE_DIR and records it; returns the file's row."""
    from tortoise import connections

    await asyncio.to_thread(_write, storage_root(), key, content)
    rows = await connections.get("default").execute_query_dict(
        _UPSERT_SQL,
        [
            str(uuid.uuid4()),
            key,
            content_type,
            len(content),
            hashlib.sha256(content).hexdigest(),
            file_name,
        ],
    )
    return StoredReport(
        file_id=rows[0]["id"],
        storage_key=key,
        content_type=content_type,
        size_bytes=len(content),
        file_name=file_name,
    )
