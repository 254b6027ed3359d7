"""Bulk data (queue `bulk`): CSV import of centres and screening types, CSV export of
appointments and transactions, with progress written to the job row.

Imports read a CSV stored under STORAGE_DIR (the `zerocancer admin` command puts it there),
check every row, and upsert the valid ones in chunks, one transaction per chunk: centres by
e-mail (case-insensitive), screening types by name. Invalid rows are skipped and reported in the
job's result, one `{"row", "field", "message"}` per problem (`row` is the CSV line number, the
header being line 1). Running an import twice gives the same rows.

Exports stream one query through a server-side cursor into `exports/<job id>-<what>.csv` under
STORAGE_DIR (recorded in `stored_files`); the result names the file.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
import os
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from actors import settings as worker_settings
from actors.contracts.messages import (
    ExportAppointments,
    ExportTransactions,
    ImportCenters,
    ImportScreeningTypes,
)
from actors.errors import InvalidMessageError
from actors.middleware.jobs import current_job, report_progress
from actors.policy import ActorPolicy, RateLimit, register

if TYPE_CHECKING:
    from tortoise.backends.base.client import TransactionalDBClient

log = logging.getLogger(__name__)

RowT = TypeVar("RowT")

#: Rows checked and written per transaction (and per progress update) by the imports.
IMPORT_CHUNK = 500
#: Rows fetched per round trip by the exports (and per progress update).
EXPORT_CHUNK = 5_000
#: Problems listed in an import's result; the count of failed rows is always complete.
MAX_REPORTED_ERRORS = 1_000
#: Largest CSV an import reads.
MAX_IMPORT_BYTES = 20 * 1024 * 1024

BULK_POLICY = ActorPolicy(
    max_retries=2,
    min_backoff_ms=10_000,
    max_backoff_ms=300_000,
    time_limit_ms=1_800_000,
    rate_limit=RateLimit("concurrent", 2, ttl_ms=1_900_000, retry_delay_ms=5_000),
    notes="imports upsert by natural key and exports rewrite their own file: reruns are safe",
)

CENTER_STATUSES = ("ACTIVE", "INACTIVE", "SUSPENDED")
APPOINTMENT_STATUSES = ("PENDING", "SCHEDULED", "IN_PROGRESS", "COMPLETED", "CANCELLED")
TRANSACTION_STATUSES = ("PENDING", "COMPLETED", "FAILED")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}


class ImportFileError(InvalidMessageError):
    """The file cannot be imported at all (missing, too large, not CSV, columns missing)."""


@dataclass
class ImportReport:
    """The job result of an import."""

    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def problem(self, row: int, column: str, message: str) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"row": row, "field": column, "message": message})

    def as_result(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "failed": self.failed,
            "errors": self.errors,
            "errorsTruncated": self.failed > 0 and len(self.errors) >= MAX_REPORTED_ERRORS,
            "ignoredColumns": self.ignored_columns,
        }


# -- files ----------------------------------------------------------------------------------------


def storage_root() -> Path:
    return worker_settings.current().storage_dir


def storage_path(root: Path, key: str) -> Path:
    """The path of `key` under `root`; refuses keys that would leave it."""
    relative = PurePosixPath(key)
    if relative.is_absolute() or any(part in {"", ".", ".."} for part in relative.parts):
        raise InvalidMessageError(f"unsafe storage key {key!r}")
    return root / relative


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise ImportFileError(f"import file {path.name!r} not found in STORAGE_DIR")
    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise ImportFileError(f"import file is larger than {MAX_IMPORT_BYTES} bytes")
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError("import file is not UTF-8 text") from None


_RECORD_FILE_SQL = """
INSERT INTO stored_files (id, storage_key, content_type, size_bytes, sha256, original_name,
                          created_at)
VALUES ($1::uuid, $2, 'text/csv; charset=utf-8', $3, $4, $5, now())
ON CONFLICT (storage_key) DO UPDATE
SET size_bytes = EXCLUDED.size_bytes, sha256 = EXCLUDED.sha256, created_at = now()
RETURNING id::text AS id
"""


# -- parsing helpers (pure) -----------------------------------------------------------------------


def _key(name: str) -> str:
    """Header names are matched without case, spaces, dashes or underscores."""
    return re.sub(r"[\s_\-]", "", name).lower()


def read_rows(
    text: str, columns: dict[str, tuple[str, ...]], required: Iterable[str]
) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """(line number, {column: trimmed value}) per data row, and the ignored header names.

    `columns` maps each column to its accepted header spellings; a missing required column
    rejects the whole file (`ImportFileError`).
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("import file is empty") from None
    except csv.Error as error:
        raise ImportFileError(f"import file is not valid CSV: {error}") from None
    spellings = {_key(alias): name for name, aliases in columns.items() for alias in aliases}
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for index, title in enumerate(header):
        name = spellings.get(_key(title))
        if name is None or name in positions:
            if title.strip():
                ignored.append(title.strip())
            continue
        positions[name] = index
    missing = [name for name in required if name not in positions]
    if missing:
        raise ImportFileError(f"import file lacks the column(s): {', '.join(missing)}")
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            record = {
                name: values[index].strip() if index < len(values) else ""
                for name, index in positions.items()
            }
            rows.append((reader.line_num, record))
    except csv.Error as error:
        raise ImportFileError(
            f"import file is not valid CSV (line {reader.line_num}): {error}"
        ) from None
    return rows, ignored


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


async def upsert_in_chunks(
    rows: Sequence[tuple[int, dict[str, str]]],
    report: ImportReport,
    *,
    check: Callable[[int, dict[str, str]], RowT | None],
    upsert: Callable[[TransactionalDBClient, list[RowT]], Awaitable[None]],
) -> None:
    """Checks `rows` (from `read_rows`) IMPORT_CHUNK at a time and upserts each chunk's valid
    rows in one transaction; rows `check` refuses (it reports why) are counted as failed.
    Progress is reported after every chunk."""
    from tortoise.transactions import in_transaction

    for start in range(0, len(rows), IMPORT_CHUNK):
        chunk = rows[start : start + IMPORT_CHUNK]
        valid = [row for line, record in chunk if (row := check(line, record)) is not None]
        report.failed += len(chunk) - len(valid)
        if valid:
            async with in_transaction() as conn:
                await upsert(conn, valid)
        await report_progress(start + len(chunk), len(rows))


# -- centres --------------------------------------------------------------------------------------

CENTER_COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "center_name": ("centerName", "name", "center"),
    "address": ("address",),
    "state": ("state",),
    "lga": ("lga", "localGovernment"),
    "phone": ("phone", "phoneNumber"),
    "status": ("status",),
    "services": ("services", "screeningTypes"),
    "bank_name": ("bankName",),
    "bank_account": ("bankAccount",),
}
CENTER_REQUIRED = ("email", "center_name", "address", "state", "lga")


@dataclass(frozen=True, slots=True)
class CenterRow:
    line: int
    email: str
    center_name: str
    address: str
    state: str
    lga: str
    phone: str | None
    status: str | None
    bank_name: str | None
    bank_account: str | None
    #: (screening type id, price or None for its agreed price)
    services: tuple[tuple[str, float | None], ...]


def check_center(
    line: int,
    record: dict[str, str],
    types_by_name: dict[str, str],
    seen_emails: dict[str, int],
    report: ImportReport,
) -> CenterRow | None:
    """The row, or None after reporting its problems."""
    problems: list[tuple[str, str]] = []
    for name in CENTER_REQUIRED:
        if not record.get(name):
            problems.append((name, "is required"))
    email = record.get("email", "")
    if email and not _EMAIL.match(email):
        problems.append(("email", f"{email!r} is not an e-mail address"))
    elif email:
        first = seen_emails.setdefault(email.lower(), line)
        if first != line:
            problems.append(("email", f"repeats the e-mail of line {first}"))
    status = record.get("status", "").upper() or None
    if status is not None and status not in CENTER_STATUSES:
        problems.append(("status", f"must be one of {', '.join(CENTER_STATUSES)}"))
    services: list[tuple[str, float | None]] = []
    for item in re.split(r"[;|]", record.get("services", "")):
        if not item.strip():
            continue
        name, _, price_text = item.partition("=")
        type_id = types_by_name.get(name.strip().lower())
        price = None
        if price_text.strip():
            price = _number(price_text.strip())
            if price is None or price < 0:
                problems.append(("services", f"price of {name.strip()!r} is not a number ≥ 0"))
        if type_id is None:
            problems.append(("services", f"unknown screening type {name.strip()!r}"))
        elif type_id not in {t for t, _ in services}:
            services.append((type_id, price))
    if problems:
        for column, message in problems:
            report.problem(line, column, message)
        return None
    return CenterRow(
        line=line,
        email=email,
        center_name=record["center_name"],
        address=record["address"],
        state=record["state"],
        lga=record["lga"],
        phone=record.get("phone") or None,
        status=status,
        bank_name=record.get("bank_name") or None,
        bank_account=record.get("bank_account") or None,
        services=tuple(services),
    )


# One statement per chunk: update the centres whose e-mail exists (case-insensitively), insert
# the others with their owner staff row (same e-mail and unusable password hash, role ADMIN, as
# registration makes them; the owner sets a password through the staff password reset), then
# the offered screening types and their prices.
_UPSERT_CENTERS_SQL = """
WITH input AS (
    SELECT *
    FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::text[], $10::text[])
         AS i(line, email, center_name, address, state, lga, phone, status, bank_name,
              bank_account)
), matched AS (
    SELECT DISTINCT ON (i.line) i.*, c.id AS existing_id
    FROM input i
    LEFT JOIN "ServiceCenter" c ON lower(c.email) = lower(i.email)
    ORDER BY i.line, c."createdAt", c.id
), updated AS (
    UPDATE "ServiceCenter" c
    SET "centerName" = m.center_name, address = m.address, state = m.state, lga = m.lga,
        phone = COALESCE(m.phone, c.phone),
        status = COALESCE(m.status::"ServiceCenterStatus", c.status),
        "bankName" = COALESCE(m.bank_name, c."bankName"),
        "bankAccount" = COALESCE(m.bank_account, c."bankAccount")
    FROM matched m
    WHERE c.id = m.existing_id
    RETURNING c.id, m.line
), inserted AS (
    INSERT INTO "ServiceCenter" (id, email, "passwordHash", "createdAt", phone, "centerName",
                                 address, state, lga, "bankAccount", "bankName", status)
    SELECT gen_random_uuid()::text, m.email, $11, date_trunc('milliseconds', $12::timestamp),
           m.phone, m.center_name, m.address, m.state, m.lga, COALESCE(m.bank_account, ''),
           m.bank_name, COALESCE(m.status, 'INACTIVE')::"ServiceCenterStatus"
    FROM matched m
    WHERE m.existing_id IS NULL
    RETURNING id, email, "passwordHash"
), owners AS (
    INSERT INTO "CenterStaff" (id, "centerId", email, "passwordHash", role, status, "createdAt")
    SELECT gen_random_uuid()::text, n.id, n.email, n."passwordHash", 'ADMIN', 'ACTIVE',
           date_trunc('milliseconds', $12::timestamp)
    FROM inserted n
    RETURNING id
)
SELECT i.line, COALESCE(u.id, n.id) AS center_id, n.id IS NOT NULL AS created
FROM input i
LEFT JOIN updated u ON u.line = i.line
LEFT JOIN inserted n ON lower(n.email) = lower(i.email)
"""

_CENTER_SERVICES_SQL = """
WITH offer AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::float8[]) AS o(center_id, type_id, price)
), linked AS (
    INSERT INTO "_ScreeningTypeToServiceCenter" ("A", "B")
    SELECT type_id, center_id FROM offer
    ON CONFLICT DO NOTHING
    RETURNING 1
)
INSERT INTO "ServiceCenterScreeningType" (id, "centerId", "screeningTypeId", amount)
SELECT gen_random_uuid()::text, o.center_id, o.type_id, COALESCE(o.price, st."agreedPrice")
FROM offer o JOIN "ScreeningType" st ON st.id = o.type_id
ON CONFLICT ("centerId", "screeningTypeId") DO UPDATE
SET amount = COALESCE((SELECT price FROM offer p
                       WHERE p.center_id = EXCLUDED."centerId"
                         AND p.type_id = EXCLUDED."screeningTypeId"),
                      "ServiceCenterScreeningType".amount)
"""


def _unusable_password_hash() -> str:
    """A bcrypt hash of 32 random bytes that are thrown away: nobody can log in with it."""
    import bcrypt

    return bcrypt.hashpw(secrets.token_bytes(32), bcrypt.gensalt(10)).decode()


async def import_centers_from(text: str, report: ImportReport) -> ImportReport:
    """Checks and upserts the centres of CSV `text` (see the module docstring)."""
    from tortoise import connections

    rows, report.ignored_columns = read_rows(text, CENTER_COLUMNS, CENTER_REQUIRED)
    report.rows = len(rows)
    await report_progress(0, len(rows))
    types = await connections.get("default").execute_query_dict(
        'SELECT id, name FROM "ScreeningType"'
    )
    types_by_name = {str(t["name"]).lower(): str(t["id"]) for t in types}
    password_hash = await asyncio.to_thread(_unusable_password_hash)
    seen: dict[str, int] = {}
    now = datetime.now(UTC).replace(tzinfo=None)
    await upsert_in_chunks(
        rows,
        report,
        check=lambda line, record: check_center(line, record, types_by_name, seen, report),
        upsert=lambda conn, valid: _upsert_centers(
            conn, valid, report, password_hash=password_hash, now=now
        ),
    )
    return report


async def _upsert_centers(
    conn: TransactionalDBClient,
    rows: list[CenterRow],
    report: ImportReport,
    *,
    password_hash: str,
    now: datetime,
) -> None:
    result = await conn.execute_query_dict(
        _UPSERT_CENTERS_SQL,
        [
            [r.line for r in rows],
            [r.email for r in rows],
            [r.center_name for r in rows],
            [r.address for r in rows],
            [r.state for r in rows],
            [r.lga for r in rows],
            [r.phone for r in rows],
            [r.status for r in rows],
            [r.bank_name for r in rows],
            [r.bank_account for r in rows],
            password_hash,
            now,
        ],
    )
    ids = {int(r["line"]): str(r["center_id"]) for r in result}
    report.created += sum(1 for r in result if r["created"])
    report.updated += sum(1 for r in result if not r["created"])
    offers = [(ids[r.line], type_id, price) for r in rows for type_id, price in r.services]
    if offers:
        await conn.execute_query(
            _CENTER_SERVICES_SQL,
            [[o[0] for o in offers], [o[1] for o in offers], [o[2] for o in offers]],
        )


# -- screening types ------------------------------------------------------------------------------

TYPE_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "category": ("category", "categoryId", "screeningTypeCategoryId", "categoryName"),
    "description": ("description",),
    "agreed_price": ("agreedPrice", "price"),
    "active": ("active",),
}
TYPE_REQUIRED = ("name", "category")


@dataclass(frozen=True, slots=True)
class TypeRow:
    line: int
    name: str
    category_id: str
    description: str | None
    agreed_price: float | None
    active: bool | None


def check_type(
    line: int,
    record: dict[str, str],
    categories: dict[str, str],
    seen_names: dict[str, int],
    report: ImportReport,
) -> TypeRow | None:
    """The row, or None after reporting its problems."""
    problems: list[tuple[str, str]] = []
    for name in TYPE_REQUIRED:
        if not record.get(name):
            problems.append((name, "is required"))
    name = record.get("name", "")
    if name:
        first = seen_names.setdefault(name, line)
        if first != line:
            problems.append(("name", f"repeats the name of line {first}"))
    category_id = categories.get(record.get("category", "").lower())
    if record.get("category") and category_id is None:
        problems.append(("category", f"unknown category {record['category']!r}"))
    price = None
    if record.get("agreed_price"):
        price = _number(record["agreed_price"])
        if price is None or price < 0:
            problems.append(("agreedPrice", "must be a number ≥ 0"))
    active = None
    if record.get("active"):
        word = record["active"].lower()
        if word not in _TRUE | _FALSE:
            problems.append(("active", "must be true or false"))
        active = word in _TRUE
    if problems or category_id is None:
        for column, message in problems:
            report.problem(line, column, message)
        return None
    return TypeRow(
        line=line,
        name=name,
        category_id=category_id,
        description=record.get("description") or None,
        agreed_price=price,
        active=active,
    )


# Existing names are updated (a blank cell keeps the stored value), new ones inserted; the
# insert skips names the update saw, since both read the statement's snapshot.
_UPSERT_TYPES_SQL = """
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::bool[])
                  AS i(name, category_id, description, agreed_price, active)
), updated AS (
    UPDATE "ScreeningType" st
    SET description = COALESCE(i.description, st.description),
        "screeningTypeCategoryId" = i.category_id,
        active = COALESCE(i.active, st.active),
        "agreedPrice" = COALESCE(i.agreed_price, st."agreedPrice")
    FROM input i
    WHERE st.name = i.name
    RETURNING st.id
), inserted AS (
    INSERT INTO "ScreeningType" (id, name, description, "screeningTypeCategoryId", active,
                                 "agreedPrice")
    SELECT gen_random_uuid()::text, i.name, i.description, i.category_id,
           COALESCE(i.active, true), COALESCE(i.agreed_price, 10000.0)
    FROM input i
    WHERE NOT EXISTS (SELECT 1 FROM "ScreeningType" s WHERE s.name = i.name)
    ON CONFLICT (name) DO NOTHING
    RETURNING id
)
SELECT (SELECT count(*) FROM updated) AS updated, (SELECT count(*) FROM inserted) AS created
"""


async def import_screening_types_from(text: str, report: ImportReport) -> ImportReport:
    """Checks and upserts the screening types of CSV `text` (see the module docstring)."""
    from tortoise import connections

    rows, report.ignored_columns = read_rows(text, TYPE_COLUMNS, TYPE_REQUIRED)
    report.rows = len(rows)
    await report_progress(0, len(rows))
    found = await connections.get("default").execute_query_dict(
        'SELECT id, name FROM "ScreeningTypeCategory"'
    )
    categories: dict[str, str] = {}
    for category in found:
        categories.setdefault(str(category["name"]).lower(), str(category["id"]))
    categories.update({str(c["id"]).lower(): str(c["id"]) for c in found})
    seen: dict[str, int] = {}
    await upsert_in_chunks(
        rows,
        report,
        check=lambda line, record: check_type(line, record, categories, seen, report),
        upsert=lambda conn, valid: _upsert_types(conn, valid, report),
    )
    return report


async def _upsert_types(
    conn: TransactionalDBClient, rows: list[TypeRow], report: ImportReport
) -> None:
    result = await conn.execute_query_dict(
        _UPSERT_TYPES_SQL,
        [
            [r.name for r in rows],
            [r.category_id for r in rows],
            [r.description for r in rows],
            [r.agreed_price for r in rows],
            [r.active for r in rows],
        ],
    )
    report.updated += int(result[0]["updated"])
    report.created += int(result[0]["created"])


# -- exports --------------------------------------------------------------------------------------

APPOINTMENT_EXPORT_COLUMNS = (
    "id", "createdAt", "appointmentDateTime", "status", "isDonation", "campaignId",
    "centerId", "centerName", "centerState", "screeningTypeId", "screeningType", "patientId",
    "patientName", "transactionId", "transactionStatus", "amount", "resultUploadedAt",
    "cancellationReason", "cancellationDate",
)  # fmt: skip
_APPOINTMENTS_SQL = """
SELECT a.id, a."createdAt", a."appointmentDateTime", a.status::text, a."isDonation",
       a."donationId", a."centerId", c."centerName", c.state, a."screeningTypeId", st.name,
       a."patientId", u."fullName", a."transactionId", t.status::text, t.amount,
       r."uploadedAt", a."cancellationReason", a."cancellationDate"
FROM "Appointment" a
JOIN "ServiceCenter" c ON c.id = a."centerId"
JOIN "ScreeningType" st ON st.id = a."screeningTypeId"
JOIN "User" u ON u.id = a."patientId"
LEFT JOIN "Transaction" t ON t.id = a."transactionId"
LEFT JOIN "ScreeningResult" r ON r."appointmentId" = a.id
WHERE ($1::timestamp IS NULL OR a."createdAt" >= $1)
  AND ($2::timestamp IS NULL OR a."createdAt" <= $2)
  AND ($3::text IS NULL OR a.status::text = $3)
ORDER BY a."createdAt", a.id
"""
_APPOINTMENTS_COUNT_SQL = """
SELECT count(*) AS n FROM "Appointment" a
WHERE ($1::timestamp IS NULL OR a."createdAt" >= $1)
  AND ($2::timestamp IS NULL OR a."createdAt" <= $2)
  AND ($3::text IS NULL OR a.status::text = $3)
"""

TRANSACTION_EXPORT_COLUMNS = (
    "id", "createdAt", "type", "status", "amount", "paymentReference", "paymentChannel",
    "campaignId", "campaignTitle", "appointmentId",
)  # fmt: skip
# The linked appointment comes from one hash join over the appointments that have a
# transaction (the first by creation when several share one).
_TRANSACTIONS_SQL = """
SELECT t.id, t."createdAt", t."type"::text, t.status::text, t.amount, t."paymentReference",
       t."paymentChannel", t."relatedDonationId", k.title, l.appointment_id
FROM "Transaction" t
LEFT JOIN "DonationCampaign" k ON k.id = t."relatedDonationId"
LEFT JOIN (
    SELECT DISTINCT ON ("transactionId") "transactionId", id AS appointment_id
    FROM "Appointment" WHERE "transactionId" IS NOT NULL
    ORDER BY "transactionId", "createdAt", id
) l ON l."transactionId" = t.id
WHERE ($1::timestamp IS NULL OR t."createdAt" >= $1)
  AND ($2::timestamp IS NULL OR t."createdAt" <= $2)
  AND ($3::text IS NULL OR t.status::text = $3)
ORDER BY t."createdAt", t.id
"""
_TRANSACTIONS_COUNT_SQL = """
SELECT count(*) AS n FROM "Transaction" t
WHERE ($1::timestamp IS NULL OR t."createdAt" >= $1)
  AND ($2::timestamp IS NULL OR t."createdAt" <= $2)
  AND ($3::text IS NULL OR t.status::text = $3)
"""


def parse_bound(text: str | None, *, end: bool) -> datetime | None:
    """A filter bound: `YYYY-MM-DD` (the day's first or, for `end`, last millisecond) or an
    ISO-8601 instant, as naive UTC; None when absent."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            clock = time(23, 59, 59, 999_000) if end else time(0, 0)
            return datetime.combine(day, clock)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidMessageError(f"not a date or ISO-8601 instant: {text!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def csv_cell(value: Any) -> Any:
    """CSV text of a value: instants as ISO-8601 UTC with milliseconds, booleans lower-case;
    a text starting with `= + - @` gets a leading quote so spreadsheets never run it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + value
    return value


async def export_csv(
    *,
    what: str,
    header: Sequence[str],
    query: str,
    count_query: str,
    args: Sequence[Any],
) -> dict[str, Any]:
    """Streams `query` into a CSV under STORAGE_DIR and records it; returns the job result."""
    from tortoise import connections
    from tortoise.transactions import in_transaction

    total = int(
        (await connections.get("default").execute_query_dict(count_query, list(args)))[0]["n"]
    )
    await report_progress(0, total)
    job = current_job()
    name = job.job_id if job is not None else str(uuid.uuid4())
    key = f"exports/{name}-{what}.csv"
    root = storage_root()
    target = storage_path(root, key)
    staging = root / "tmp" / f"export-{uuid.uuid4().hex}.part"
    await asyncio.to_thread(staging.parent.mkdir, parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    done = 0
    handle = await asyncio.to_thread(staging.open, "wb")
    try:

        def write(text: str) -> None:
            data = text.encode("utf-8")
            digest.update(data)
            handle.write(data)

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        async with in_transaction() as conn, conn.acquire_connection() as raw:
            # asyncpg server-side cursor: one plan, rows fetched EXPORT_CHUNK at a time.
            async for record in raw.cursor(query, *args, prefetch=EXPORT_CHUNK):
                writer.writerow([csv_cell(value) for value in record.values()])
                done += 1
                if done % EXPORT_CHUNK == 0:
                    chunk, buffer = buffer.getvalue(), io.StringIO()
                    writer = csv.writer(buffer, lineterminator="\r\n")
                    size += len(chunk.encode("utf-8"))
                    await asyncio.to_thread(write, chunk)
                    await report_progress(done, max(total, done))
        rest = buffer.getvalue()
        size += len(rest.encode("utf-8"))
        await asyncio.to_thread(write, rest)
    finally:
        await asyncio.to_thread(handle.close)
    await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(os.replace, staging, target)
    file_name = f"{what}-{datetime.now(UTC):%Y%m%d-%H%M%S}.csv"
    rows = await connections.get("default").execute_query_dict(
        _RECORD_FILE_SQL, [str(uuid.uuid4()), key, size, digest.hexdigest(), file_name]
    )
    await report_progress(done, done)
    return {
        "fileId": rows[0]["id"],
        "storageKey": key,
        "fileName": file_name,
        "contentType": "text/csv",
        "rows": done,
        "sizeBytes": size,
    }


def _export_args(
    date_from: str | None, date_to: str | None, status: str | None, statuses: Sequence[str]
) -> list[Any]:
    if status is not None and status.upper() not in statuses:
        raise InvalidMessageError(f"status must be one of {', '.join(statuses)}")
    start, end = parse_bound(date_from, end=False), parse_bound(date_to, end=True)
    if start is not None and end is not None and start > end:
        raise InvalidMessageError("date_from is after date_to")
    return [start, end, status.upper() if status else None]


# -- actors ---------------------------------------------------------------------------------------


async def _run_import(
    storage_key: str,
    original_name: str,
    importer: Callable[[str, ImportReport], Any],
) -> dict[str, Any]:
    path = storage_path(storage_root(), storage_key)
    text = await asyncio.to_thread(_read_text, path)
    report = ImportReport(file=original_name or PurePosixPath(storage_key).name)
    await importer(text, report)
    log.info(
        "import %s: %d rows, %d created, %d updated, %d failed",
        report.file,
        report.rows,
        report.created,
        report.updated,
        report.failed,
    )
    return report.as_result()


@register(ImportCenters, BULK_POLICY)
async def import_centers(storage_key: str, original_name: str = "") -> dict[str, Any]:
    """Imports service centres from a CSV under STORAGE_DIR (columns: module docstring)."""
    return await _run_import(storage_key, original_name, import_centers_from)


@register(ImportScreeningTypes, BULK_POLICY)
async def import_screening_types(storage_key: str, original_name: str = "") -> dict[str, Any]:
    """Imports screening types from a CSV under STORAGE_DIR."""
    return await _run_import(storage_key, original_name, import_screening_types_from)


@register(ExportAppointments, BULK_POLICY)
async def export_appointments(
    date_from: str | None = None, date_to: str | None = None, status: str | None = None
) -> dict[str, Any]:
    """Exports appointments (created in the range, of the status) as CSV."""
    return await export_csv(
        what="appointments",
        header=APPOINTMENT_EXPORT_COLUMNS,
        query=_APPOINTMENTS_SQL,
        count_query=_APPOINTMENTS_COUNT_SQL,
        args=_export_args(date_from, date_to, status, APPOINTMENT_STATUSES),
    )


@register(ExportTransactions, BULK_POLICY)
async def export_transactions(
    date_from: str | None = None, date_to: str | None = None, status: str | None = None
) -> dict[str, Any]:
    """Exports transactions (created in the range, of the status) as CSV."""
    return await export_csv(
        what="transactions",
        header=TRANSACTION_EXPORT_COLUMNS,
        query=_TRANSACTIONS_SQL,
        count_query=_TRANSACTIONS_COUNT_SQL,
        args=_export_args(date_from, date_to, status, TRANSACTION_STATUSES),
    )
