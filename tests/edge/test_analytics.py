"""Analytics routes: admin only, answered from snapshots, stale (or 503) when no worker refreshes.

No worker consumes the `analytics` queue in these tests, so every refresh the edge asks for
waits out its deadline (ANALYTICS_WAIT_SECONDS, 2 s by default) and the edge falls back.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from edge.services import analytics
from models.jobs import Job
from tests.factories import bearer, make_admin, make_patient

DASHBOARD = {"totalRevenue": 1234.5, "totalUsers": 7}


async def store_snapshot(
    db: asyncpg.Connection, kind: str, data: Any, *, age: timedelta, scope: str = ""
) -> datetime:
    computed_at = datetime.now(UTC) - age
    await db.execute(
        """INSERT INTO analytics_snapshots (kind, scope, data, computed_at, duration_ms)
           VALUES ($1, $2, $3::jsonb, $4, 12)""",
        kind,
        scope,
        json.dumps(data),
        computed_at,
    )
    return computed_at


@pytest.fixture
async def admin_headers(db: asyncpg.Connection) -> dict[str, str]:
    return bearer(await make_admin())


async def test_analytics_need_an_admin_token(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    patient = await make_patient()

    anonymous = await client.get("/api/v1/analytics/dashboard")
    as_patient = await client.get("/api/v1/analytics/campaigns", headers=bearer(patient))

    assert anonymous.status_code == 401
    assert as_patient.status_code == 403
    assert as_patient.json() == {
        "ok": False,
        "message": "Forbidden: actor mismatch",
        "error": "Forbidden: actor mismatch",
    }
    assert await Job.filter(actor_name="refresh_analytics_snapshot").count() == 0


async def test_a_fresh_snapshot_is_answered_as_it_is(
    client: httpx.AsyncClient, db: asyncpg.Connection, admin_headers: dict[str, str]
) -> None:
    await store_snapshot(db, "dashboard", DASHBOARD, age=timedelta(seconds=5))

    response = await client.get("/api/v1/analytics/dashboard", headers=admin_headers)

    assert response.status_code == 200
    assert response.json() == {"ok": True, "data": DASHBOARD}
    assert await Job.filter(actor_name="refresh_analytics_snapshot").count() == 0


async def test_an_old_snapshot_without_workers_is_marked_stale(
    client: httpx.AsyncClient, db: asyncpg.Connection, admin_headers: dict[str, str]
) -> None:
    computed_at = await store_snapshot(db, "dashboard", DASHBOARD, age=timedelta(hours=1))

    response = await client.get("/api/v1/analytics/dashboard", headers=admin_headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["ok"], body["stale"], body["data"]) == (True, True, DASHBOARD)
    generated = datetime.fromisoformat(body["generatedAt"].replace("Z", "+00:00"))
    assert abs(generated - computed_at) < timedelta(milliseconds=1)


async def test_a_refresh_that_misses_the_deadline_answers_stale(
    client: httpx.AsyncClient, db: asyncpg.Connection, admin_headers: dict[str, str]
) -> None:
    # Given a worker that looks alive (a fresh heartbeat) but never takes the job.
    await store_snapshot(db, "dashboard", DASHBOARD, age=timedelta(hours=1))
    await db.execute(
        """INSERT INTO worker_heartbeats (id, worker_name, pid, queues)
           VALUES ('test:1', 'test', 1, '{analytics}')"""
    )

    # The edge reads heartbeats through a short cache: ask until it has tried a refresh.
    deadline = time.monotonic() + 20
    answers = []
    while not await Job.filter(actor_name="refresh_analytics_snapshot").exists():
        assert time.monotonic() < deadline, "the edge never asked for a refresh"
        answers.append(await client.get("/api/v1/analytics/dashboard", headers=admin_headers))

    assert all(a.status_code == 200 and a.json()["stale"] is True for a in answers)
    job = await Job.get(actor_name="refresh_analytics_snapshot")
    assert job.args == {"kind": "dashboard", "scope": ""}
    assert job.queue_name == "analytics"
    assert (job.idempotency_key or "").startswith("analytics:refresh:dashboard::")


async def test_no_snapshot_and_no_worker_answers_503_with_retry_after(
    client: httpx.AsyncClient, db: asyncpg.Connection, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/api/v1/analytics/geographic", headers=admin_headers)

    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["ok"] is False
    assert isinstance(response.json()["error"], str)


async def test_centers_filter_by_id(
    client: httpx.AsyncClient, db: asyncpg.Connection, admin_headers: dict[str, str]
) -> None:
    rows = [{"centerId": "c1", "centerName": "A"}, {"centerId": "c2", "centerName": "B"}]
    await store_snapshot(db, "centers", rows, age=timedelta(seconds=1))

    one = await client.get("/api/v1/analytics/centers?centerId=c2", headers=admin_headers)
    unknown = await client.get("/api/v1/analytics/centers?centerId=zz", headers=admin_headers)
    every = await client.get("/api/v1/analytics/centers", headers=admin_headers)

    assert one.json() == {"ok": True, "data": [rows[1]]}
    assert unknown.json() == {"ok": True, "data": []}
    assert every.json()["data"] == rows


async def test_time_report_reads_the_snapshot_of_its_window(
    client: httpx.AsyncClient, db: asyncpg.Connection, admin_headers: dict[str, str]
) -> None:
    scope = "period=weekly&from=2025-01-01T00:00:00.000Z&to=2025-01-31T23:59:59.999Z"
    report = {"period": "weekly", "revenueByDay": []}
    await store_snapshot(db, "time", report, age=timedelta(seconds=1), scope=scope)

    response = await client.get(
        "/api/v1/analytics/reports/time",
        params={"period": "weekly", "from": "2025-01-01", "to": "2025-01-31"},
        headers=admin_headers,
    )

    assert response.status_code == 200
    assert response.json() == {"ok": True, "data": report}


async def test_time_report_validation_uses_the_zod_envelope(
    client: httpx.AsyncClient, db: asyncpg.Connection, admin_headers: dict[str, str]
) -> None:
    response = await client.get(
        "/api/v1/analytics/reports/time",
        params={"period": "hourly", "from": "yesterday"},
        headers=admin_headers,
    )

    assert response.status_code == 400
    body = response.json()
    assert (body["ok"], body["success"]) == (False, False)
    assert body["error"]["name"] == "ZodError"
    assert [issue["path"] for issue in body["error"]["issues"]] == [["period"], ["from"]]


async def test_a_dashboard_download_is_a_job_and_its_file_is_served(
    client: httpx.AsyncClient, db: asyncpg.Connection, admin_headers: dict[str, str]
) -> None:
    accepted = await client.post(
        "/api/v1/analytics/reports/dashboard", json={"format": "pdf"}, headers=admin_headers
    )
    assert accepted.status_code == 202
    data = accepted.json()["data"]
    assert data["statusUrl"] == f"/api/v1/jobs/{data['jobId']}"
    job = await Job.get(id=data["jobId"])
    assert (job.actor_name, job.args) == ("render_analytics_report", {"file_format": "pdf"})

    # Given the file the actor stores (actors/analytics/files.py), and a result file that is
    # not a report.
    file_id, other_id = str(uuid.uuid4()), str(uuid.uuid4())
    key = f"reports/analytics/{job.id}.csv"
    path = Path(os.environ["STORAGE_DIR"]) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"metric,label,value\r\n")
    await db.executemany(
        """INSERT INTO stored_files (id, storage_key, content_type, size_bytes, sha256,
                                     original_name)
           VALUES ($1::uuid, $2, 'text/csv; charset=utf-8', 20, 'x', 'dashboard.csv')""",
        [(file_id, key), (other_id, "results/a/secret.csv")],
    )

    served = await client.get(f"/api/v1/analytics/reports/files/{file_id}", headers=admin_headers)
    refused = await client.get(f"/api/v1/analytics/reports/files/{other_id}", headers=admin_headers)

    assert served.status_code == 200
    assert served.content == b"metric,label,value\r\n"
    assert "dashboard.csv" in served.headers["content-disposition"]
    assert refused.status_code == 404


async def test_a_download_in_another_format_is_refused(
    client: httpx.AsyncClient, db: asyncpg.Connection, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/analytics/reports/dashboard", json={"format": "xlsx"}, headers=admin_headers
    )

    assert response.status_code == 400
    assert await Job.filter(actor_name="render_analytics_report").count() == 0


# -- the service on its own ------------------------------------------------------------------------


def test_time_query_accepts_dates_offsets_and_z() -> None:
    now = datetime(2025, 6, 15, 12, tzinfo=UTC)

    by_day = analytics.parse_time_query({"from": "2025-01-01", "to": "2025-01-31"}, now=now)
    by_offset = analytics.parse_time_query(
        {"period": "daily", "from": "2025-01-01T01:00:00+01:00"}, now=now
    )

    assert by_day.scope() == (
        "period=monthly&from=2025-01-01T00:00:00.000Z&to=2025-01-31T23:59:59.999Z"
    )
    assert by_offset.scope() == "period=daily&from=2025-01-01T00:00:00.000Z"
    with pytest.raises(analytics.QueryIssues) as later:
        analytics.parse_time_query({"from": "2025-07-01"}, now=now)  # after `to` = now
    assert later.value.issues[0]["path"] == ["from"]
    with pytest.raises(analytics.QueryIssues):
        analytics.parse_time_query({"from": "2025-01-01T00:00:00"}, now=now)  # no zone


def test_refresh_keys_change_every_minute_and_with_the_snapshot_seen() -> None:
    moment = datetime(2025, 6, 15, 12, 0, 59, tzinfo=UTC)
    seen = datetime(2025, 6, 15, 11, 0, 0, 123000, tzinfo=UTC)

    same = analytics.refresh_key("dashboard", "", moment - timedelta(seconds=30), seen)
    later = analytics.refresh_key("dashboard", "", moment + timedelta(seconds=1), seen)
    newer = analytics.refresh_key("dashboard", "", moment, seen + timedelta(milliseconds=1))

    assert same == analytics.refresh_key("dashboard", "", moment, seen)
    assert later != same
    assert newer != same
    assert analytics.refresh_key("dashboard", "", moment) != same


# -- with a worker ---------------------------------------------------------------------------------


async def test_with_a_worker_an_old_snapshot_is_refreshed_within_the_deadline(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    admin_headers: dict[str, str],
    database_url: str,
    rabbitmq_url: str,
    redis_url: str,
) -> None:
    from actors.contracts.outbox import Requester
    from tests.actors.runtime import wait_for_job
    from tests.harness.processes import ROOT, Process

    env = {
        "DATABASE_URL": database_url,
        "BROKER_URL": rabbitmq_url,
        "REDIS_URL": redis_url,
        "RATE_LIMIT_PREFIX": f"zc_analytics_{uuid.uuid4().hex[:8]}",
    }
    command = [sys.executable, str(ROOT / "zerocancer.py")]
    processes = [
        Process("worker", [*command, "worker", "--queues", "analytics", "--processes", "1"], env),
        Process("relay", [*command, "relay"], env),
    ]
    try:
        for process in processes:
            process.start()
        # Given a worker that has run one refresh, asked for as a request asks (so it is up and
        # a refresh of this minute has finished), and then a snapshot made old: the request
        # must not take that finished refresh for its own.
        before = await analytics.read_snapshot("dashboard", "")
        job_id = await analytics.request_refresh(
            "dashboard",
            "",
            requester=Requester("system"),
            seen=before.computed_at if before is not None else None,
        )
        try:
            await wait_for_job(database_url, job_id, ["succeeded"], seconds=60)
        except AssertionError:
            raise AssertionError("\n".join(p.output()[-3000:] for p in processes)) from None
        await db.execute(
            """UPDATE analytics_snapshots SET computed_at = now() - interval '1 hour',
                      data = '{"old": true}' WHERE kind = 'dashboard'"""
        )

        response = await client.get("/api/v1/analytics/dashboard", headers=admin_headers)

        assert response.status_code == 200
        body = response.json()
        assert "stale" not in body
        assert body["data"]["totalUsers"] == 1  # the system donor; recomputed, not {"old": true}
    finally:
        for process in processes:
            process.stop()
