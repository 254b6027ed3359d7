"""/api/v1/waitlist: patient entries, demand, matching status and statistics, and the matching
triggers (waitlist.md)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import asyncpg
import httpx
import pytest

from models.base import utc_now
from models.enums import AllocationStatus, CampaignStatus, MatchingExecutionStatus
from models.jobs import Job, JobStatus
from models.waitlists import DonationAllocation, Waitlist
from tests.conftest import TEST_ENV, edge_process
from tests.edge.factories_appointments import (
    assert_error,
    balance,
    make_campaign,
    make_entry,
    make_execution,
    make_match,
    pool,
)
from tests.edge.money_support import worker_alive
from tests.factories import bearer, make_admin, make_center, make_patient, make_screening_type

pytestmark = pytest.mark.usefixtures("db")

BASE = "/api/v1/waitlist"


def assert_plain_400(response: httpx.Response, error: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["ok"] is False
    assert body["error"] == error
    assert body["issues"]


# -- join and leave ----------------------------------------------------------------------------


async def test_joining_creates_a_pending_entry(client: httpx.AsyncClient) -> None:
    patient = await make_patient()
    screening_type = await make_screening_type()

    response = await client.post(
        f"{BASE}/patient/join",
        json={"screeningTypeId": screening_type.id},
        headers=bearer(patient),
    )

    assert response.status_code == 200
    entry = response.json()["data"]["waitlist"]
    assert entry["status"] == "PENDING"
    assert entry["patientId"] == patient.id
    assert entry["screeningTypeId"] == screening_type.id
    assert await Waitlist.filter(patient_id=patient.id).count() == 1


async def test_joining_twice_or_concurrently_gives_one_active_entry(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient()
    screening_type = await make_screening_type()
    body = {"screeningTypeId": screening_type.id}

    responses = await asyncio.gather(
        *(client.post(f"{BASE}/patient/join", json=body, headers=bearer(patient)) for _ in range(5))
    )

    assert sorted(r.status_code for r in responses) == [200, 400, 400, 400, 400]
    refused = next(r for r in responses if r.status_code == 400)
    assert_error(refused, 400, "Already in waitlist for this screening type")
    assert await Waitlist.filter(patient_id=patient.id).count() == 1


async def test_claimed_or_expired_entries_do_not_block_rejoining(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient()
    screening_type = await make_screening_type()
    await make_entry(patient, screening_type, status=AllocationStatus.CLAIMED)
    await make_entry(patient, screening_type, status=AllocationStatus.EXPIRED)

    response = await client.post(
        f"{BASE}/patient/join",
        json={"screeningTypeId": screening_type.id},
        headers=bearer(patient),
    )

    assert response.status_code == 200


async def test_joining_an_unknown_or_inactive_type_is_404_and_bad_bodies_400(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient()
    retired = await make_screening_type(active=False)

    unknown = await client.post(
        f"{BASE}/patient/join", json={"screeningTypeId": "nope"}, headers=bearer(patient)
    )
    inactive = await client.post(
        f"{BASE}/patient/join", json={"screeningTypeId": retired.id}, headers=bearer(patient)
    )
    empty = await client.post(
        f"{BASE}/patient/join", json={"screeningTypeId": ""}, headers=bearer(patient)
    )
    center = await client.post(
        f"{BASE}/patient/join", json={"screeningTypeId": "x"}, headers=bearer(await make_center())
    )

    assert_error(unknown, 404, "Screening type not found")
    assert_error(inactive, 404, "Screening type not found")
    assert_plain_400(empty, "Invalid request data")
    assert center.status_code == 403


async def test_leaving_a_pending_entry_deletes_it(client: httpx.AsyncClient) -> None:
    patient = await make_patient()
    entry = await make_entry(patient, await make_screening_type())

    response = await client.post(
        f"{BASE}/patient/leave", json={"waitlistId": entry.id}, headers=bearer(patient)
    )

    assert response.json() == {
        "ok": True,
        "data": {"waitlistId": entry.id, "message": "Successfully left the waitlist"},
    }
    assert not await Waitlist.filter(id=entry.id).exists()


async def test_leaving_a_matched_entry_returns_its_money(client: httpx.AsyncClient) -> None:
    # Given 10 000 of a 50 000 campaign reserved for the patient
    patient = await make_patient()
    campaign = await make_campaign(total=50000.0)
    entry, allocation = await make_match(patient, await make_screening_type(), campaign)
    assert await balance(campaign.id) == (40000.0, 50000.0)

    # When the patient leaves
    response = await client.post(
        f"{BASE}/patient/leave", json={"waitlistId": entry.id}, headers=bearer(patient)
    )

    # Then the campaign has it back and the entry and allocation are gone
    assert response.status_code == 200
    assert await balance(campaign.id) == (50000.0, 50000.0)
    assert not await Waitlist.filter(id=entry.id).exists()
    assert not await DonationAllocation.filter(id=allocation.id).exists()


async def test_leaving_with_money_of_a_deleted_campaign_credits_the_pool(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient()
    screening_type = await make_screening_type(agreed_price=7000.0)
    campaign = await make_campaign(total=7000.0)
    entry, _ = await make_match(patient, screening_type, campaign, amount=None)
    campaign.status = CampaignStatus.DELETED
    await campaign.save()
    before = await pool()

    response = await client.post(
        f"{BASE}/patient/leave", json={"waitlistId": entry.id}, headers=bearer(patient)
    )

    assert response.status_code == 200
    after = await pool()
    # A null amountAllocated is priced at the type's agreedPrice.
    assert after.available_amount == before.available_amount + 7000.0
    assert after.total_amount == before.total_amount + 7000.0


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (
            AllocationStatus.CLAIMED,
            "Cannot leave a waitlist entry that has already been used to book an appointment",
        ),
        (AllocationStatus.EXPIRED, "Cannot leave a waitlist entry that has expired"),
    ],
)
async def test_leaving_a_used_or_expired_entry_is_refused(
    client: httpx.AsyncClient, status: AllocationStatus, error: str
) -> None:
    patient = await make_patient()
    campaign = await make_campaign()
    entry, _ = await make_match(patient, await make_screening_type(), campaign, status=status)

    response = await client.post(
        f"{BASE}/patient/leave", json={"waitlistId": entry.id}, headers=bearer(patient)
    )

    assert_error(response, 400, error)
    assert await Waitlist.filter(id=entry.id).exists()


async def test_leaving_someone_elses_entry_is_404(client: httpx.AsyncClient) -> None:
    entry = await make_entry(await make_patient(), await make_screening_type())

    response = await client.post(
        f"{BASE}/patient/leave", json={"waitlistId": entry.id}, headers=bearer(await make_patient())
    )
    missing = await client.post(
        f"{BASE}/patient/leave", json={"waitlistId": ""}, headers=bearer(await make_patient())
    )

    assert_error(response, 404, "Waitlist entry not found")
    assert_plain_400(missing, "Invalid request data")
    assert await Waitlist.filter(id=entry.id).exists()


# -- patient views -----------------------------------------------------------------------------


async def test_patient_list_and_detail_show_the_allocation_and_its_donor(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient()
    campaign = await make_campaign(purpose=None)
    first_type, second_type = await make_screening_type(), await make_screening_type()
    older = await make_entry(patient, first_type, joined_at=utc_now() - dt.timedelta(days=3))
    matched, allocation = await make_match(patient, second_type, campaign)
    await make_entry(await make_patient(), first_type)

    listing = await client.get(BASE + "/patient", headers=bearer(patient))
    filtered = await client.get(
        BASE + "/patient", params={"status": "MATCHED"}, headers=bearer(patient)
    )
    detail = await client.get(f"{BASE}/patient/{matched.id}", headers=bearer(patient))

    data = listing.json()["data"]
    assert [w["id"] for w in data["waitlists"]] == [matched.id, older.id]
    assert (data["page"], data["pageSize"], data["total"], data["totalPages"]) == (1, 20, 2, 1)
    assert data["waitlists"][1]["allocation"] is None
    assert [w["id"] for w in filtered.json()["data"]["waitlists"]] == [matched.id]
    entry = detail.json()["data"]["waitlist"]
    assert entry["allocation"]["id"] == allocation.id
    assert entry["allocation"]["campaign"]["purpose"] == ""
    assert entry["allocation"]["campaign"]["donor"]["id"] == campaign.donor_id
    assert entry["screeningType"] == {"id": second_type.id, "name": second_type.name}


async def test_patient_list_validates_and_detail_hides_others(client: httpx.AsyncClient) -> None:
    patient = await make_patient()
    foreign = await make_entry(await make_patient(), await make_screening_type())

    fractional = await client.get(
        BASE + "/patient", params={"page": "1.5"}, headers=bearer(patient)
    )
    detail = await client.get(f"{BASE}/patient/{foreign.id}", headers=bearer(patient))

    assert_plain_400(fractional, "Invalid query parameters")
    assert_error(detail, 404, "Waitlist entry not found")


async def test_status_reports_the_latest_active_entry_with_its_allocation(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient()
    screening_type = await make_screening_type()
    campaign = await make_campaign(title="Screen Lagos")
    entry, allocation = await make_match(patient, screening_type, campaign)

    waiting = await client.get(
        f"{BASE}/patient/status/{screening_type.id}", headers=bearer(patient)
    )
    unknown = await client.get(f"{BASE}/patient/status/no-such-type", headers=bearer(patient))

    data = waiting.json()["data"]
    assert data["inWaitlist"] is True
    assert data["waitlist"]["id"] == entry.id
    assert data["waitlist"]["allocation"] == {
        "id": allocation.id,
        "claimedAt": None,
        "campaign": {"title": "Screen Lagos", "purpose": campaign.purpose},
    }
    assert unknown.json()["data"] == {"inWaitlist": False, "waitlist": None}


# -- public demand -----------------------------------------------------------------------------


async def test_demand_counts_pending_entries_per_type(client: httpx.AsyncClient) -> None:
    busy = await make_screening_type(name="B busy")
    tied_a = await make_screening_type(name="A tied")
    tied_c = await make_screening_type(name="C tied")
    for _ in range(3):
        await make_entry(await make_patient(), busy)
    await make_entry(await make_patient(), tied_a)
    await make_entry(await make_patient(), tied_c)
    await make_entry(await make_patient(), tied_c, status=AllocationStatus.MATCHED)

    descending = await client.get(BASE)
    ascending = await client.get(BASE, params={"demandOrder": "asc", "pageSize": "2"})
    invalid = await client.get(BASE, params={"demandOrder": "sideways"})

    data = descending.json()["data"]
    assert [w["screeningType"]["name"] for w in data["waitlists"]] == [
        "B busy",
        "A tied",
        "C tied",
    ]
    assert data["waitlists"][0] == {
        "screeningTypeId": busy.id,
        "screeningType": {"id": busy.id, "name": "B busy"},
        "pendingCount": 3,
        "totalCount": 3,
        "demand": 3,
    }
    assert data["total"] == 3
    paged = ascending.json()["data"]
    assert [w["screeningType"]["name"] for w in paged["waitlists"]] == ["A tied", "C tied"]
    assert paged["totalPages"] == 2
    assert_plain_400(invalid, "Invalid query parameters")


# -- matching status and statistics ------------------------------------------------------------


async def test_matching_status_is_healthy_after_a_recent_completed_run(
    client: httpx.AsyncClient,
) -> None:
    execution = await make_execution()

    response = await client.get(f"{BASE}/matching-status")

    body = response.json()
    assert body["ok"] is True
    assert body["status"] == body["data"]["status"] == "healthy"
    assert body["message"] == "Waitlist matching service is operational"
    assert body["data"]["lastExecution"]["id"] == execution.id


async def test_matching_status_warns_and_errors(client: httpx.AsyncClient) -> None:
    await make_entry(await make_patient(), await make_screening_type())

    never_ran = (await client.get(f"{BASE}/matching-status")).json()
    await make_execution(
        status=MatchingExecutionStatus.RUNNING, started_at=utc_now() - dt.timedelta(minutes=20)
    )
    stuck = (await client.get(f"{BASE}/matching-status")).json()
    await make_execution(status=MatchingExecutionStatus.FAILED)
    failed = (await client.get(f"{BASE}/matching-status")).json()

    assert never_ran["status"] == "warning"
    assert never_ran["message"] == "Waitlist matching needs attention"
    assert stuck["status"] == "warning"
    assert failed["status"] == "error"
    assert failed["message"] == "Waitlist matching service is failing"


async def test_matching_stats_are_served_in_data_and_at_the_top_level(
    client: httpx.AsyncClient,
) -> None:
    screening_type = await make_screening_type()
    campaign = await make_campaign()
    await make_campaign(status=CampaignStatus.PENDING)
    await make_entry(await make_patient(), screening_type)
    recent = await make_execution()
    old = await make_execution(started_at=utc_now() - dt.timedelta(days=2))
    await make_match(await make_patient(), screening_type, campaign, execution=recent)
    await make_match(await make_patient(), screening_type, campaign, execution=old)
    admin = await make_admin()

    response = await client.get(f"{BASE}/matching-stats", headers=bearer(admin))
    patient = await client.get(f"{BASE}/matching-stats", headers=bearer(await make_patient()))

    body = response.json()
    assert body["data"]["pending"] == body["pending"] == 1
    assert body["matched"] == 2
    assert body["recentMatches"] == 1
    # two made here plus the general pool
    assert body["campaigns"] == {"total": 3, "active": 2}
    assert body["lastUpdated"].endswith("Z")
    assert patient.status_code == 403


# -- matching triggers -------------------------------------------------------------------------

CRON = {"x-api-key": TEST_ENV["CRON_API_KEY"]}

#: What a worker writes when a job succeeds (actors.middleware.jobs), NOTIFY included.
SUCCEEDED_SQL = """
WITH done AS (
    UPDATE jobs SET status = 'succeeded', result = $2::jsonb, finished_at = now(),
                    updated_at = now()
    WHERE id = $1::uuid RETURNING id
)
SELECT pg_notify('job_done', id::text) FROM done
"""
#: What a worker writes when an attempt fails and a retry is scheduled (NOTIFY included).
FAILED_SQL = """
WITH done AS (
    UPDATE jobs SET status = 'failed', error = $2::jsonb, updated_at = now()
    WHERE id = $1::uuid RETURNING id
)
SELECT pg_notify('job_done', id::text) FROM done
"""
DEAD_SQL = """
WITH done AS (
    UPDATE jobs SET status = 'dead', error = $2::jsonb, finished_at = now(), updated_at = now()
    WHERE id = $1::uuid RETURNING id
)
SELECT pg_notify('job_done', id::text) FROM done
"""


@pytest.fixture(scope="module")
async def impatient_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an edge whose matching triggers do not wait (answer 202 at once)."""
    process = edge_process(database_url, MATCHING_TRIGGER_WAIT_SECONDS="0").start()
    try:
        process.wait_http(f"{process.url}/api/v1/healthz", timeout=60)
        async with httpx.AsyncClient(base_url=process.url, timeout=30.0) as http:
            yield http
    finally:
        process.stop()


async def run_as_worker(
    db: asyncpg.Connection,
    database_url: str,
    request: Coroutine[Any, Any, httpx.Response],
    *,
    sql: str,
    outcome: dict[str, Any],
) -> tuple[httpx.Response, str]:
    """Sends the trigger, waits for its job to be enqueued (NOTIFY outbox), finishes the job as
    a worker would, and returns the trigger's answer and the job id."""
    listener = await asyncpg.connect(database_url)
    enqueued: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("outbox", lambda *_: enqueued.put_nowait("outbox"))
    try:
        pending = asyncio.ensure_future(request)
        await asyncio.wait_for(enqueued.get(), timeout=15)
        job_id = str(await db.fetchval("SELECT id FROM jobs WHERE actor_name = 'run_matching'"))
        await db.execute(sql, job_id, json.dumps(outcome))
        response = await asyncio.wait_for(pending, timeout=30)
    finally:
        await listener.close()
    return response, job_id


async def test_cron_trigger_waits_for_the_run_and_reports_it(
    client: httpx.AsyncClient, db: asyncpg.Connection, database_url: str
) -> None:
    await worker_alive(client)
    outcome = {
        "success": True,
        "executionId": "exec-1",
        "executionReference": "EXEC_20250901120000_K3Z9QA",
        "status": "COMPLETED",
    }

    response, job_id = await run_as_worker(
        db,
        database_url,
        client.post(f"{BASE}/trigger-matching", headers=CRON),
        sql=SUCCEEDED_SQL,
        outcome=outcome,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Waitlist matching algorithm executed successfully"
    data = body["data"]
    assert (data["executionId"], data["status"], data["jobId"]) == ("exec-1", "COMPLETED", job_id)
    assert data["executionReference"] == "EXEC_20250901120000_K3Z9QA"
    assert isinstance(data["executionTime"], int)
    job = await Job.get(id=job_id)
    assert (job.queue_name, job.requested_by_kind) == ("matching", "api_key")
    assert job.args == {"trigger_source": "cron", "admin_id": None, "overrides": {}}


async def test_manual_trigger_reports_a_failed_run_as_500(
    client: httpx.AsyncClient, db: asyncpg.Connection, database_url: str
) -> None:
    await worker_alive(client)
    admin = await make_admin()

    response, job_id = await run_as_worker(
        db,
        database_url,
        client.post(f"{BASE}/manual-trigger", headers=bearer(admin)),
        sql=SUCCEEDED_SQL,
        outcome={"success": False, "status": "FAILED", "error": "Campaign table locked"},
    )

    assert_error(response, 500, "Campaign table locked")
    job = await Job.get(id=job_id)
    assert job.args["trigger_source"] == "admin"
    assert job.args["admin_id"] == admin.id


async def test_manual_trigger_names_the_admin_when_the_run_succeeds(
    client: httpx.AsyncClient, db: asyncpg.Connection, database_url: str
) -> None:
    await worker_alive(client)
    admin = await make_admin()

    response, _ = await run_as_worker(
        db,
        database_url,
        client.post(f"{BASE}/manual-trigger", headers=bearer(admin)),
        sql=SUCCEEDED_SQL,
        outcome={"status": "PARTIALLY_COMPLETED", "executionId": "e"},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Manual waitlist matching executed successfully"
    assert body["data"]["triggeredBy"] == {"adminId": admin.id, "adminEmail": admin.email}


async def test_a_dead_run_job_answers_500_with_its_error(
    client: httpx.AsyncClient, db: asyncpg.Connection, database_url: str
) -> None:
    await worker_alive(client)
    response, _ = await run_as_worker(
        db,
        database_url,
        client.post(f"{BASE}/trigger-matching", headers=CRON),
        sql=DEAD_SQL,
        outcome={"type": "TimeLimitExceeded", "message": "Run exceeded its time limit"},
    )

    assert_error(response, 500, "Run exceeded its time limit")


async def test_a_failed_attempt_that_will_be_retried_keeps_the_trigger_waiting(
    client: httpx.AsyncClient, db: asyncpg.Connection, database_url: str
) -> None:
    await worker_alive(client)
    listener = await asyncpg.connect(database_url)
    enqueued: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("outbox", lambda *_: enqueued.put_nowait("outbox"))
    try:
        pending = asyncio.ensure_future(client.post(f"{BASE}/trigger-matching", headers=CRON))
        await asyncio.wait_for(enqueued.get(), timeout=15)
        job_id = str(await db.fetchval("SELECT id FROM jobs WHERE actor_name = 'run_matching'"))
        await db.execute(FAILED_SQL, job_id, json.dumps({"message": "worker restarted"}))
        await asyncio.sleep(0.5)
        assert not pending.done()
        await db.execute(SUCCEEDED_SQL, job_id, json.dumps({"status": "COMPLETED"}))
        response = await asyncio.wait_for(pending, timeout=30)
    finally:
        await listener.close()

    assert response.status_code == 200, response.text
    assert response.json()["data"]["jobId"] == job_id


async def test_without_a_live_matching_worker_triggers_answer_503_at_once(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    admin = await make_admin()
    await client.get("/api/v1/readyz")  # re-reads worker_heartbeats (emptied by `db`)

    cron = await client.post(f"{BASE}/trigger-matching", headers=CRON)
    manual = await client.post(f"{BASE}/manual-trigger", headers=bearer(admin))

    for response in (cron, manual):
        assert response.status_code == 503, response.text
        assert response.json() == {"ok": False, "error": "Matching workers unavailable"}
        assert int(response.headers["retry-after"]) >= 1
    assert not await Job.filter(actor_name="run_matching").exists()


async def test_triggers_past_the_deadline_answer_202_and_join_the_queued_run(
    impatient_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await worker_alive(impatient_client)
    admin = await make_admin()

    first = await impatient_client.post(f"{BASE}/trigger-matching", headers=CRON)
    second = await impatient_client.post(f"{BASE}/manual-trigger", headers=bearer(admin))

    assert first.status_code == 202
    body = first.json()
    job_id = body["data"]["jobId"]
    assert body == {
        "ok": True,
        "message": "Waitlist matching accepted",
        "data": {"jobId": job_id, "status": "queued", "statusUrl": f"/api/v1/jobs/{job_id}"},
    }
    assert second.json()["data"]["jobId"] == job_id
    assert await Job.filter(actor_name="run_matching").count() == 1


async def test_a_running_run_or_one_with_overrides_is_not_joined(
    impatient_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await worker_alive(impatient_client)
    running = await Job.create(
        actor_name="run_matching", queue_name="matching", status=JobStatus.RUNNING, args={}
    )
    tuned = await Job.create(
        actor_name="run_matching",
        queue_name="matching",
        args={"overrides": {"patientsPerScreeningType": 5}},
    )

    response = await impatient_client.post(f"{BASE}/trigger-matching", headers=CRON)

    job_id = response.json()["data"]["jobId"]
    assert job_id not in (str(running.id), str(tuned.id))
    assert await Job.filter(actor_name="run_matching").count() == 3


async def test_triggers_refuse_wrong_keys_and_roles(client: httpx.AsyncClient) -> None:
    no_key = await client.post(f"{BASE}/trigger-matching")
    wrong_key = await client.post(f"{BASE}/trigger-matching", headers={"x-api-key": "guess"})
    patient = await client.post(f"{BASE}/manual-trigger", headers=bearer(await make_patient()))
    anonymous = await client.post(f"{BASE}/manual-trigger")

    for response in (no_key, wrong_key):
        assert response.status_code == 401
        assert response.json() == {"error": "Unauthorized"}
    assert patient.status_code == 403
    assert anonymous.status_code == 401
    assert not await Job.filter(actor_name="run_matching").exists()


async def test_a_queued_run_nobody_picks_up_turns_the_status_to_error(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await make_execution()
    job = await Job.create(actor_name="run_matching", queue_name="matching", args={})
    await db.execute(
        "UPDATE jobs SET updated_at = now() - interval '6 minutes' WHERE id = $1", job.id
    )

    body = (await client.get(f"{BASE}/matching-status")).json()

    assert body["status"] == "error"
