"""Bulk data: CSV imports with row-level errors, CSV exports, and the `zerocancer admin` command.

The actors are called as functions (no broker); outside a job their progress reports are
no-ops, and `follow` is checked against a job row moved by hand.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest
from tortoise.transactions import in_transaction

from actors import admin_cli, bulk
from actors.contracts import enqueue
from actors.contracts.messages import ExportAppointments
from actors.errors import InvalidMessageError
from tests.factories import make_center, make_screening_type

ROOT = Path(__file__).resolve().parents[2]


def stage(text: str) -> str:
    """Puts `text` under STORAGE_DIR as the CLI would; returns its storage key."""
    key = f"imports/{uuid.uuid4().hex}/input.csv"
    path = bulk.storage_root() / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return key


def read_export(result: dict[str, object]) -> list[list[str]]:
    path = bulk.storage_root() / str(result["storageKey"])
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


CENTERS_CSV = (
    "Email,Center Name,Address,State,Local Government,Phone,Status,Services,Notes\n"
    "new@clinic.test,New Clinic,1 Road,Lagos,Ikeja,0803,ACTIVE,Cervical=15000;Breast,hello\n"
    "not-an-email,Bad Mail,2 Road,Lagos,Ikeja,,,,\n"
    "gap@clinic.test,Gap Clinic,,Kano,Nassarawa,,,,\n"
    "NEW@clinic.test,Again,3 Road,Oyo,Ibadan,,,,\n"
    "odd@clinic.test,Odd Clinic,4 Road,Oyo,Ibadan,,,Unknown Test,\n"
    "status@clinic.test,Status Clinic,5 Road,Oyo,Ibadan,,CLOSED,,\n"
    "OLD@clinic.test,Renamed Clinic,9 New Road,Abuja,Garki,,,Breast,\n"
)
#: (CSV line, column) of each problem CENTERS_CSV has.
CENTERS_CSV_PROBLEMS = [(3, "email"), (4, "address"), (5, "email"), (6, "services"), (7, "status")]


async def test_center_import_reports_bad_rows_and_upserts_the_rest(
    db: asyncpg.Connection,
) -> None:
    await make_screening_type(name="Cervical", agreed_price=12000)
    await make_screening_type(name="Breast", agreed_price=9000)
    old = await make_center(email="old@clinic.test", center_name="Old Clinic")

    result = await bulk.import_centers(stage(CENTERS_CSV), "centers.csv")

    assert {k: result[k] for k in ("file", "rows", "created", "updated", "failed")} == {
        "file": "centers.csv",
        "rows": 7,
        "created": 1,
        "updated": 1,
        "failed": 5,
    }
    assert [(e["row"], e["field"]) for e in result["errors"]] == CENTERS_CSV_PROBLEMS
    assert "line 2" in result["errors"][2]["message"]
    assert result["ignoredColumns"] == ["Notes"]
    created = await db.fetchrow(
        'SELECT id, "centerName", status::text, lga, phone FROM "ServiceCenter" '
        "WHERE email = 'new@clinic.test'"
    )
    assert dict(created) | {"id": None} == {
        "id": None,
        "centerName": "New Clinic",
        "status": "ACTIVE",
        "lga": "Ikeja",
        "phone": "0803",
    }
    owner = await db.fetchrow(
        'SELECT role, "passwordHash" FROM "CenterStaff" WHERE "centerId" = $1', created["id"]
    )
    assert owner["role"] == "ADMIN"
    assert owner["passwordHash"].startswith("$2b$")
    prices = await db.fetch(
        'SELECT st.name, p.amount FROM "ServiceCenterScreeningType" p '
        'JOIN "ScreeningType" st ON st.id = p."screeningTypeId" WHERE p."centerId" = $1 '
        "ORDER BY st.name",
        created["id"],
    )
    assert [tuple(p) for p in prices] == [("Breast", 9000.0), ("Cervical", 15000.0)]
    offered = await db.fetchval(
        'SELECT count(*) FROM "_ScreeningTypeToServiceCenter" WHERE "B" = $1', created["id"]
    )
    assert offered == 2
    renamed = await db.fetchrow(
        'SELECT "centerName", state, status::text FROM "ServiceCenter" WHERE id = $1', old.id
    )
    assert tuple(renamed) == ("Renamed Clinic", "Abuja", "ACTIVE")  # blank status kept


async def test_importing_the_same_centres_twice_changes_nothing(db: asyncpg.Connection) -> None:
    await make_screening_type(name="Cervical")
    await make_screening_type(name="Breast")
    key = stage(CENTERS_CSV)

    await bulk.import_centers(key, "")
    again = await bulk.import_centers(key, "")

    # new@ and OLD@ were created by the first run and are only updated by the second.
    assert (again["created"], again["updated"], again["failed"]) == (0, 2, 5)
    assert await db.fetchval('SELECT count(*) FROM "ServiceCenter"') == 2
    assert await db.fetchval('SELECT count(*) FROM "CenterStaff"') == 2


async def test_a_file_without_a_required_column_is_refused(db: asyncpg.Connection) -> None:
    key = stage("email,centerName,state\na@b.test,A,Lagos\n")

    with pytest.raises(bulk.ImportFileError, match="address, lga"):
        await bulk.import_centers(key, "")


async def test_screening_type_import(db: asyncpg.Connection) -> None:
    existing = await make_screening_type(name="Prostate", agreed_price=8000)
    text = (
        "name,category,description,agreedPrice,active\n"
        "Colon,Cancer,Colonoscopy,20000,true\n"
        "Prostate,cancer,,9500,\n"
        "Lung,nowhere,,,\n"
        "Skin,general,,-5,\n"
        "Colon,general,,,\n"
        ",general,,,\n"
        "Liver,vaccine,,,maybe\n"
    )

    result = await bulk.import_screening_types(stage(text), "types.csv")

    assert (result["rows"], result["created"], result["updated"], result["failed"]) == (
        7,
        1,
        1,
        5,
    )
    assert [(e["row"], e["field"]) for e in result["errors"]] == [
        (4, "category"),
        (5, "agreedPrice"),
        (6, "name"),
        (7, "name"),
        (8, "active"),
    ]
    colon = await db.fetchrow(
        'SELECT "screeningTypeCategoryId", description, "agreedPrice", active '
        "FROM \"ScreeningType\" WHERE name = 'Colon'"
    )
    assert tuple(colon) == ("cancer", "Colonoscopy", 20000.0, True)
    prostate = await db.fetchrow(
        'SELECT "agreedPrice", active FROM "ScreeningType" WHERE id = $1', existing.id
    )
    assert tuple(prostate) == (9500.0, True)


async def test_a_centre_import_in_small_chunks_gives_the_same_result(
    db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given chunks of 2 rows: the repeated e-mail of line 5 is in another chunk than line 2
    await make_screening_type(name="Cervical")
    await make_screening_type(name="Breast")
    await make_center(email="old@clinic.test", center_name="Old Clinic")
    progress: list[tuple[int, int]] = []

    async def record(done: int, total: int) -> None:
        progress.append((done, total))

    monkeypatch.setattr(bulk, "IMPORT_CHUNK", 2)
    monkeypatch.setattr(bulk, "report_progress", record)

    result = await bulk.import_centers(stage(CENTERS_CSV), "centers.csv")

    assert (result["rows"], result["created"], result["updated"], result["failed"]) == (7, 1, 1, 5)
    assert [(e["row"], e["field"]) for e in result["errors"]] == CENTERS_CSV_PROBLEMS
    assert progress == [(0, 7), (2, 7), (4, 7), (6, 7), (7, 7)]
    assert await db.fetchval('SELECT count(*) FROM "ServiceCenter"') == 2
    assert await db.fetchval('SELECT count(*) FROM "ServiceCenterScreeningType"') == 3


async def seed_bookings(db: asyncpg.Connection) -> None:
    screening = await make_screening_type(name="Cervical")
    center = await make_center(center_name="Alpha Clinic", services=[screening])
    await db.execute(
        """INSERT INTO "User" (id, "fullName", email, "passwordHash")
           VALUES ('u1', '=HYPERLINK(1)', 'u1@x.test', 'x')"""
    )
    await db.executemany(
        """INSERT INTO "Transaction" (id, "type", status, amount, "paymentReference",
                                      "createdAt")
           VALUES ($1, 'APPOINTMENT', $2, 15000, $1 || '-ref', $3)""",
        [
            ("t1", "COMPLETED", datetime(2025, 5, 1, 10)),
            ("t2", "PENDING", datetime(2025, 6, 1, 10)),
        ],
    )
    await db.executemany(
        """INSERT INTO "Appointment" (id, "patientId", "centerId", "screeningTypeId",
                                      "appointmentDateTime", "transactionId", status,
                                      "createdAt")
           VALUES ($1, 'u1', $2, $3, $4, $5, $6, $7)""",
        [
            ("a1", center.id, screening.id, datetime(2025, 5, 3, 9), "t1", "COMPLETED",
             datetime(2025, 5, 1, 10, 0, 0, 123000)),
            ("a2", center.id, screening.id, datetime(2025, 6, 3, 9), "t2", "PENDING",
             datetime(2025, 6, 1, 10)),
        ],
    )  # fmt: skip


async def test_appointment_export_filters_and_formats(db: asyncpg.Connection) -> None:
    await seed_bookings(db)

    every = await bulk.export_appointments()
    may = await bulk.export_appointments(date_from="2025-05-01", date_to="2025-05-31")
    pending = await bulk.export_appointments(status="pending")

    rows = read_export(every)
    assert rows[0] == list(bulk.APPOINTMENT_EXPORT_COLUMNS)
    assert [r[0] for r in rows[1:]] == ["a1", "a2"]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["createdAt"] == "2025-05-01T10:00:00.123Z"
    assert first["centerName"] == "Alpha Clinic"
    assert first["patientName"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    assert (first["transactionStatus"], first["amount"], first["isDonation"]) == (
        "COMPLETED",
        "15000.0",
        "false",
    )
    assert every["rows"] == 2
    assert every["sizeBytes"] == len((bulk.storage_root() / str(every["storageKey"])).read_bytes())
    assert [r[0] for r in read_export(may)[1:]] == ["a1"]
    assert [r[0] for r in read_export(pending)[1:]] == ["a2"]
    recorded = await db.fetchval(
        "SELECT size_bytes FROM stored_files WHERE id = $1::uuid", every["fileId"]
    )
    assert recorded == every["sizeBytes"]


async def test_transaction_export_names_the_linked_appointment(db: asyncpg.Connection) -> None:
    await seed_bookings(db)

    result = await bulk.export_transactions(status="COMPLETED")

    rows = read_export(result)
    assert rows[0] == list(bulk.TRANSACTION_EXPORT_COLUMNS)
    assert [dict(zip(rows[0], row, strict=True))["appointmentId"] for row in rows[1:]] == ["a1"]
    with pytest.raises(InvalidMessageError):
        await bulk.export_transactions(status="LOST")


async def test_follow_draws_progress_until_the_job_ends(db: asyncpg.Connection) -> None:
    async with in_transaction() as conn:
        job = await enqueue(ExportAppointments(), using_db=conn)
    out = io.StringIO()
    following = asyncio.create_task(
        admin_cli.follow(str(job.id), give_up_after=20, out=out, interactive=False)
    )

    await db.execute(
        """UPDATE jobs SET status = 'running', progress = '{"done": 5, "total": 10}'
           WHERE id = $1""",
        job.id,
    )
    await db.execute(
        """UPDATE jobs SET status = 'succeeded', progress = '{"done": 10, "total": 10}',
                  result = '{"rows": 10}' WHERE id = $1""",
        job.id,
    )
    row = await asyncio.wait_for(following, 20)

    assert row is not None
    assert (row["status"], row["result"]) == ("succeeded", {"rows": 10})
    assert "100%  10/10  succeeded" in out.getvalue()


def test_progress_line() -> None:
    assert admin_cli.progress_line("running", {"done": 1, "total": 4}, 3.2) == (
        "[########----------------------]  25%  1/4  running  3s"
    )
    assert admin_cli.progress_line("queued", None, 0).startswith("[......")


async def test_the_admin_command_stages_the_file_and_enqueues_through_the_outbox(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "my centres.csv"
    source.write_text(CENTERS_CSV)
    env = {**os.environ, "DATABASE_URL": database_url}

    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "zerocancer.py", "admin", "import-centers", str(source), "--no-wait"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    missing = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "zerocancer.py", "admin", "import-centers", str(tmp_path / "nope.csv")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    job = await db.fetchrow("SELECT id, args, requested_by_kind FROM jobs")
    assert f"job {job['id']} queued (import_centers)" in done.stderr
    assert job["requested_by_kind"] == "system"
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE job_id = $1", job["id"]) == 1
    args = json.loads(job["args"])
    assert args["original_name"] == "my centres.csv"
    staged = Path(env.get("STORAGE_DIR", "var/storage")) / args["storage_key"]
    assert staged.read_text() == CENTERS_CSV
    assert missing.returncode == 2
