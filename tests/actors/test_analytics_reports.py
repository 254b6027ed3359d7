"""The analytics actors called as functions: the refresh, and the CSV and PDF downloads."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import asyncpg
import pytest
from pypdf import PdfReader

from actors.analytics import files, reports
from actors.analytics.actor import refresh_analytics_snapshot
from actors.errors import InvalidMessageError


async def test_the_refresh_actor_stores_every_kind(db: asyncpg.Connection) -> None:
    result = await refresh_analytics_snapshot(None, "")

    kinds = {row["kind"] for row in await db.fetch("SELECT kind FROM analytics_snapshots")}
    assert kinds == {"dashboard", "time", "geographic", "centers", "campaigns"}
    assert len(result["snapshots"]) == 8  # four time windows
    assert result["durationMs"] >= 0
    with pytest.raises(InvalidMessageError):
        await refresh_analytics_snapshot("revenue", "")


def test_csv_has_one_row_per_metric() -> None:
    dashboard = {key: 1.5 for key, _, _ in reports.DASHBOARD_METRICS}

    content = reports.render_csv(dashboard, datetime(2025, 6, 15, 12, tzinfo=UTC))

    rows = list(csv.reader(io.StringIO(content.decode("utf-8"))))
    assert rows[0] == ["metric", "label", "value"]
    assert rows[1] == ["generatedAt", "Generated at", "2025-06-15T12:00:00.000Z"]
    assert [r[0] for r in rows[2:]] == [key for key, _, _ in reports.DASHBOARD_METRICS]
    assert {r[2] for r in rows[2:]} == {"1.5"}


def test_values_are_formatted_for_people() -> None:
    assert reports.format_value(1234.5, "money") == "₦1,234.50"
    assert reports.format_value(12.345, "percent") == "12.3 %"
    assert reports.format_value(2.25, "days") == "2.2 days"
    assert reports.format_value(1024, "count") == "1,024"


async def test_pdf_report_is_stored_with_the_naira_sign(db: asyncpg.Connection) -> None:
    await db.execute(
        """INSERT INTO "ServiceCenter" (id, email, "passwordHash", "centerName", address, state,
                                        lga, status)
           VALUES ('c1', 'c1@x.test', 'x', 'Ọ̀yọ́ Diagnostics', 'a', 'Oyo', 'Ibadan', 'ACTIVE')"""
    )

    result = await reports.render_analytics_report("pdf")

    assert result["contentType"] == "application/pdf"
    assert result["downloadUrl"] == f"/api/v1/analytics/reports/files/{result['fileId']}"
    row = await db.fetchrow(
        "SELECT storage_key, size_bytes FROM stored_files WHERE id = $1::uuid", result["fileId"]
    )
    assert row["storage_key"].startswith(files.REPORTS_PREFIX + "/")
    content = (files.storage_root() / row["storage_key"]).read_bytes()
    assert len(content) == row["size_bytes"] == result["sizeBytes"]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    assert "ZeroCancer — admin dashboard" in text
    assert "₦0.00" in text
    assert "Diagnostics" in text


async def test_csv_report_and_unknown_formats(db: asyncpg.Connection) -> None:
    result = await reports.render_analytics_report("csv")

    key = await db.fetchval(
        "SELECT storage_key FROM stored_files WHERE id = $1::uuid", result["fileId"]
    )
    text = (files.storage_root() / key).read_bytes().decode("utf-8")
    assert text.startswith("metric,label,value\r\ngeneratedAt,")
    assert "totalUsers,Users,1\r\n" in text  # the system donor
    with pytest.raises(InvalidMessageError):
        await reports.render_analytics_report("xlsx")
